import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { sourceDir } from '../../host/paths.js';
import { stopOnce } from '../../host/stop-once.js';
import { buildProgram } from '../../workloads/build.js';
import { PlatformUnavailableError, type ConnectionFacts, FactsCodec, ProvisionContext, Provisioned } from '../platform.js';
import { ARM64_ARCH, ensureArm64Image } from './arm64.js';
import { removeLibpodCgroupsSync } from './cgroup-leftovers.js';
import { locateEngine, type EngineLocation } from './engine-location.js';
import type { Engine } from './engine.js';
import { CONTAINER_PORT, type DockerFacts, type Variant } from './facts.js';
import { ensureImage, WORK_DIR, type BenchImage } from './image.js';
import { SESSION_LABEL } from './labels.js';
import { cannotStart, requireRuntime } from './runtimes.js';
import { ensureUserImage, wrongArchitecture } from './user-image-build.js';
import type { UserImagePlatform } from './user-images.js';

/*
 * Provisioning (main process): the engine, the image, the session container, and how they are stopped.
 */

export async function provisionDocker(
  { name, storage, network, runtime, engine: engineKind, userImage, arch }: Variant,
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
    // The user's image may have no shell or sleep: our idle program keeps its container running. The
    // arm64 image holds nothing else (arm64.ts): its idle program is built for aarch64.
    const idleProgram =
      userImage || arch ? (await buildProgram(IDLE_SOURCE, context.cacheDir, arch ? { arch: ARM64_ARCH } : {})).path : undefined;
    const image = userImage
      ? await userImageOn(engine, location.local, userImage, context)
      : arch
        ? await ensureArm64Image(engine.docker, engine.dockerHost, idleProgram!, context)
        : await ensureImage(engine.docker, context, { engine: engine.dockerHost, build: engine.buildImage });
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
      idleProgram,
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
      userImage: userImage?.name ?? '',
      arch: arch ?? '',
    });
    return owner(engine, containerId, facts, removeContainersSync);
  } catch (error) {
    // By label: the container may exist even when starting it failed half way.
    removeContainersSync(engine.dockerHost, [], `${SESSION_LABEL}=${session}`);
    await engine.release();
    throw error;
  }
}

/** Our idle program for a user image's container (idle.c). */
const IDLE_SOURCE = join(sourceDir, 'platforms', 'docker', 'idle.c');

/** The user's image on the engine (found or built), refused when the engine cannot run its architecture. */
async function userImageOn(engine: Engine, local: boolean, user: UserImagePlatform, context: ProvisionContext): Promise<BenchImage> {
  const engineName = `the ${engine.source === 'private podman' ? 'private podman service' : `Docker engine (${engine.source})`}`;
  const image = await ensureUserImage(engine.docker, engineName, user, context);
  const wrong = wrongArchitecture(image, (await engine.docker.info()).Architecture, local, user.image ?? image.tag);
  if (wrong) throw new PlatformUnavailableError(user.platform, wrong);
  return image;
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
