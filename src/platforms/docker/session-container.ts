import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import type Dockerode from 'dockerode';
import { GenericContainer, getContainerRuntimeClient, PullPolicy, type StartedTestContainer } from 'testcontainers';
import { BadOptionError, PlatformUnavailableError } from '../../errors.js';
import type { Log } from '../../host/log.js';
import { tarOf } from './archive.js';
import { parseDockerHost } from './docker-client.js';
import { IDLE_PATH } from './container-files.js';
import { OWNER_LABEL, ownerIsGone, ownerValue, PLATFORM_LABEL, SESSION_LABEL, thisProcess } from './labels.js';

/*
 * The one container of a project run, started through testcontainers, with
 * virtbench's labels. A run removes the labelled containers whose owner died
 * (a crash or a kill), and its own on stop, from exit handlers included.
 */

export type WorkDirStorage = 'layer' | 'volume';
/** bridge: the engine's, with a port published on 127.0.0.1; private-bridge: the podman platform's own CNI network. */
export type NetworkMode = 'bridge' | 'host' | 'private-bridge';

export interface ContainerPlan {
  platform: string;
  /** The value of the session label: how a half-started container is found again. */
  session: string;
  image: string;
  storage: WorkDirStorage;
  network: NetworkMode;
  workDir: string;
  /** Published on publishOn unless on the host network. */
  port: number;
  /** Where the engine publishes the port: 127.0.0.1 when it runs here, its own address when elsewhere (engine-location.ts). */
  publishOn?: string;
  /** An OCI runtime registered with the engine instead of its default (runc): gVisor's runsc for docker-gvisor. */
  runtime?: string;
  /** The network a private-bridge container joins (the podman platform's). */
  networkName?: string;
  /** Explicit resource limits (the podman platform's: its service's own). */
  ulimits?: { Name: string; Soft: number; Hard: number }[];
  /**
   * Our idle program (idle.c) on the host: put into the created container at IDLE_PATH and run instead of
   * `sleep infinity`, for an image that may have no shell or sleep (a user's image, FROM scratch).
   */
  idleProgram?: string;
}

/** The container's command: our idle program when it is given, else the image's sleep. */
function idleCommand(plan: ContainerPlan): string[] {
  return plan.idleProgram ? [IDLE_PATH] : ['sleep', 'infinity'];
}

/** GenericContainer plus what its builder lacks: a loopback-only port, an anonymous volume, an init process. */
class BenchContainer extends GenericContainer {
  constructor(image: string) {
    super(image);
    // docker-init as PID 1 reaps the daemonized servers a `sleep` would leave as zombies.
    this.hostConfig.Init = true;
  }

  withPublishedPort(port: number, address: string): this {
    this.createOpts.ExposedPorts = { ...this.createOpts.ExposedPorts, [`${port}/tcp`]: {} };
    // Never 0.0.0.0: loopback when the engine is here, the one address this machine reaches it at when it is not.
    this.hostConfig.PortBindings = { ...this.hostConfig.PortBindings, [`${port}/tcp`]: [{ HostIp: address, HostPort: '' }] };
    return this;
  }

  withRuntime(runtime: string): this {
    this.hostConfig.Runtime = runtime;
    return this;
  }

  withAnonymousVolume(target: string): this {
    // Anonymous, so removing the container with its volumes (also the synchronous way) removes it too.
    this.hostConfig.Mounts = [...(this.hostConfig.Mounts ?? []), { Type: 'volume', Source: '', Target: target }];
    return this;
  }
}

/** Removes labelled containers whose owning process is gone, as far as this process can tell (see ownerIsGone). */
export async function removeStaleContainers(docker: Dockerode, log: Log): Promise<void> {
  const containers = await docker.listContainers({ all: true, filters: { label: [SESSION_LABEL] } });
  const here = thisProcess();
  const stale = containers.filter((info) => ownerIsGone(info.Labels[OWNER_LABEL], here));
  for (const info of stale) {
    const container = docker.getContainer(info.Id);
    // Left paused between turns: under gVisor, removing it paused took the engine 10 s.
    if (info.State === 'paused') await container.unpause().catch(() => {});
    await container.remove({ force: true, v: true }).catch(() => {});
  }
  if (stale.length > 0) log(`removed ${stale.length} container(s) left by an interrupted run`);
}

/**
 * testcontainers finds its engine once per process, from DOCKER_HOST at that
 * moment. Point it at ours for that one lookup only, and refuse to go on
 * should it already be bound to another engine.
 */
