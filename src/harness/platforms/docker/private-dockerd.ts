import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VirtbenchError } from '../../../errors.js';
import { acquireFileLock } from '../../host/file-lock.js';
import type { Log } from '../../host/log.js';
import { waitFor } from '../../host/poll.js';
import { findExecutable, isAlive, pidNaming, removeTreeSync, terminateSync } from '../../host/process.js';
import { BRIDGE, createBridge, deleteBridge } from './bridge.js';
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

const RUN_DIR = '/run/virtbench-docker';
const SOCKET = join(RUN_DIR, 'docker.sock');
const PID_FILE = join(RUN_DIR, 'dockerd.pid');
const EXEC_ROOT = join(RUN_DIR, 'exec');
const CONTAINERD_PID = join(EXEC_ROOT, 'containerd', 'containerd.pid');
/** One empty file per process that uses the daemon, named by pid: the last one to leave stops it. */
const USERS_DIR = join(RUN_DIR, 'users');
/** Locked while one process starts the daemon; outside RUN_DIR, which a start first clears. */
const START_LOCK = '/run/virtbench-docker.start';
/** Which of SHARED_DIRS did not exist before our daemon created them. */
const CREATED_FILE = join(RUN_DIR, 'created-dirs.json');
export const PRIVATE_DOCKER_HOST = `unix://${SOCKET}`;
/** Directories dockerd/containerd create outside our own; removed again when empty and not there before. */
const SHARED_DIRS = ['/run/docker/plugins', '/run/docker', '/run/containerd/s', '/run/containerd'];

export interface PrivateDockerd {
  readonly dockerHost: string;
  /** Leaves the daemon; the last virtbench process to leave stops it. Idempotent. */
  stop(): Promise<void>;
  stopSync(): void;
}

/** Why this process cannot start a private dockerd, or undefined when it can. */
export function privateDockerdUnavailable(): string | undefined {
  if (process.getuid?.() !== 0)
    return 'starting a private dockerd needs root; fix: start Docker (or set DOCKER_HOST to a running engine), or run as root';
  if (!findExecutable('dockerd')) return 'dockerd is not installed; fix: install docker.io: apt-get install docker.io';
  if (!findExecutable('ip')) return 'the ip command is missing; fix: apt-get install iproute2';
  return undefined;
}

/** Stops a private dockerd (ours, or one a killed run left) and removes its traces. Synchronous. */
function teardownSync(): void {
  let created: string[] = [];
  try {
    created = JSON.parse(readFileSync(CREATED_FILE, 'utf8')) as string[];
  } catch {
    // never started, or started by a run that predates the file
  }
  terminateSync(pidNaming(PID_FILE, RUN_DIR), 20_000);
  terminateSync(pidNaming(CONTAINERD_PID, RUN_DIR), 5_000);
  deleteBridge();
  removeTreeSync(RUN_DIR);
  for (const dir of created) {
    try {
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      // gone already, or in use by another engine
    }
  }
}

/** Pids of live processes using the daemon; files of dead ones are dropped. */
function liveUsers(): number[] {
  let names: string[] = [];
  try {
    names = readdirSync(USERS_DIR);
  } catch {
    return [];
  }
  return names.map(Number).filter((pid) => {
    if (pid > 0 && isAlive(pid)) return true;
    rmSync(join(USERS_DIR, String(pid)), { force: true });
    return false;
  });
}

function joinUsers(): PrivateDockerd {
  mkdirSync(USERS_DIR, { recursive: true });
  writeFileSync(join(USERS_DIR, String(process.pid)), '');
  let left = false;
  const stopSync = () => {
    if (left) return;
    left = true;
    rmSync(join(USERS_DIR, String(process.pid)), { force: true });
    if (liveUsers().length === 0) teardownSync();
  };
  return {
    dockerHost: PRIVATE_DOCKER_HOST,
    stopSync,
    // dockerd stops within a second once its containers are gone; blocking that long is acceptable at teardown.
    stop: async () => stopSync(),
  };
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
  throw new VirtbenchError(
    'VIRTBENCH_PLATFORM_UNAVAILABLE',
    `the private dockerd ${exited !== undefined ? `exited with code ${exited}` : `did not answer within ${timeoutMs} ms`}; its log (${logFile}) ends with:\n${log}${fix}`,
    { platform: 'docker' },
  );
}

function joinRunning(log: Log): PrivateDockerd {
  const others = liveUsers().filter((pid) => pid !== process.pid);
  log(
    others.length > 0
      ? `sharing the private dockerd with virtbench process ${others.join(', ')}`
      : 'using the private dockerd an interrupted run left running',
  );
  return joinUsers();
}

/**
 * Joins the private dockerd when one answers (another virtbench process's,
 * or one a killed run left), else starts it.
 */
export async function startPrivateDockerd(cacheDir: string, log: Log): Promise<PrivateDockerd> {
  const unavailable = privateDockerdUnavailable();
  if (unavailable) throw new VirtbenchError('VIRTBENCH_PLATFORM_UNAVAILABLE', unavailable, { platform: 'docker' });
  if (await answers()) return joinRunning(log);
  const lock = await acquireFileLock(START_LOCK, {
    timeoutMs: 60_000,
    what: 'starting the private dockerd',
    onWait: () => log('waiting for another virtbench process to start the private dockerd'),
  });
  try {
    // Another process may have started it while we waited for the lock.
    if (await answers()) return joinRunning(log);
    return await startDaemon(cacheDir, log);
  } finally {
    await lock.release();
  }
}

async function startDaemon(cacheDir: string, log: Log): Promise<PrivateDockerd> {
  // Whatever a killed run left: a dead daemon's mounts, sockets, bridge.
  teardownSync();
  mkdirSync(RUN_DIR, { recursive: true, mode: 0o700 });
  writeFileSync(CREATED_FILE, JSON.stringify(SHARED_DIRS.filter((dir) => !existsSync(dir))));
  const dockerDir = join(cacheDir, 'docker');
  const dataRoot = join(dockerDir, 'data-root');
  mkdirSync(dataRoot, { recursive: true });
  // Our own config file: a host /etc/docker/daemon.json must not apply, and the trust key stays out of /etc/docker.
  writeFileSync(join(RUN_DIR, 'daemon.json'), JSON.stringify({ 'deprecated-key-path': join(dockerDir, 'key.json') }));
  createBridge();

  const logFile = join(dockerDir, 'dockerd.log');
  const out = openSync(logFile, 'w');
  const started = performance.now();
  // Its own process group: a Ctrl-C in the terminal reaches us, and we stop it in order (containers first).
  const child = spawn(findExecutable('dockerd')!, daemonArgs(dataRoot), { detached: true, stdio: ['ignore', out, out] });
  closeSync(out);
  child.unref();
  const daemon = joinUsers();
  try {
    await waitForAnswer(child, logFile, 30_000);
    const docker = dockerClient(PRIVATE_DOCKER_HOST);
    const info = await docker.info();
    if (info.Driver !== 'overlay2') {
      throw new VirtbenchError('VIRTBENCH_PLATFORM_UNAVAILABLE', `the private dockerd uses storage driver ${info.Driver}, not overlay2`, {
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
