import { spawn } from 'node:child_process';
import { closeSync, constants, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PlatformUnavailableError } from '../../errors.js';
import { SETUP_HINT, installFix } from '../platform.js';
import { withLock, withLockSync } from '../../host/file-lock.js';
import { isAlive, ownerLine, parseOwnerOrPid } from '../../host/owner.js';
import type { Log } from '../../host/log.js';
import { waitFor } from '../../host/poll.js';
import {
  findExecutable,
  mountsUnder,
  processNamedBy,
  removeTreeSync,
  stopProcessesUsingSync,
  terminateSync,
  unmountLazily,
} from '../../host/process.js';
import { BRIDGE, createBridge, deleteBridge } from './bridge.js';
import { createdSharedDirs, recordSharedDirs, removeSharedDirs, type SharedDirs } from './shared-dirs.js';
import { GVISOR_NETWORK, GVISOR_PLATFORM, GVISOR_RUNTIME } from './gvisor.js';
import { CRUN_RUNTIME, CRUN_WRAPPER, crunRefusesCgroups, crunWrapper, unifiedControllers } from './crun.js';
import { dockerClient, pingEngine } from './docker-client.js';

/*
 * A dockerd of our own, for machines where docker.io is installed but no
 * engine runs (no systemd). It is kept apart from any other engine (own data
 * root, exec root, socket, pid file, config file, containerd namespace) and
 * leaves nothing behind: it uses a bridge we create and delete ourselves and
 * no iptables rules (published ports then go through docker-proxy, which is
 * what loopback traffic to a published port uses anyway; image builds use the
 * host network, so no NAT is needed).
 *
 * Runtime state lives in RUN_DIR (tmpfs, short paths for unix sockets); images
 * live in <cacheDir>/docker/data-root so they survive between runs.
 */

const RUN_DIR = '/run/virtbench-docker'; // CRUN_WRAPPER lives here too
const SOCKET = join(RUN_DIR, 'docker.sock');
const PID_FILE = join(RUN_DIR, 'dockerd.pid');
const EXEC_ROOT = join(RUN_DIR, 'exec');
const CONTAINERD_PID = join(EXEC_ROOT, 'containerd', 'containerd.pid');
/** One file per process that uses the daemon, named by pid, holding its owner line (owner.ts): the last one to leave stops it. */
const USERS_DIR = join(RUN_DIR, 'users');
/** Locked (its .lock file) while one process starts the daemon; outside RUN_DIR, which a start first clears. */
const START_LOCK = '/run/virtbench-docker.start';
/**
 * Held while a process joins or leaves the daemon: a leaver that finds no users left stops the
 * daemon, so a joiner must either be counted before that check or find the daemon gone after it.
 */
const MEMBERS_LOCK = '/run/virtbench-docker.members'; // the file /run/virtbench-docker.members.lock
/** How long a joiner waits for a running daemon to answer: on a loaded host, far longer than one ping. */
const ANSWER_WAIT_MS = 60_000;
/** The data root the daemon was started with: a teardown by another run (another cache dir) finds it here. */
const DATA_ROOT_FILE = join(RUN_DIR, 'data-root');
export const PRIVATE_DOCKER_HOST = `unix://${SOCKET}`;
/** Directories dockerd/containerd create outside our own. */
const SHARED: SharedDirs = {
  dirs: ['/run/docker/plugins', '/run/docker', '/run/containerd/s', '/run/containerd'],
  record: join(RUN_DIR, 'created-dirs.json'),
};

export interface PrivateDockerd {
  readonly dockerHost: string;
  /** Leaves the daemon; the last virtbench process to leave stops it. Idempotent. */
  stop(): Promise<void>;
  stopSync(): void;
}

/** Why this process cannot start a private dockerd, or undefined when it can. */
export function privateDockerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0)
    return `starting a private dockerd needs root; fix: start Docker (or set DOCKER_HOST to a running engine), or run as root ${SETUP_HINT}`;
  if (!findExecutable('dockerd')) return `dockerd is not installed; fix: ${installFix('docker.io')}`;
  if (!findExecutable('ip')) return `the ip command is missing; fix: ${installFix('iproute2')}`;
  return undefined;
}

