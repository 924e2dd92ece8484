import { readFile } from 'node:fs/promises';
import type Dockerode from 'dockerode';
import { loopbackServiceAddress } from '../../host/net.js';
import { dropHostPageCache } from '../../host/page-cache.js';
import { PlatformUnavailableError, type PlatformInfo, type StartedPlatform } from '../platform.js';
import { tarOf } from './archive.js';
import { execInContainer } from './container-exec.js';
import { CRUN_RUNTIME, crunCgroupsNote } from './crun.js';
import { CONTAINER_PORT, type DockerFacts } from './facts.js';
import { GVISOR_PLATFORM, GVISOR_RUNTIME, GVISOR_UNSUPPORTED, gvisorForkFits, readHostPidFacts } from './gvisor.js';
import { WORK_DIR } from './image.js';
import { buildProgram } from '../../workloads/build.js';
import { describeUserImage, userImageLacks, userImageTools } from './user-image-facts.js';
import { findInContainer, IDLE_PATH } from './container-files.js';

/*
 * A worker's side: the running container, reached with the facts provision() handed over.
 */

export async function connectDocker(name: string, facts: DockerFacts): Promise<StartedPlatform> {
  const { dockerClient } = await import('./docker-client.js');
  const docker = dockerClient(facts.dockerHost);
  const state = await docker
    .getContainer(facts.containerId)
    .inspect()
    .then((i) => i.State)
    .catch(() => undefined);
  if (!state?.Running) {
    throw new PlatformUnavailableError(`container ${facts.containerId.slice(0, 12)} is ${state ? state.Status : 'gone'}`, {
      platform: name,
    });
  }
  let info: PlatformInfo | undefined;
  // The user's image may lack the tools the workloads use and have no shell to ask: looked for through the engine.
  const user = facts.userImage ? await userImageTools(docker, facts.containerId) : undefined;
  // The arm64 image has nothing but our idle program (arm64.ts), which also serves as its `timeout`.
  const arm64 = facts.arch === 'arm64' ? await import('./arm64.js') : undefined;
  const { setContainerPaused, containerCpuSources } = await import('./container-pause.js');
  // Left paused by a worker that died between turns (its close() never ran): a paused container cannot exec.
  if (state.Paused) await setContainerPaused(docker, facts.containerId, false, name);
  let frozen = false;
  const setFrozen = async (paused: boolean) => {
    if (frozen === paused) return;
    await setContainerPaused(docker, facts.containerId, paused, name);
    frozen = paused;
  };

  return {
    name,
    workDir: WORK_DIR,
    exec: (argv, options = {}) =>
      execInContainer(docker, facts.containerId, argv, {
        cwd: options.cwd ?? WORK_DIR,
        timeoutMs: options.timeoutMs,
        platform: name,
        ...(user || arm64 ? { timeoutProgram: IDLE_PATH } : {}),
      }),
    ...(user ? { findCommand: (command: string) => findInContainer(docker, facts.containerId, command, user.path) } : {}),
    ...(arm64 ? { buildProgram: (source: string, cacheDir: string) => buildProgram(source, cacheDir, { arch: arm64.ARM64_ARCH }) } : {}),
    async copyIn(hostPath, fileName, options = {}) {
      const archive = await tarOf([{ name: fileName, data: await readFile(hostPath), mode: options.executable ? 0o755 : 0o644 }]);
      await docker.getContainer(facts.containerId).putArchive(archive, { path: WORK_DIR });
      return `${WORK_DIR}/${fileName}`;
    },
    async serviceAddress() {
      if (!facts.publishAddress) throw new PlatformUnavailableError(unreachablePorts(facts), { platform: name });
      // On the host network the container is in the host's own network namespace: loopback keeps others out.
      if (facts.network === 'host' && facts.engineLocal) return loopbackServiceAddress();
      // Another machine's network namespace: the server listens on its address, where this machine reaches it.
      if (facts.network === 'host') {
        const port = 20_000 + Math.floor(Math.random() * 12_000);
        return { listen: `${facts.publishAddress}:${port}`, host: facts.publishAddress, port };
      }
      // Nothing published: the host reaches the container's own address on our bridge (no NAT, no proxy).
      if (facts.network === 'private-bridge') {
        return {
          listen: `${facts.containerAddress}:${CONTAINER_PORT}`,
          host: facts.containerAddress,
          port: CONTAINER_PORT,
          allowFrom: facts.bridgeGateway,
        };
      }
      // Not 0.0.0.0, and only the host's end of the bridge: our private dockerd adds no iptables rules,
      // so anything that routes to the bridge would reach the server around the 127.0.0.1-only publish.
      return {
        listen: `${facts.containerAddress}:${CONTAINER_PORT}`,
        host: facts.publishAddress,
        port: facts.hostPort,
        allowFrom: facts.bridgeGateway,
      };
    },
    async flushCaches() {
      // gVisor keeps file data in its own kernel's memory, which the host's drop_caches does not reach.
      if (facts.runtime === GVISOR_RUNTIME) return false;
      // A container shares its engine's kernel and page cache: when that is this kernel, the host can flush it;
      // another machine's is reported as not flushed.
      if (!facts.engineLocal) return false;
      return dropHostPageCache();
    },
    async describe() {
      info ??= {
        ...(await describeDocker(docker, facts)),
        ...(user ? await describeUserImage(docker, facts) : {}),
        ...(arm64 ? await arm64.describeArm64(docker, facts.imageId) : {}),
      };
      return info;
    },
    unsupported(workload, profile) {
      if (workload.kind === 'served' && !facts.publishAddress) return unreachablePorts(facts);
      const lacking = (user && userImageLacks(user, workload, facts.image)) || arm64?.arm64Unsupported(workload);
      if (lacking) return lacking;
      if (facts.runtime !== GVISOR_RUNTIME) return undefined;
      // The host's PIDs are the engine's only when it runs here.
      const pids = workload.name === 'fork' && profile && facts.engineLocal ? readHostPidFacts() : undefined;
      if (pids) return gvisorForkFits(2 * (profile!.fork.end - profile!.fork.start), profile!.runs, pids);
      return GVISOR_UNSUPPORTED[workload.name];
    },
    // Paused between turns: a paused container cannot exec, so thaw() comes before the next command.
    freeze: () => setFrozen(true),
    thaw: () => setFrozen(false),
    // Cgroups and pids are this host's only when the engine runs here.
    cpuSources: async () => (facts.engineLocal ? containerCpuSources(docker, facts) : []),
    async close() {
      // The next bench file's connect finds the container running; one already gone needs nothing.
      if (frozen) await setFrozen(false).catch(() => {});
    },
  };
}

