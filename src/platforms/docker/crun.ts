import { readFileSync } from 'node:fs';

/*
 * crun (docker-crun): the same container under Debian's crun instead of runc, registered with the
 * private dockerd as a runtime. crun 1.8 refuses to run on a host with hybrid cgroups (cgroup v1, and
 * a controller such as hugetlb on the cgroup2 mount at /sys/fs/cgroup/unified): "cgroups in hybrid
 * mode not supported, drop all controllers from cgroupv2". There the private dockerd runs crun through
 * a wrapper that hides that one mount from it, in a mount namespace of its own per call: crun then
 * sees the host's cgroup v1 hierarchies only, which is where runc puts the container on such a host.
 */

/** The runtime name docker-crun's containers ask the engine for. */
export const CRUN_RUNTIME = 'crun';

/** Where the private dockerd writes the wrapper, in its run directory (private-dockerd.ts). */
export const CRUN_WRAPPER = '/run/virtbench-docker/crun';

/** Where a hybrid host mounts cgroup2 beside the v1 hierarchies. */
export const UNIFIED_MOUNT = '/sys/fs/cgroup/unified';

/** The controllers on a hybrid host's cgroup2 mount ('' for none); undefined where the host is not hybrid. */
export function unifiedControllers(): string | undefined {
  // Only the hybrid layout has /sys/fs/cgroup/unified; a pure cgroup2 host mounts it at /sys/fs/cgroup.
  try {
    return readFileSync(`${UNIFIED_MOUNT}/cgroup.controllers`, 'utf8');
  } catch {
    return undefined;
  }
}

/** Whether crun 1.8 refuses this cgroup layout (hybrid, with controllers on the cgroup2 mount). */
export function crunRefusesCgroups(controllers: string | undefined): boolean {
  return controllers !== undefined && controllers.trim() !== '';
}

/**
 * The runtime wrapper's text: crun, in a new private mount namespace where the cgroup2 mount is
 * lazily unmounted. Every call (create, start, exec, pause, kill, delete) goes through it; the state
 * directory and the v1 hierarchies are the host's, seen through the copied mounts.
 */
export function crunWrapper(crun: string, unshare: string): string {
  return [
    '#!/bin/sh',
    `# virtbench: ${crun} with ${UNIFIED_MOUNT} hidden (crun 1.8 refuses hybrid cgroups with controllers on cgroup2)`,
    `exec ${unshare} --mount --propagation private -- /bin/sh -c 'umount -l ${UNIFIED_MOUNT} && exec "$0" "$@"' ${crun} "$@"`,
    '',
  ].join('\n');
}

/** What describe() says of the runtime's path: the wrapper is named for what it does. */
export function crunCgroupsNote(runtimePath: string | undefined, wrapperPath = CRUN_WRAPPER): string | undefined {
  return runtimePath === wrapperPath ? `cgroup v1 only (${UNIFIED_MOUNT} hidden from crun, which refuses hybrid cgroups)` : undefined;
}