/** Stops a private dockerd (ours, or one a killed run left) and removes its traces. Synchronous. */
function teardownSync(): void {
  const created = createdSharedDirs(SHARED);
  terminateSync(processNamedBy(PID_FILE, RUN_DIR), 20_000);
  terminateSync(processNamedBy(CONTAINERD_PID, RUN_DIR), 5_000);
  // What outlives them: containerd's shims, and the gVisor sandbox and gofer of a container whose start
  // failed (runsc leaves them running, and the sandbox runs as nobody).
  stopProcessesUsingSync(RUN_DIR, { anyUser: true });
  unmountDataRootLeftovers();
  deleteBridge();
  removeTreeSync(RUN_DIR);
  removeSharedDirs(SHARED, created);
}

/**
 * What a dockerd that did not stop cleanly (killed, or too slow for terminateSync) leaves mounted: the
 * overlay and shm mounts of its containers below the data root, and the data root bound on itself.
 * dockerd makes that bind when the root's mount is private (as / is here) and undoes it only on a clean
 * shutdown; a bind it finds already there it never undoes, so one kill would leave it for good. A
 * file system of the user's own mounted there (another device than its parent's) is kept.
 * Call only once dockerd is gone.
 */
function unmountDataRootLeftovers(dataRoot = recordedDataRoot()): void {
  if (!dataRoot?.startsWith('/')) return;
  for (const point of mountsUnder(dataRoot)) if (point !== dataRoot || isBindWithinParent(point)) unmountLazily(point);
}

function recordedDataRoot(): string | undefined {
  try {
    return readFileSync(DATA_ROOT_FILE, 'utf8').trim();
  } catch {
    return undefined; // never started, or started by a run that predates the file
  }
}

function isBindWithinParent(point: string): boolean {
  try {
    return statSync(point).dev === statSync(dirname(point)).dev;
  } catch {
    return false;
  }
}

/**
 * Whether a user file names a live process: its owner line (pid and start time: a reused pid is not
 * the user), or for an empty file of an older version, its name's pid. A line we cannot parse counts as live.
 */
export function userIsLive(name: string, text: string): boolean {
  const owner = parseOwnerOrPid(text.trim() === '' ? name : text);
  return owner === undefined || isAlive(owner);
}

/** Pids of live processes using the daemon; files of dead ones are dropped. */
function liveUsers(): number[] {
  let names: string[] = [];
  try {
    names = readdirSync(USERS_DIR);
  } catch {
    return [];
  }
  return names
    .filter((name) => {
      let text = '';
      try {
        text = readFileSync(join(USERS_DIR, name), 'utf8');
      } catch {
        return false; // removed meanwhile
      }
      if (userIsLive(name, text)) return true;
      rmSync(join(USERS_DIR, name), { force: true });
      return false;
    })
    .map(Number);
}

function withMembersLock<T>(fn: () => T): T {
  return withLockSync(MEMBERS_LOCK, fn, { timeoutMs: 60_000, what: 'joining or leaving the private dockerd', platform: 'docker' });
}

/** The private dockerd's pid while its process lives (answering or not: starting, or busy on a loaded host). */
function daemonProcess(): number | undefined {
  return processNamedBy(PID_FILE, RUN_DIR)?.pid;
}

/** The private dockerd's and its containerd's pids while they live (for what they cost between turns). */
export function privateDockerdPids(): number[] {
  return [processNamedBy(PID_FILE, RUN_DIR)?.pid, processNamedBy(CONTAINERD_PID, RUN_DIR)?.pid].filter((pid) => pid !== undefined);
}

/** Counts this process as a user. Call under the members lock. */
function joinUsers(): PrivateDockerd {
  mkdirSync(USERS_DIR, { recursive: true });
  writeFileSync(join(USERS_DIR, String(process.pid)), ownerLine());
  let left = false;
  const stopSync = () => {
    if (left) return;
    left = true;
    withMembersLock(() => {
      rmSync(join(USERS_DIR, String(process.pid)), { force: true });
      if (liveUsers().length === 0) teardownSync();
    });
  };
  return {
    dockerHost: PRIVATE_DOCKER_HOST,
    stopSync,
    // dockerd stops within a second once its containers are gone; blocking that long is acceptable at teardown.
    stop: async () => stopSync(),
  };
}

