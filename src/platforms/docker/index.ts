import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BadOptionError, isVirtbenchError } from '../../errors.js';
import { loopbackServiceAddress } from '../../host/net.js';
import { findExecutable } from '../../host/process.js';
import { dropHostPageCache } from '../../host/page-cache.js';
import { stopOnce } from '../../host/stop-once.js';
import {
  PlatformUnavailableError,
  factsCodec,
  installFix,
  type ConnectionFacts,
  type HostRequirements,
  type FactsCodec,
  type FactsOf,
  type Platform,
  type PlatformFamily,
  type PlatformInfo,
  type ProvisionContext,
  type Provisioned,
  type StartedPlatform,
} from '../platform.js';
import { tarOf } from './archive.js';
import { removeLibpodCgroupsSync } from './cgroup-leftovers.js';
import { BRIDGE, PODMAN_BRIDGE } from './bridge.js';
import { execInContainer } from './container-exec.js';
import { locateEngine, type EngineLocation } from './engine-location.js';
import type Dockerode from 'dockerode';
import type { Engine } from './engine.js';
import { GVISOR_PLATFORM, GVISOR_RUNTIME, GVISOR_UNSUPPORTED, gvisorForkFits, readHostPidFacts } from './gvisor.js';
import { ensureImage, WORK_DIR } from './image.js';
import { SESSION_LABEL } from './labels.js';
import type { NetworkMode, WorkDirStorage } from './session-container.js';

/*
 * A container from a locally built image, one per project run. The main
 * process builds the image and starts the container (testcontainers); the
 * workers reach it with plain facts (engine URL, container id) and run
 * workloads through `docker exec` over the API.
 *
 * Variants answer the report's questions about Docker's costs:
 *   docker          work directory in the container's overlay2 layer, a served workload behind a published port
 *   docker-volume   work directory on a docker volume (no copy-on-write layer)
 *   docker-hostnet  host network: no veth, bridge or docker-proxy between the host and a served workload
 *   docker-gvisor   the same container under gVisor's runsc
 *   podman          the same image and container through Podman's Docker-compatible API (crun, no daemon
 *                   owning the container); on a bridge of ours, reached at its own address (see private-podman.ts)
 */

export type DockerVariant = 'layer' | 'volume' | 'hostnet' | 'gvisor' | 'podman';

/** A served workload's port inside the container's own network namespace. */
const CONTAINER_PORT = 8080;

interface Variant {
  name: string;
  storage: WorkDirStorage;
  network: NetworkMode;
  /** The engine's OCI runtime by its registered name; the engine's default (runc) when absent. */
  runtime?: string;
  /** Which engine: a Docker engine (found or started, engine.ts), or the private podman service. */
  engine?: 'docker' | 'podman';
}

const VARIANTS: Record<DockerVariant, Variant> = {
  layer: { name: 'docker', storage: 'layer', network: 'bridge' },
  volume: { name: 'docker-volume', storage: 'volume', network: 'bridge' },
  hostnet: { name: 'docker-hostnet', storage: 'layer', network: 'host' },
  // Every system call goes through gVisor's user-space kernel: not a variant of docker in the
  // variants.ts sense (it changes every resource), so it measures every benchmark.
  gvisor: { name: 'docker-gvisor', storage: 'layer', network: 'bridge', runtime: GVISOR_RUNTIME },
  // Not a variant either: another engine, runtime (crun) and network path; it measures every benchmark.
  podman: { name: 'podman', storage: 'layer', network: 'private-bridge', engine: 'podman' },
};

/**
 * What a worker needs to reach the container. storage and network are the
 * variant's; on the host network hostPort is 0 and the bridge addresses are empty.
 */