async function bindTestcontainers(dockerHost: string): Promise<void> {
  const saved = { DOCKER_HOST: process.env.DOCKER_HOST, TESTCONTAINERS_HOST_OVERRIDE: process.env.TESTCONTAINERS_HOST_OVERRIDE };
  process.env.DOCKER_HOST = dockerHost;
  // With /.dockerenv present it would otherwise run an alpine container to find the host, and no image can be pulled.
  process.env.TESTCONTAINERS_HOST_OVERRIDE ??= 'localhost';
  let modem: { socketPath?: string; host?: string; port?: string | number };
  try {
    modem = (await getContainerRuntimeClient()).container.dockerode.modem as typeof modem;
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  const wanted = parseDockerHost(dockerHost);
  const same = wanted.socketPath
    ? modem.socketPath === wanted.socketPath
    : modem.host === wanted.host && Number(modem.port) === wanted.port;
  if (!same) {
    throw new PlatformUnavailableError(
      `testcontainers in this process already uses another engine (${modem.socketPath ?? `${modem.host}:${modem.port}`}), not ${dockerHost}; ` +
        'fix: set DOCKER_HOST to one engine for the whole run (or remove tc.host/docker.host from ~/.testcontainers.properties)',
      { platform: 'docker' },
    );
  }
}

/**
 * The same container straight through the engine's API, for a second engine in one process:
 * testcontainers binds one engine per process (bindTestcontainers), and a run of docker and podman
 * holds both. Only what the podman platform uses: its own network, no published port, no volume.
 */
export async function startSessionContainerDirect(docker: Dockerode, plan: ContainerPlan): Promise<{ getId(): string }> {
  if (plan.network !== 'private-bridge' || plan.storage !== 'layer' || plan.runtime) {
    throw new BadOptionError(`a container outside testcontainers supports only the podman platform's plan`, {
      platform: plan.platform,
    });
  }
  const container = await docker.createContainer({
    Image: plan.image,
    Cmd: idleCommand(plan),
    // The engine makes the work directory at start where the image has none.
    WorkingDir: plan.workDir,
    Labels: { [SESSION_LABEL]: plan.session, [OWNER_LABEL]: ownerValue(), [PLATFORM_LABEL]: plan.platform },
    HostConfig: {
      // Reaps the daemonized servers a `sleep` would leave as zombies (catatonit under Podman).
      Init: true,
      NetworkMode: plan.networkName,
      Ulimits: plan.ulimits,
    },
  });
  if (plan.idleProgram) {
    const archive = await tarOf([{ name: IDLE_PATH.slice(1), data: await readFile(plan.idleProgram), mode: 0o755 }]);
    await container.putArchive(archive, { path: '/' });
  }
  await container.start();
  const state = (await container.inspect()).State;
  if (!state.Running) {
    throw new PlatformUnavailableError(`the container ${container.id.slice(0, 12)} exited at start (${state.Status})`, {
      platform: plan.platform,
    });
  }
  return { getId: () => container.id };
}

export async function startSessionContainer(dockerHost: string, plan: ContainerPlan): Promise<StartedTestContainer> {
  await bindTestcontainers(dockerHost);
  const container = new BenchContainer(plan.image)
    .withCommand(idleCommand(plan))
    // The engine makes the work directory at start where the image has none.
    .withWorkingDir(plan.workDir)
    .withLabels({ [SESSION_LABEL]: plan.session, [OWNER_LABEL]: ownerValue(), [PLATFORM_LABEL]: plan.platform })
    .withPullPolicy(PullPolicy.neverPull())
    // Our own labels and exit handlers clean up; the Ryuk reaper image could not be pulled anyway.
    .withAutoCleanup(false)
    .withStartupTimeout(60_000);
  if (plan.idleProgram) container.withCopyFilesToContainer([{ source: plan.idleProgram, target: IDLE_PATH, mode: 0o755 }]);
  if (plan.storage === 'volume') container.withAnonymousVolume(plan.workDir);
  if (plan.runtime) container.withRuntime(plan.runtime);
  if (plan.ulimits) container.withUlimits(Object.fromEntries(plan.ulimits.map((u) => [u.Name, { soft: u.Soft, hard: u.Hard }])));
  if (plan.network === 'host') container.withNetworkMode('host');
  else if (plan.network === 'private-bridge') container.withNetworkMode(plan.networkName!);
  else container.withPublishedPort(plan.port, plan.publishOn ?? '127.0.0.1');
  return container.start();
}

/** Where the host reaches a container port, read from the engine (Docker chooses the host port). */
export function publishedPort(inspect: Dockerode.ContainerInspectInfo, containerPort: number, address = '127.0.0.1'): number {
  const binding = inspect.NetworkSettings.Ports?.[`${containerPort}/tcp`]?.find((b) => b.HostIp === address);
  const port = Number(binding?.HostPort);
  if (!(port > 0)) {
    throw new PlatformUnavailableError(`container port ${containerPort} has no ${address} binding`, {
      platform: 'docker',
    });
  }
  return port;
}

/** Part of an engine's container inspect: one network's addresses. */
interface BridgeAddresses {
  IPAddress?: string;
  Gateway?: string;
}

/**
 * The container's own address on its bridge network and the host's end of
 * that bridge (the gateway), as the engine reports them: the served workload
 * listens on the one and accepts the other only.
 */
export function bridgeEndpoint(inspect: {
  Id: string;
  NetworkSettings: BridgeAddresses & { Networks?: Record<string, BridgeAddresses> };
}): { address: string; gateway: string } {
  const settings = inspect.NetworkSettings;
  // Per network first; the top-level fields are the default bridge's, and deprecated.
  const found = [...Object.values(settings.Networks ?? {}), settings].find((n) => isIPv4(n.IPAddress ?? '') && isIPv4(n.Gateway ?? ''));
  if (!found?.IPAddress || !found.Gateway) {
    throw new PlatformUnavailableError(
      `container ${inspect.Id.slice(0, 12)} has no IPv4 address and gateway on a bridge network, so its server cannot be limited to the host; ` +
        'fix: give the engine a default bridge with IPv4 (dockerd --bridge or --bip), or use the docker-hostnet platform',
      { platform: 'docker' },
    );
  }
  return { address: found.IPAddress, gateway: found.Gateway };
}