/** Why this machine cannot reach the ports of an engine elsewhere reached through a unix socket, and the fix. */
function unreachablePorts(facts: DockerFacts): string {
  return (
    `the Docker engine runs on ${facts.engineWhere}, and publishes ports on that machine's 127.0.0.1, which this machine cannot reach; ` +
    'fix: reach the engine as DOCKER_HOST=tcp://<its address>:2375 (TLS: DOCKER_TLS_VERIFY=1), so that it publishes on that address'
  );
}

async function describeDocker(docker: Dockerode, facts: DockerFacts): Promise<PlatformInfo> {
  const info = await docker.info();
  const podman = facts.engineSource === 'private podman';
  return {
    engine: `${podman ? 'Podman' : 'Docker'} ${info.ServerVersion}`,
    engineSource: facts.engineSource,
    engineHost: facts.engineWhere,
    storageDriver: info.Driver,
    cgroupDriver: `${info.CgroupDriver} (cgroup v${info.CgroupVersion ?? '?'})`,
    kernel: info.KernelVersion,
    network:
      facts.network === 'host'
        ? 'host network'
        : facts.network === 'private-bridge'
          ? `bridge (CNI, no NAT); the host connects to ${facts.containerAddress}:${CONTAINER_PORT}`
          : `bridge; ${facts.publishAddress || '127.0.0.1 of the engine host'}:${facts.hostPort} published to ${CONTAINER_PORT}`,
    workDir:
      facts.storage === 'volume' ? `${WORK_DIR} on a docker volume (local driver)` : `${WORK_DIR} in the container layer (${info.Driver})`,
    image: facts.image,
    imageId: facts.imageId.replace(/^sha256:/, '').slice(0, 12),
    cpus: info.NCPU,
    memoryGiB: Math.round(info.MemTotal / 2 ** 30),
    ...(podman ? { runtime: (info as { DefaultRuntime?: string }).DefaultRuntime ?? 'unknown' } : {}),
    ...(facts.runtime ? { runtime: facts.runtime, ...runtimeFacts(facts.runtime, info) } : {}),
  };
}

/** What the engine says of a variant's runtime: the program it runs, and what that implies. */
function runtimeFacts(runtime: string, info: { Runtimes?: Record<string, { path?: string }> }): PlatformInfo {
  const path = info.Runtimes?.[runtime]?.path;
  const cgroups = runtime === CRUN_RUNTIME ? crunCgroupsNote(path) : undefined;
  return {
    ...(path ? { runtimePath: path } : {}),
    ...(cgroups ? { runtimeCgroups: cgroups } : {}),
    ...(runtime === GVISOR_RUNTIME ? { gvisorPlatform: GVISOR_PLATFORM } : {}),
  };
}