const FACT_FIELDS = {
  dockerHost: 'string',
  engineSource: 'string',
  containerId: 'string',
  image: 'string',
  imageId: 'string',
  storage: 'string',
  network: 'string',
  hostPort: 'number',
  /** The container's own address on the bridge: the served workload listens there only. */
  containerAddress: 'string',
  /** The host's end of the bridge, where docker-proxy (or the engine's NAT) connects from: the only peer let in. */
  bridgeGateway: 'string',
  /** The OCI runtime, '' for the engine's default. */
  runtime: 'string',
  /** The engine runs on this kernel (engine-location.ts): its page cache and PIDs are this machine's. */
  engineLocal: 'boolean',
  /** Where the engine publishes the port and this machine connects: 127.0.0.1, a remote engine's address, or '' (unreachable). */
  publishAddress: 'string',
  /** Where the engine runs, for the report. */
  engineWhere: 'string',
} as const;

type DockerFacts = FactsOf<typeof FACT_FIELDS>;

/** env: where DOCKER_HOST is read (tests pass their own). */
export function createDockerPlatform(variant: DockerVariant = 'layer', options: { env?: NodeJS.ProcessEnv } = {}): Platform {
  const chosen = VARIANTS[variant];
  const env = options.env ?? process.env;
  const facts = factsCodec(chosen.name, FACT_FIELDS);
  return {
    name: chosen.name,
    // The engine modules bring dockerode (a quarter of a second to import): loaded where used, so a
    // worker of another platform, which loads this family with the registry, does not pay for it.
    availability: async () => {
      if (chosen.engine === 'podman') return (await import('./engine.js')).podmanAvailability();
      const engine = await (await import('./engine.js')).engineAvailability(env);
      if (!engine.available || !chosen.runtime) return engine;
      // Only the private dockerd is ours to give runsc to; another engine is asked when provisioning.
      return env.DOCKER_HOST || findExecutable('runsc')
        ? engine
        : { available: false, reason: `gVisor's runsc is not installed; fix: ${installFix('runsc')}` };
    },
    provision: (context) => provisionDocker(chosen, facts, context, env),
    connect: async (encoded) => connectDocker(chosen.name, facts.decode(encoded)),
  };
}

/*
 * What the host needs (virtbench setup). No registry is reachable, so the image's root file system comes
 * from debootstrap; iproute2 makes our own bridge (the private dockerd's, the podman platform's). A machine
 * with Docker already (docker-ce, whose containerd.io conflicts with docker.io) keeps its own.
 */
const DOCKER: HostRequirements = {
  packages: ['debootstrap', 'debian-archive-keyring', 'iproute2', 'docker.io | docker-ce'],
  bridge: BRIDGE,
};

const REQUIREMENTS: Record<DockerVariant, HostRequirements> = {
  layer: DOCKER,
  volume: DOCKER,
  hostnet: DOCKER,
  // gVisor's runsc, which the private dockerd registers as a runtime.
  gvisor: { ...DOCKER, packages: [...DOCKER.packages, 'runsc'] },
  // Rootful Podman 4.3 (crun, conmon) serving the Docker API; CNI's bridge plugin puts the container on a
  // bridge of ours; catatonit reaps its servers, as docker-init does for docker.
  podman: {
    packages: ['debootstrap', 'debian-archive-keyring', 'iproute2', 'podman', 'crun', 'containernetworking-plugins', 'catatonit'],
    root: 'rootful Podman',
    bridge: PODMAN_BRIDGE,
  },
};

