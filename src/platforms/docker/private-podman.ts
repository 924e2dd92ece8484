import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runChecked } from '../../host/command.js';
import { acquireLock } from '../../host/file-lock.js';
import { currentOwner, formatOwner, identify, isAlive, ownerLine, parseOwnerOrPid, sameOwner, type Owner } from '../../host/owner.js';
import type { Log } from '../../host/log.js';
import { stopOnce } from '../../host/stop-once.js';
import { waitFor } from '../../host/poll.js';
import { findExecutable, processNamedBy, removeTreeSync, stopProcessesUsingSync, terminateSync, unmountUnder } from '../../host/process.js';
import { PlatformUnavailableError, SETUP_HINT, installFix } from '../platform.js';
import { PODMAN_BRIDGE, createBridge, deleteBridge } from './bridge.js';
import { createdSharedDirs, recordSharedDirs, removeSharedDirs, type SharedDirs } from './shared-dirs.js';
import { pingEngine } from './docker-client.js';
import { crunRefusesCgroups, unifiedControllers } from './crun.js';
import type { BuildBench } from './image.js';

/*
 * Podman's Docker-compatible API (`podman system service`), rootful, for the podman platform. Like the
 * private dockerd it is kept apart from anything else on the machine: its own storage (in the cache, so
 * images survive between runs), run root, socket and network configuration. Podman publishes ports
 * through iptables (CNI's portmap plugin), so it publishes none: the container sits on a bridge we
 * create ourselves, without NAT, IP forwarding or firewall rules, and the host reaches the container's
 * address on it directly. One run owns the service at a time; it stops it, and what it started, at the end.
 */

const RUN_DIR = '/run/virtbench-podman';
const SOCKET = join(RUN_DIR, 'podman.sock');
/** The run that owns the service: its owner line (owner.ts), or an older version's bare pid. */
const OWNER_FILE = join(RUN_DIR, 'owner');
/** The service's owner line (pid and start time), or an older version's bare pid; see serviceProcess. */
const PID_FILE = join(RUN_DIR, 'service.pid');
/**
 * Temporary files, as TMPDIR too: the API's import (POST /images/create?fromSrc=-) copies the upload to
 * $TMPDIR/api_load.tar* and never removes it (podman issue 28531), 195 MB in /var/tmp per image built.
 * Here it goes with the run directory.
 */
const TEMP_DIR = join(RUN_DIR, 'tmp');
const START_LOCK = '/run/virtbench-podman.start';

/** The environment of the service and of the podman CLI: our configuration, our temporary directory. */
function serviceEnv(): Record<string, string> {
  return { CONTAINERS_CONF: join(RUN_DIR, 'containers.conf'), TMPDIR: TEMP_DIR };
}
export const PODMAN_HOST = `unix://${SOCKET}`;
/** The CNI network the benchmark container joins, and its bridge. */
export const PODMAN_NETWORK = 'virtbench';
/**
 * Where Podman 4.3 writes outside our directories whatever its flags say: CNI's result cache, the
 * image library's blob-info cache (written when a build commits), and the runtime's default state
 * directory (left empty). Deepest first; removed again when a run created them.
 */
const SHARED: SharedDirs = {
  dirs: ['/var/lib/containers/cache', '/var/lib/containers', '/var/lib/cni/results', '/var/lib/cni', '/run/runc', '/run/crun'],
  files: { '/var/lib/containers/cache': ['blob-info-cache-v1.boltdb'] },
  record: join(RUN_DIR, 'created-dirs.json'),
};

export interface PrivatePodman {
  readonly dockerHost: string;
  /** Builds an image with the podman CLI on the service's storage (see BuildBench). */
  readonly build: BuildBench;
  /** The OCI runtime it runs containers with, and why when not its default (crun). */
  readonly runtime: { name: string; why?: string };
  /** The service's own limits, for its containers: what a Docker engine's containers inherit from it. */
  readonly ulimits: Ulimit[];
  stop(): Promise<void>;
  stopSync(): void;
}

/** Why this process cannot start the private podman service, or undefined when it can. */
export function privatePodmanUnavailable(): string | undefined {
  if (!findExecutable('podman'))
    return `podman is not installed; fix: ${installFix('podman', 'crun', 'containernetworking-plugins', 'catatonit')}`;
  if (process.getuid?.() !== 0)
    return `the podman platform runs rootful Podman (rootless is not supported yet), which needs root; fix: run as root ${SETUP_HINT}`;
  if (!findExecutable('ip')) return `the ip command is missing; fix: ${installFix('iproute2')}`;
  return undefined;
}

