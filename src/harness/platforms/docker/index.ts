import { randomUUID } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { release } from 'node:os';
import { VirtbenchError } from '../../../errors.js';
import { execInContainer } from './container-exec.js';
import { dockerClient, removeContainersSync } from './docker-client.js';
import { acquireEngine, engineAvailability, type Engine } from './engine.js';
import { ensureImage } from './image.js';
import { SESSION_LABEL } from './labels.js';
import type { NetworkMode, WorkDirStorage } from './session-container.js';
import { tarArchive } from './tar.js';
import { freeLoopbackPort } from '../../host/net.js';
import type { ConnectionFacts, Platform, PlatformInfo, ProvisionContext, Provisioned, StartedPlatform } from '../../platform.js';

/*
 * A container from a locally built image, one per project run. The main
 * process builds the image and starts the container (testcontainers); the
 * workers reach it with plain facts (engine URL, container id) and run
 * workloads through `docker exec` over the API.
 *
 * Variants answer the report's questions about Docker's costs:
 *   docker          work directory in the container's overlay2 layer, nginx behind a published port
 *   docker-volume   work directory on a docker volume (no copy-on-write layer)
 *   docker-hostnet  host network: no veth, bridge or docker-proxy between host and nginx
 */

export type DockerVariant = 'layer' | 'volume' | 'hostnet';

const WORK_DIR = '/bench';
/** nginx's port inside the container's own network namespace. */
const CONTAINER_PORT = 8080;

const VARIANTS: Record<DockerVariant, { name: string; storage: WorkDirStorage; network: NetworkMode }> = {
  layer: { name: 'docker', storage: 'layer', network: 'bridge' },
  volume: { name: 'docker-volume', storage: 'volume', network: 'bridge' },
  hostnet: { name: 'docker-hostnet', storage: 'layer', network: 'host' },
};

interface DockerFacts {
  dockerHost: string;
  engineSource: string;
  containerId: string;
  image: string;
  imageId: string;
  storage: WorkDirStorage;
  network: NetworkMode;
  /** 0 on the host network. */
  hostPort: number;
}

/** env: where DOCKER_HOST is read (tests pass their own). */
export function createDockerPlatform(variant: DockerVariant = 'layer', options: { env?: NodeJS.ProcessEnv } = {}): Platform {
  const { name, storage, network } = VARIANTS[variant];
  const env = options.env ?? process.env;
  return {
    name,
    availability: () => engineAvailability(env),
    provision: (context) => provisionDocker(name, storage, network, context, env),
    async connect(facts) {
      return connectDocker(name, facts as unknown as DockerFacts);
    },
  };
}

async function provisionDocker(
  name: string,
  storage: WorkDirStorage,
  network: NetworkMode,
  context: ProvisionContext,
  env: NodeJS.ProcessEnv,
): Promise<Provisioned> {
  // Loaded here: testcontainers takes half a second to import, and only the main process needs it.
  const { publishedPort, removeStaleContainers, startSessionContainer } = await import('./session-container.js');
  const engine = await acquireEngine(context, env);
  const session = randomUUID();
  try {
    await removeStaleContainers(engine.docker, context.log);
    const image = await ensureImage(engine.docker, context);
    const started = performance.now();
    const plan = { platform: name, session, image: image.tag, storage, network, workDir: WORK_DIR, port: CONTAINER_PORT };
    const container = await startSessionContainer(engine.dockerHost, plan);
    const containerId = container.getId();
    const inspect = await engine.docker.getContainer(containerId).inspect();
    const hostPort = network === 'host' ? 0 : publishedPort(inspect, CONTAINER_PORT);
    context.log(`container ${containerId.slice(0, 12)} started in ${Math.round(performance.now() - started)} ms (${engine.source}, ${image.tag})`);
    const facts: DockerFacts = { dockerHost: engine.dockerHost, engineSource: engine.source, containerId, image: image.tag, imageId: image.id, storage, network, hostPort };
    return owner(engine, containerId, facts);
  } catch (error) {
    // By label: the container may exist even when starting it failed half way.
    removeContainersSync(engine.dockerHost, [], `${SESSION_LABEL}=${session}`);
    await engine.release();
    throw error;
  }
}