/** Joins the daemon if its process lives, whether or not it answers yet; undefined when there is none. */
function joinIfRunning(): { daemon: PrivateDockerd; pid: number } | undefined {
  return withMembersLock(() => {
    const pid = daemonProcess();
    return pid === undefined ? undefined : { daemon: joinUsers(), pid };
  });
}

/** The OCI runtimes the private dockerd registers besides runc, by the path each runs (undefined: not installed). */
export interface ExtraRuntimes {
  runsc?: string;
  crun?: string;
}

/** The private dockerd's own config: no host /etc/docker/daemon.json applies, and the trust key stays out of /etc/docker. */
export function daemonConfig(dockerDir: string, { runsc, crun }: ExtraRuntimes): Record<string, unknown> {
  const runtimes = {
    ...(runsc ? { [GVISOR_RUNTIME]: { path: runsc, runtimeArgs: [`--platform=${GVISOR_PLATFORM}`, `--network=${GVISOR_NETWORK}`] } } : {}),
    ...(crun ? { [CRUN_RUNTIME]: { path: crun } } : {}),
  };
  return { 'deprecated-key-path': join(dockerDir, 'key.json'), ...(Object.keys(runtimes).length > 0 ? { runtimes } : {}) };
}

/** crun as the private dockerd runs it: itself, or through the wrapper where it refuses the host's cgroups; undefined when not installed. */
function crunForDaemon(): string | undefined {
  const crun = findExecutable('crun');
  const unshare = findExecutable('unshare');
  if (!crun || !crunRefusesCgroups(unifiedControllers())) return crun;
  if (!unshare) return undefined;
  writeFileSync(CRUN_WRAPPER, crunWrapper(crun, unshare), { mode: 0o700 });
  return CRUN_WRAPPER;
}

function daemonArgs(dataRoot: string): string[] {
  return [
    `--config-file=${join(RUN_DIR, 'daemon.json')}`,
    `--data-root=${dataRoot}`,
    `--exec-root=${EXEC_ROOT}`,
    `--host=${PRIVATE_DOCKER_HOST}`,
    `--pidfile=${PID_FILE}`,
    '--storage-driver=overlay2',
    `--bridge=${BRIDGE}`,
    '--iptables=false',
    '--ip-masq=false',
    '--ip-forward=false',
    '--containerd-namespace=virtbench',
    '--containerd-plugins-namespace=virtbench-plugins',
    '--log-level=warn',
    // Containers are removed before dockerd stops; what is left (an interrupted build) need not delay an exit.
    '--shutdown-timeout=3',
  ];
}

const answers = async () => (await pingEngine(PRIVATE_DOCKER_HOST)).ok;

async function waitForAnswer(child: ReturnType<typeof spawn>, logFile: string, timeoutMs: number): Promise<void> {
  let exited: number | null | undefined;
  child.once('exit', (code) => (exited = code));
  let answering = false;
  await waitFor(async () => (answering = await answers()) || exited !== undefined, { timeoutMs });
  if (answering) return;
  const log = readFileSync(logFile, 'utf8').trim().split('\n').slice(-8).join('\n');
  // overlay2 needs an ext4 or xfs data root; vfs would work but copies every layer, so we do not fall back to it.
  const fix = /overlay/i.test(log)
    ? '\nfix: set VIRTBENCH_CACHE_DIR to a directory on ext4 or xfs (the data root must support overlay2)'
    : '';
  throw new PlatformUnavailableError(
    `the private dockerd ${exited !== undefined ? `exited with code ${exited}` : `did not answer within ${timeoutMs} ms`}; its log (${logFile}) ends with:\n${log}${fix}`,
    { platform: 'docker' },
  );
}

/**
 * Joins a running daemon and waits for it to answer. A live daemon is never torn down for being slow
 * (a loaded host, another run's heavy build): only one that no live process uses and that does not
 * answer within ANSWER_WAIT_MS is, by the leave below, so that the caller starts a fresh one.
 */