export const dockerPlatforms: PlatformFamily = {
  names: Object.values(VARIANTS).map((v) => v.name),
  requirements: Object.fromEntries((Object.keys(VARIANTS) as DockerVariant[]).map((v) => [VARIANTS[v].name, REQUIREMENTS[v]])),
  create(name) {
    const variant = (Object.keys(VARIANTS) as DockerVariant[]).find((v) => VARIANTS[v].name === name);
    if (!variant) throw new BadOptionError(`unknown docker platform "${name}"`);
    return createDockerPlatform(variant);
  },
  variants: {
    'docker-volume': {
      base: 'docker',
      varies: ['disk'],
      changes: 'where the work directory lives (a docker volume instead of the copy-on-write layer)',
    },
    'docker-hostnet': { base: 'docker', varies: ['network'], changes: "the network (the host's, no bridge or proxy)" },
  },
  questions: [
    {
      question: "What does gVisor's system call interception (runsc, ptrace) cost?",
      comparisons: [
        { platform: 'docker-gvisor', against: 'docker', benchmarks: ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'nginx'] },
      ],
    },
    {
      // Same image, kernel and overlay storage; the runtime is runc for both here (see private-podman.ts). For
      // nginx Podman's container is reached at its own bridge address, Docker's through docker-proxy.
      question: 'Does Podman (no daemon owning the container) cost differently from Docker?',
      comparisons: [
        {
          platform: 'podman',
          against: 'docker',
          benchmarks: ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'disk-copyup', 'nginx'],
        },
      ],
    },
    { question: 'Does Docker cost CPU or memory?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['cpu', 'mem'] }] },
    {
      question: 'Where does copy-on-write cost?',
      comparisons: [
        { platform: 'docker', against: 'native', benchmarks: ['disk-copyup'] },
        { platform: 'docker', against: 'docker-volume', benchmarks: ['disk-copyup', 'disk-random'] },
      ],
    },
    {
      question: "What does Docker's network path cost?",
      comparisons: [
        { platform: 'docker', against: 'docker-hostnet', benchmarks: ['nginx'] },
        { platform: 'docker-hostnet', against: 'native', benchmarks: ['nginx'] },
      ],
    },
  ],
};

/** The engine's answer when a container does not start, as an error that names the platform (and its runtime). */
function cannotStart(platform: string, runtime: string | undefined, error: unknown): Error {
  if (isVirtbenchError(error)) return error;
  const message = String((error as { json?: { message?: unknown } }).json?.message ?? (error as Error).message);
  // A runtime that cannot run a container on this machine makes the platform unavailable here, not the run fail.
  if (runtime) {
    return new PlatformUnavailableError(
      platform,
      `the Docker engine could not start a container under ${runtime}: ${message}; fix: see the engine's log, or run without --project ${platform}`,
    );
  }
  return new PlatformUnavailableError(`the Docker engine could not start the benchmark container: ${message}`, {
    platform,
    cause: error,
  });
}

