import { basename } from 'node:path';
import type Dockerode from 'dockerode';
import { GuestLostError } from '../../errors.js';
import { cgroupOf, type CpuSource } from '../../host/cpu-time.js';
import { processesWhere } from '../../host/process.js';
import { privateDockerdPids } from './private-dockerd.js';
import { serviceProcess } from './private-podman.js';

/*
 * Quiet turns for a container: between its platform's turns the session container is paused through
 * the engine (`docker pause`: runc freezes its cgroup; gVisor's runsc pauses its sandbox's kernel, seen
 * to work with Debian's runsc 20221219 here), and what it costs is read from its cgroup and from the
 * engine's own processes on this host.
 */

/** Pauses or unpauses the container; already so is fine (Docker answers 409 to a second pause, Podman 500). */
export async function setContainerPaused(docker: Dockerode, containerId: string, paused: boolean, platform: string): Promise<void> {
  const container = docker.getContainer(containerId);
  try {
    await (paused ? container.pause() : container.unpause());
  } catch (error) {
    const state = await container
      .inspect()
      .then((info) => info.State)
      .catch(() => undefined);
    if (state?.Running && state.Paused === paused) return;
    throw new GuestLostError(
      `could not ${paused ? 'pause' : 'unpause'} container ${containerId.slice(0, 12)} (${state ? state.Status : 'it no longer exists'}): ` +
        `${String((error as { json?: { message?: unknown } }).json?.message ?? (error as Error).message)}\n` +
        "fix: something outside the run stopped or removed it, or the engine failed (see the engine's log); run again",
      { platform, cause: error },
    );
  }
}

/** The programs that serve a container from outside its cgroup. */
const SERVING_PROGRAMS = ['containerd-shim-runc-v2', 'containerd-shim', 'conmon'];

export interface EngineFacts {
  containerId: string;
  engineSource: string;
}

/**
 * The container's cgroup (its processes, gVisor's sandbox and gofer included), the processes that serve
 * it outside that cgroup (containerd's shim, Podman's conmon of the container and of each exec), and the
 * private engine's daemons. Those daemons serve every container of the engine: while another docker
 * variant of the same engine takes a sample, their time is mostly that variant's.
 */
export async function containerCpuSources(docker: Dockerode, facts: EngineFacts): Promise<CpuSource[]> {
  const init = await docker
    .getContainer(facts.containerId)
    .inspect()
    .then((info) => info.State.Pid)
    .catch(() => 0);
  const cgroup = init > 0 ? await cgroupOf(init) : undefined;
  // The shim's argv has "-id <container>", conmon's "-c <container>".
  const helpers = processesWhere(({ argv }) => SERVING_PROGRAMS.includes(basename(argv[0] ?? '')) && argv.includes(facts.containerId));
  const daemons =
    facts.engineSource === 'private dockerd'
      ? privateDockerdPids()
      : facts.engineSource === 'private podman'
        ? [serviceProcess()?.pid].filter((pid) => pid !== undefined)
        : [];
  return [...(cgroup ? [cgroup] : []), ...[...helpers.map((p) => p.pid), ...daemons].map((pid): CpuSource => ({ kind: 'process', pid }))];
}