async function joinRunning(cacheDir: string, log: Log): Promise<PrivateDockerd | undefined> {
  const joined = joinIfRunning();
  if (!joined) return undefined;
  const others = liveUsers().filter((pid) => pid !== process.pid);
  if (!(await answers())) {
    log(`the private dockerd (pid ${joined.pid}) runs but does not answer yet; waiting up to ${ANSWER_WAIT_MS / 1000} s`);
    if (!(await waitFor(answers, { timeoutMs: ANSWER_WAIT_MS, intervalMs: 500 }))) {
      joined.daemon.stopSync();
      if (daemonProcess() === undefined) {
        log(`stopped the private dockerd (pid ${joined.pid}) a dead run left: it did not answer within ${ANSWER_WAIT_MS / 1000} s`);
        return undefined;
      }
      throw new PlatformUnavailableError(
        `the private dockerd (pid ${joined.pid}, used by virtbench process ${liveUsers().join(', ')}) did not answer within ${ANSWER_WAIT_MS / 1000} s; ` +
          `its log is ${join(cacheDir, 'docker', 'dockerd.log')}\nfix: wait for the other run to finish (or stop it), then run again`,
        { platform: 'docker' },
      );
    }
  }
  log(
    others.length > 0
      ? `sharing the private dockerd with virtbench process ${others.join(', ')}`
      : 'using the private dockerd an interrupted run left running',
  );
  return joined.daemon;
}

/**
 * Joins the private dockerd when its process lives (another virtbench process's, or one a killed run
 * left), else starts it. Only a start tears down what a dead daemon left, under the start lock.
 */
export async function startPrivateDockerd(cacheDir: string, log: Log): Promise<PrivateDockerd> {
  const unavailable = privateDockerdUnavailable();
  if (unavailable) throw new PlatformUnavailableError(unavailable, { platform: 'docker' });
  const running = await joinRunning(cacheDir, log);
  if (running) return running;
  // Another process may have started it while we waited for the lock.
  return await withLock(START_LOCK, async () => (await joinRunning(cacheDir, log)) ?? (await startDaemon(cacheDir, log)), {
    timeoutMs: 60_000,
    what: 'starting the private dockerd',
    onWait: () => log('waiting for another virtbench process to start the private dockerd'),
  });
}

async function startDaemon(cacheDir: string, log: Log): Promise<PrivateDockerd> {
  // Whatever a killed run left: a dead daemon's mounts, sockets, bridge. No daemon process lives (joinRunning
  // found none, and we hold the start lock), so nobody uses what this removes. We are counted as a user before
  // the daemon starts: a run that joins it while it starts, and leaves, must not find it unused.
  const daemon = withMembersLock(() => {
    teardownSync();
    mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
    recordSharedDirs(SHARED);
    return joinUsers();
  });
  const dockerDir = join(cacheDir, 'docker');
  const dataRoot = join(dockerDir, 'data-root');
  mkdirSync(dataRoot, { recursive: true });
  // Also what a daemon stopped by an older virtbench (which did not record its data root) left mounted.
  unmountDataRootLeftovers(dataRoot);
  writeFileSync(DATA_ROOT_FILE, dataRoot);
  writeFileSync(
    join(RUN_DIR, 'daemon.json'),
    JSON.stringify(daemonConfig(dockerDir, { runsc: findExecutable('runsc'), crun: crunForDaemon() })),
  );
  createBridge();

  const logFile = join(dockerDir, 'dockerd.log');
  // Not following a symlink planted in place of the log: as root, that would truncate any file it names.
  const out = openSync(logFile, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o600);
  const started = performance.now();
  // Its own process group: a Ctrl-C in the terminal reaches us, and we stop it in order (containers first).
  const child = spawn(findExecutable('dockerd')!, daemonArgs(dataRoot), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  try {
    await waitForAnswer(child, logFile, 30_000);
    const docker = dockerClient(PRIVATE_DOCKER_HOST);
    const info = await docker.info();
    if (info.Driver !== 'overlay2') {
      throw new PlatformUnavailableError(`the private dockerd uses storage driver ${info.Driver}, not overlay2`, {
        platform: 'docker',
      });
    }
    // Nobody else uses this engine yet: stopped containers are leftovers (an interrupted build's, a killed run's).
    await docker.pruneContainers();
  } catch (error) {
    daemon.stopSync();
    throw error;
  }
  log(`started a private dockerd (${Math.round(performance.now() - started)} ms; data root ${dataRoot})`);
  return daemon;
}