/** The global flags that keep every podman command of ours on our storage, run root and networks. */
export function podmanArgs(storageRoot: string): string[] {
  return [
    `--root=${storageRoot}`,
    `--runroot=${join(RUN_DIR, 'runroot')}`,
    `--tmpdir=${TEMP_DIR}`,
    `--network-config-dir=${join(RUN_DIR, 'cni')}`,
    // The runtime's state (runc's default is /run/runc) stays in our run directory too.
    `--runtime-flag=root=${join(RUN_DIR, 'runtime')}`,
    '--cgroup-manager=cgroupfs',
    // The file backend would write to /run/libpod, outside our directories.
    '--events-backend=none',
    '--storage-driver=overlay',
  ];
}

/**
 * Our CNI network: the bridge we made, host-local addresses kept under RUN_DIR, and none of the
 * plugins that change the host (ipMasq, isGateway's forwarding, portmap, firewall).
 */
export function networkConfig(gateway: string): Record<string, unknown> {
  const [address, bits] = gateway.split('/');
  const subnet = `${address!.replace(/\.\d+$/, '.0')}/${bits}`;
  return {
    cniVersion: '0.4.0',
    name: PODMAN_NETWORK,
    plugins: [
      {
        type: 'bridge',
        bridge: PODMAN_BRIDGE,
        isGateway: false,
        ipMasq: false,
        hairpinMode: false,
        ipam: {
          type: 'host-local',
          ranges: [[{ subnet, gateway: address }]],
          routes: [{ dst: '0.0.0.0/0' }],
          dataDir: join(RUN_DIR, 'cni-addresses'),
        },
      },
    ],
  };
}

export interface Ulimit {
  Name: string;
  Soft: number;
  Hard: number;
}

/**
 * The OCI runtime for this machine's cgroups. crun 1.8 refuses a hybrid layout (v1 controllers with
 * controllers also on the cgroup2 mount): "cgroups in hybrid mode not supported". runc, which Docker
 * uses, runs there.
 */
export function chooseRuntime(unifiedControllers: string | undefined): { name: string; why?: string } {
  if (!crunRefusesCgroups(unifiedControllers)) return { name: 'crun' };
  return {
    name: 'runc',
    why: `crun does not support this machine's hybrid cgroups (cgroup v1, and ${unifiedControllers!.trim()} on the cgroup2 mount)`,
  };
}

/**
 * Soft and hard limits of open files and processes, from /proc/<pid>/limits text. Podman would give
 * its containers its own defaults (over a million files), which a root without CAP_SYS_RESOURCE, as
 * here, cannot set: the container would not start.
 */
export function parseLimits(text: string): Ulimit[] {
  const rows: [string, RegExp][] = [
    ['nofile', /^Max open files\s+(\S+)\s+(\S+)/m],
    ['nproc', /^Max processes\s+(\S+)\s+(\S+)/m],
  ];
  return rows.flatMap(([name, pattern]) => {
    const match = pattern.exec(text);
    if (!match || match[1] === 'unlimited' || match[2] === 'unlimited') return [];
    return [{ Name: name, Soft: Number(match[1]), Hard: Number(match[2]) }];
  });
}

/** catatonit reaps the daemonized servers, as docker-init does for docker; Debian installs it in /usr/bin. */
function containersConf(runtime: string): string {
  const init = findExecutable('catatonit');
  // A container given no network joins ours, never Podman's default one (its bridge NATs and turns on IP forwarding).
  return [
    '[containers]',
    init ? `init_path = "${init}"` : '',
    '[engine]',
    `runtime = "${runtime}"`,
    '[network]',
    `default_network = "${PODMAN_NETWORK}"`,
    '',
  ].join('\n');
}

