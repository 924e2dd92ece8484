import type Dockerode from 'dockerode';
import { PlatformUnavailableError } from '../../errors.js';
import type { Availability, ProvisionContext } from '../platform.js';
import { onExitSync } from '../../host/exit-cleanup.js';
import { joinShared } from '../../host/shared.js';
import { DEFAULT_SOCKET, dockerClient, pingEngine, removeContainersSync } from './docker-client.js';
import { ownedByThisProcess } from './labels.js';
import type { BuildBench } from './image.js';
import { PODMAN_NETWORK, privatePodmanUnavailable, startPrivatePodman, type Ulimit } from './private-podman.js';
import { PRIVATE_DOCKER_HOST, privateDockerdUnavailable, startPrivateDockerd, type PrivateDockerd } from './private-dockerd.js';

/*
 * Which engine the docker platforms use, in this order:
 *   1. DOCKER_HOST, when set: the user chose it, so a dead one is an error, not a reason to start another;
 *   2. the default socket, when an engine answers there;
 *   3. a private dockerd (root and docker.io needed), started here and stopped when the last user releases it.
 * docker, docker-volume and docker-hostnet run in one process and share the engine.
 */

export type EngineSource = 'DOCKER_HOST' | 'default socket' | 'private dockerd' | 'private podman';

export interface Engine {
  readonly dockerHost: string;
  readonly source: EngineSource;
  readonly docker: Dockerode;
  /** The network its containers join instead of publishing ports (the private podman service's). */
  readonly network?: string;
  /** How it builds the benchmark image when not through its API's build. */
  readonly buildImage?: BuildBench;
  /** Limits to give its containers explicitly (the private podman service's own; see private-podman.ts). */
  readonly ulimits?: Ulimit[];
  /** Gives this user's share back; the last one stops a private dockerd. Idempotent. */
  release(): Promise<void>;
  releaseSync(): void;
}

type Found = { dockerHost: string; source: EngineSource } | { startPrivate: true } | { reason: string };

async function findEngine(env: NodeJS.ProcessEnv): Promise<Found> {
  if (env.DOCKER_HOST) {
    const ping = await pingEngine(env.DOCKER_HOST);
    if (ping.ok) return { dockerHost: env.DOCKER_HOST, source: 'DOCKER_HOST' };
    return {
      reason:
        `no Docker engine answers at DOCKER_HOST=${env.DOCKER_HOST} (${ping.error}); ` +
        'fix: start that engine, or unset DOCKER_HOST so that virtbench uses the default socket or starts its own dockerd',
    };
  }
  const defaultHost = `unix://${DEFAULT_SOCKET}`;
  const ping = await pingEngine(defaultHost);
  if (ping.ok) return { dockerHost: defaultHost, source: 'default socket' };
  if ((await pingEngine(PRIVATE_DOCKER_HOST)).ok) return { startPrivate: true };
  const cannot = privateDockerdUnavailable();
  if (cannot) return { reason: `no Docker engine answers (DOCKER_HOST is not set; ${DEFAULT_SOCKET}: ${ping.error}) and ${cannot}` };
  return { startPrivate: true };
}

/** Cheap: whether an engine answers or one can be started; the reason names the cause and the fix. */
export async function engineAvailability(env: NodeJS.ProcessEnv = process.env): Promise<Availability> {
  const found = await findEngine(env);
  return 'reason' in found ? { available: false, reason: found.reason } : { available: true };
}

interface Shared {
  dockerHost: string;
  source: EngineSource;
  dockerd?: PrivateDockerd;
  /** Unregisters the last-resort cleanup below. */
  unregister?: () => void;
}

async function open(context: ProvisionContext, env: NodeJS.ProcessEnv): Promise<Shared> {
  const found = await findEngine(env);
  if ('reason' in found) throw new PlatformUnavailableError(found.reason, { platform: 'docker' });
  const state: Shared =
    'dockerHost' in found
      ? { ...found }
      : await startPrivateDockerd(context.cacheDir, context.log).then((dockerd) => ({
          dockerHost: dockerd.dockerHost,
          source: 'private dockerd' as const,
          dockerd,
        }));
  // Covers Ctrl-C while a platform is still provisioning (before globalSetup registers its stopSync):
  // every container this process labelled goes first, then the dockerd we started.
  state.unregister = onExitSync(() => {
    removeContainersSync(state.dockerHost, [], ownedByThisProcess());
    state.dockerd?.stopSync();
  });
  return state;
}

export async function acquireEngine(context: ProvisionContext, env: NodeJS.ProcessEnv = process.env): Promise<Engine> {
  // One engine per process, shared by the docker platforms (host/shared.ts), keyed by DOCKER_HOST as the
  // caller saw it, so a different choice is never answered with another engine.
  const membership = await joinShared(`virtbench.docker.engine:${env.DOCKER_HOST ?? ''}`, () => open(context, env));
  const state = membership.value;
  const giveBack = (): PrivateDockerd | undefined => {
    if (!membership.leave()) return undefined;
    state.unregister?.();
    return state.dockerd;
  };
  return {
    dockerHost: state.dockerHost,
    source: state.source,
    docker: dockerClient(state.dockerHost),
    release: async () => giveBack()?.stop(),
    releaseSync: () => giveBack()?.stopSync(),
  };
}

/** Whether this machine can run the podman platform (Podman installed, root). */
export function podmanAvailability(): Availability {
  const reason = privatePodmanUnavailable();
  return reason ? { available: false, reason } : { available: true };
}

/** The private podman service, started by this process's first podman platform and stopped by its last. */
export async function acquirePodmanEngine(context: ProvisionContext): Promise<Engine> {
  const membership = await joinShared('virtbench.podman.engine', async () => {
    const podman = await startPrivatePodman(context.cacheDir, context.log);
    const unregister = onExitSync(() => {
      removeContainersSync(podman.dockerHost, [], ownedByThisProcess());
      podman.stopSync();
    });
    return { podman, unregister };
  });
  const { podman, unregister } = membership.value;
  const giveBack = (): boolean => {
    if (!membership.leave()) return false;
    unregister();
    return true;
  };
  return {
    dockerHost: podman.dockerHost,
    source: 'private podman',
    docker: dockerClient(podman.dockerHost),
    network: PODMAN_NETWORK,
    ulimits: podman.ulimits,
    buildImage: podman.build,
    release: async () => {
      if (giveBack()) await podman.stop();
    },
    releaseSync: () => {
      if (giveBack()) podman.stopSync();
    },
  };
}
