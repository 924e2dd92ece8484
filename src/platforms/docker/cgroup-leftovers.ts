import { readdirSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

/*
 * Podman 4.3 with the cgroupfs manager and no systemd leaves a container's cgroups behind once the
 * container is removed: an empty libpod-<id> under libpod_parent in every hierarchy (ten on this
 * machine's hybrid layout), a few hundred after a day of runs. What the engine does not remove, the
 * platform that started the container does, and only that container's.
 */

const CGROUP_ROOT = '/sys/fs/cgroup';

/** The container's cgroup directories under libpod_parent, children before their parents. */
export function libpodCgroupDirs(containerId: string, root = CGROUP_ROOT): string[] {
  if (!/^[0-9a-f]{64}$/.test(containerId)) return [];
  const name = `libpod-${containerId}`;
  // cgroup v2 mounts the hierarchy at the root itself; v1 and hybrid have one directory per controller.
  const hierarchies = [root, ...subdirs(root).map((d) => join(root, d))];
  return hierarchies.flatMap((hierarchy) => {
    const dir = join(hierarchy, 'libpod_parent', name);
    return [...descendants(dir), dir].filter((d) => exists(d));
  });
}

/** Removes the container's cgroups where they are empty (a cgroup with processes refuses rmdir); synchronous, for exit handlers too. */
export function removeLibpodCgroupsSync(containerId: string, root = CGROUP_ROOT): void {
  for (const dir of libpodCgroupDirs(containerId, root)) {
    try {
      rmdirSync(dir);
    } catch {
      // still in use, or already gone
    }
  }
}

function subdirs(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
}

function descendants(dir: string): string[] {
  return subdirs(dir).flatMap((name) => [...descendants(join(dir, name)), join(dir, name)]);
}

function exists(dir: string): boolean {
  try {
    readdirSync(dir);
    return true;
  } catch {
    return false;
  }
}