function serviceOwner(): Owner | undefined {
  try {
    return parseOwnerOrPid(readFileSync(OWNER_FILE, 'utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The service process a pid file names, only while it is that very process: the start time recorded
 * with its pid matches (an older version's bare pid: its command line names our socket). A pid the
 * service had, reused since by anything else, is never signalled.
 */
export function serviceProcess(pidFile = PID_FILE, marker = PODMAN_HOST): Owner | undefined {
  return processNamedBy(pidFile, marker);
}

/** Stops the service (ours, or one a killed run left) and removes every trace of it. Synchronous. */
function teardownSync(storageRoot: string | undefined): void {
  terminateSync(serviceProcess(), 10_000);
  // conmon and the containers' processes outlive the service (Podman has no daemon that owns them).
  stopProcessesUsingSync(RUN_DIR, { anyUser: true });
  if (storageRoot) {
    // A container that was not removed keeps its overlay mounted under the storage root.
    unmountUnder(join(storageRoot, 'overlay'));
    unmountUnder(join(storageRoot, 'overlay-containers'));
  }
  deleteBridge(PODMAN_BRIDGE);
  removeSharedDirs(SHARED, createdSharedDirs(SHARED));
  removeTreeSync(RUN_DIR);
}

/** Starts the service for this run; another live run's service makes the platform unavailable, not shared. */
export async function startPrivatePodman(cacheDir: string, log: Log): Promise<PrivatePodman> {
  const unavailable = privatePodmanUnavailable();
  if (unavailable) throw new PlatformUnavailableError('podman', unavailable);
  const storageRoot = join(cacheDir, 'podman', 'storage');
  const runtime = chooseRuntime(unifiedControllers());
  let ulimits: Ulimit[] = [];
  const lock = await acquireLock(START_LOCK, { timeoutMs: 60_000, what: 'starting the private podman service' });
  try {
    const owner = serviceOwner();
    // An older version's bare pid has no start time: our own pid there is ours, as it judged.
    const ours = owner !== undefined && (sameOwner(owner, currentOwner()) || (owner.startTime === 0 && owner.pid === process.pid));
    if (owner !== undefined && !ours && isAlive(owner)) {
      throw new PlatformUnavailableError(
        'podman',
        `the private podman service is in use by virtbench process ${owner.pid}; fix: wait for that run to finish, then run again`,
      );
    }
    teardownSync(storageRoot); // whatever a killed run left
    mkdirSync(join(RUN_DIR, 'cni'), { recursive: true, mode: 0o700 });
    mkdirSync(TEMP_DIR, { recursive: true, mode: 0o700 });
    writeFileSync(OWNER_FILE, ownerLine());
    recordSharedDirs(SHARED);
    // The teardown above deleted any bridge of a killed run, so this one is new and has its address.
    const gateway = createBridge(PODMAN_BRIDGE, 'podman')!;
    writeFileSync(join(RUN_DIR, 'cni', `${PODMAN_NETWORK}.conflist`), JSON.stringify(networkConfig(gateway), null, 2));
    writeFileSync(join(RUN_DIR, 'containers.conf'), containersConf(runtime.name));
    mkdirSync(storageRoot, { recursive: true });

    const logFile = join(cacheDir, 'podman', 'service.log');
    const out = openSync(logFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
    const started = performance.now();
    const child = spawn(
      findExecutable('podman')!,
      [...podmanArgs(storageRoot), 'system', 'service', '--time=0', PODMAN_HOST],
      // Its own process group: a Ctrl-C reaches us, and we remove the containers before stopping it.
      { detached: true, stdio: ['ignore', out, out], env: { ...process.env, ...serviceEnv() } },
    );
    closeSync(out);
    child.unref();
    // Its pid with its start time: a teardown signals it only while that pid still is this process.
    const service = child.pid === undefined ? undefined : identify(child.pid);
    writeFileSync(PID_FILE, service ? `${formatOwner(service)}\n` : String(child.pid ?? ''));
    let exited: number | null | undefined;
    child.once('exit', (code) => (exited = code));
    const answering = await waitFor(async () => (await pingEngine(PODMAN_HOST)).ok || exited !== undefined, { timeoutMs: 30_000 });
    if (!answering || exited !== undefined) {
      teardownSync(storageRoot);
      const tail = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
      throw new PlatformUnavailableError(
        `the private podman service ${exited !== undefined ? `exited with code ${exited}` : 'did not answer within 30 s'}; its log (${logFile}) ends with:\n${tail}`,
        { platform: 'podman' },
      );
    }
    // conmon and the runtime run with the service's limits; asking for more fails.
    ulimits = parseLimits(readFileSync(`/proc/${child.pid}/limits`, 'utf8'));
    log(
      `started a private podman service (${Math.round(performance.now() - started)} ms; storage ${storageRoot}; ` +
        `runtime ${runtime.name}${runtime.why ? `: ${runtime.why}` : ''})`,
    );
  } finally {
    await lock.release();
  }
  const stopSync = () => teardownSync(storageRoot);
  const build: BuildBench = async (dockerfile, tag, log, signal) => {
    // The API's build ran RUN steps on Podman's default network whatever networkmode said; the CLI honours --network=host.
    // The Dockerfile needs no other files: the context is a directory with it alone.
    const context = join(RUN_DIR, 'build-context');
    mkdirSync(context, { recursive: true });
    writeFileSync(join(context, 'Dockerfile'), dockerfile);
    await runChecked(
      [findExecutable('podman')!, ...podmanArgs(storageRoot), 'build', '--network=host', '--pull=never', '-t', tag, context],
      { what: `building ${tag} with podman`, code: 'VIRTBENCH_BUILD_FAILED', platform: 'podman' },
      { onLine: log, signal, env: serviceEnv() },
    );
  };
  return { dockerHost: PODMAN_HOST, build, runtime, ulimits, ...stopOnce({ stopSync, stop: async () => stopSync() }) };
}