/** Stops exactly what provision started: the container (with its volume), then our share of the engine. */
function owner(engine: Engine, containerId: string, facts: DockerFacts): Provisioned {
  let stopped = false;
  return {
    facts: facts as unknown as ConnectionFacts,
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        await engine.docker.getContainer(containerId).remove({ force: true, v: true });
      } catch (error) {
        if ((error as { statusCode?: number }).statusCode !== 404) removeContainersSync(engine.dockerHost, [containerId]);
      } finally {
        await engine.release();
      }
    },
    stopSync() {
      if (stopped) return;
      stopped = true;
      removeContainersSync(engine.dockerHost, [containerId]);
      engine.releaseSync();
    },
  };
}

async function connectDocker(name: string, facts: DockerFacts): Promise<StartedPlatform> {
  const docker = dockerClient(facts.dockerHost);
  const state = await docker
    .getContainer(facts.containerId)
    .inspect()
    .then((i) => i.State)
    .catch(() => undefined);
  if (!state?.Running) {
    throw new VirtbenchError('VIRTBENCH_PLATFORM_UNAVAILABLE', `container ${facts.containerId.slice(0, 12)} is ${state ? state.Status : 'gone'}`, {
      platform: name,
    });
  }
  let info: PlatformInfo | undefined;
  let engineKernel: string | undefined;

  const platform: StartedPlatform = {
    name,
    workDir: WORK_DIR,
    exec: (argv, options = {}) => execInContainer(docker, facts.containerId, argv, { cwd: options.cwd ?? WORK_DIR, timeoutMs: options.timeoutMs }),
    async copyIn(hostPath, fileName, options = {}) {
      const data = await readFile(hostPath);
      const archive = tarArchive([{ name: fileName, data, mode: options.executable ? 0o755 : 0o644 }]);
      await docker.getContainer(facts.containerId).putArchive(archive, { path: WORK_DIR });
      return `${WORK_DIR}/${fileName}`;
    },
    async serviceAddress() {
      if (facts.network === 'host') {
        // Same network namespace as the host: nginx binds loopback directly.
        const port = await freeLoopbackPort();
        return { listen: `127.0.0.1:${port}`, host: '127.0.0.1', port };
      }
      return { listen: `0.0.0.0:${CONTAINER_PORT}`, host: '127.0.0.1', port: facts.hostPort };
    },
    async flushCaches() {
      // A container shares the host's kernel and page cache: when the engine runs on this kernel, the host can flush it.
      engineKernel ??= (await docker.info()).KernelVersion as string;
      if (!facts.dockerHost.startsWith('unix://') || engineKernel !== release()) return false;
      const sync = await platform.exec(['sync'], { timeoutMs: 120_000 });
      if (sync.exitCode !== 0) return false;
      try {
        await writeFile('/proc/sys/vm/drop_caches', '3\n');
        return true;
      } catch {
        return false; // not root
      }
    },
    async describe() {
      info ??= await describeDocker(docker, facts);
      return info;
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
  return platform;
}

async function describeDocker(docker: ReturnType<typeof dockerClient>, facts: DockerFacts): Promise<PlatformInfo> {
  const info = await docker.info();
  return {
    engine: `Docker ${info.ServerVersion}`,
    engineSource: facts.engineSource,
    storageDriver: info.Driver,
    cgroupDriver: `${info.CgroupDriver} (cgroup v${info.CgroupVersion ?? '?'})`,
    kernel: info.KernelVersion,
    network: facts.network === 'host' ? 'host network' : `bridge; 127.0.0.1:${facts.hostPort} published to ${CONTAINER_PORT}`,
    workDir: facts.storage === 'volume' ? `${WORK_DIR} on a docker volume (local driver)` : `${WORK_DIR} in the container layer (${info.Driver})`,
    image: facts.image,
    imageId: facts.imageId.replace(/^sha256:/, '').slice(0, 12),
    cpus: info.NCPU,
    memoryGiB: Math.round(info.MemTotal / 2 ** 30),
  };
}