/** The engine must know the variant's runtime; otherwise the platform is skipped with the reason. */
async function requireRuntime(engine: Engine, platform: string, runtime: string): Promise<void> {
  const runtimes = Object.keys(((await engine.docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
  if (runtimes.includes(runtime)) return;
  const fix =
    engine.source === 'private dockerd'
      ? `the private dockerd was started without it (runsc was not installed then): let the runs that use it finish, then run again (it starts anew with runsc); or apt-get install runsc`
      : `register it with that engine (dockerd --add-runtime ${runtime}=/usr/bin/runsc), or unset DOCKER_HOST to use virtbench's private dockerd`;
  throw new PlatformUnavailableError(
    platform,
    `the Docker engine (${engine.source}) has no "${runtime}" runtime (it has ${runtimes.join(', ') || 'none'}); fix: ${fix}`,
  );
}

async function provisionDocker(
  { name, storage, network, runtime, engine: engineKind }: Variant,
  codec: FactsCodec<DockerFacts>,
  context: ProvisionContext,
  env: NodeJS.ProcessEnv,
): Promise<Provisioned> {
  // Loaded here: testcontainers takes half a second to import, and only the main process needs it.
  const { bridgeEndpoint, publishedPort, removeStaleContainers, startSessionContainer, startSessionContainerDirect } =
    await import('./session-container.js');
  const [{ acquireEngine, acquirePodmanEngine }, { removeContainersSync }] = await Promise.all([
    import('./engine.js'),
    import('./docker-client.js'),
  ]);
  const engine = engineKind === 'podman' ? await acquirePodmanEngine(context) : await acquireEngine(context, env);
  const session = randomUUID();
  try {
    await removeStaleContainers(engine.docker, context.log);
    if (runtime) await requireRuntime(engine, name, runtime);
    // The private podman service is ours, on this machine.
    const location: EngineLocation =
      engineKind === 'podman'
        ? { local: true, publishAddress: '127.0.0.1', describe: 'this machine' }
        : await locateEngine(engine.docker, engine.dockerHost);
    if (!location.local) context.log(`the engine runs on another machine: ${location.describe}`);
    const image = await ensureImage(engine.docker, context, { engine: engine.dockerHost, build: engine.buildImage });
    const started = performance.now();
    const plan = {
      platform: name,
      session,
      image: image.tag,
      storage,
      network,
      workDir: WORK_DIR,
      port: CONTAINER_PORT,
      runtime,
      networkName: engine.network,
      ulimits: engine.ulimits,
      publishOn: location.publishAddress || '127.0.0.1',
    };
    const start =
      engineKind === 'podman' ? startSessionContainerDirect(engine.docker, plan) : startSessionContainer(engine.dockerHost, plan);
    const container = await start.catch((error: unknown) => {
      throw cannotStart(name, runtime, error);
    });
    const containerId = container.getId();
    const inspect = await engine.docker.getContainer(containerId).inspect();
    const hostPort = network === 'bridge' ? publishedPort(inspect, CONTAINER_PORT, plan.publishOn) : 0;
    const bridge = network === 'host' ? { address: '', gateway: '' } : bridgeEndpoint(inspect);
    context.log(
      `container ${containerId.slice(0, 12)} started in ${Math.round(performance.now() - started)} ms (${engine.source}, ${image.tag})`,
    );
    const facts = codec.encode({
      dockerHost: engine.dockerHost,
      engineSource: engine.source,
      containerId,
      image: image.tag,
      imageId: image.id,
      storage,
      network,
      hostPort,
      containerAddress: bridge.address,
      bridgeGateway: bridge.gateway,
      runtime: runtime ?? '',
      engineLocal: location.local,
      publishAddress: location.publishAddress,
      engineWhere: location.describe,
    });
    return owner(engine, containerId, facts, removeContainersSync);
  } catch (error) {
    // By label: the container may exist even when starting it failed half way.
    removeContainersSync(engine.dockerHost, [], `${SESSION_LABEL}=${session}`);
    await engine.release();
    throw error;
  }
}

/**
 * A container paused between turns is removed all the same, but a paused gVisor sandbox does not
 * take the kill: the engine gave up on it only after 10 s (runc's frozen cgroup goes at once).
 */
async function unpauseForRemoval(docker: Dockerode, containerId: string): Promise<void> {
  await docker
    .getContainer(containerId)
    .unpause()
    .catch(() => {}); // not paused, or gone
}

/** Stops exactly what provision started, once: the container (with its volume), then our share of the engine. */
function owner(
  engine: Engine,
  containerId: string,
  facts: ConnectionFacts,
  removeContainersSync: (dockerHost: string, ids: string[]) => void,
): Provisioned {
  const teardown = stopOnce({
    async stop() {
      try {
        await unpauseForRemoval(engine.docker, containerId);
        await engine.docker.getContainer(containerId).remove({ force: true, v: true });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) removeContainersSync(engine.dockerHost, [containerId]);
      } finally {
        removeLibpodCgroupsSync(containerId);
        await engine.release();
      }
    },
    stopSync() {
      removeContainersSync(engine.dockerHost, [containerId]);
      removeLibpodCgroupsSync(containerId);
      engine.releaseSync();
    },
  });
  return { facts, stop: teardown.stop, stopSync: teardown.stopSync };
}

async function connectDocker(name: string, facts: DockerFacts): Promise<StartedPlatform> {
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
      execInContainer(docker, facts.containerId, argv, { cwd: options.cwd ?? WORK_DIR, timeoutMs: options.timeoutMs, platform: name }),
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
      info ??= await describeDocker(docker, facts);
      return info;
    },
    unsupported(workload, profile) {
      if (workload.kind === 'served' && !facts.publishAddress) return unreachablePorts(facts);
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
    ...(facts.runtime ? { runtime: facts.runtime, ...(facts.runtime === GVISOR_RUNTIME ? { gvisorPlatform: GVISOR_PLATFORM } : {}) } : {}),
  };
}
