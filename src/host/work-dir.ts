import { readFileSync } from 'node:fs';
import { chmod, lstat, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { onExitSync } from './exit-cleanup.js';
import { identify, isAlive, ownerLine, parseOwnerOrPid, signalOwner, type ThisProcess } from './owner.js';
import { processesWhere, removeTreeSync, terminateSync } from './process.js';
import { BadOptionError } from '../errors.js';
import { makeDirectory } from './make-dir.js';

/*
 * A run's private directory on the host's disk, with a random name. It
 * records the owning process (owner.ts: pid, start time, boot, pid namespace); every process started for the run names the
 * directory on its command line (a path to a program, a config, a disk or a
 * pid file there), so whoever removes the directory (this run, or the next
 * run after a crash or Ctrl-C) can stop exactly those processes.
 */

const OWNER_FILE = 'owner.pid';

/** $VIRTBENCH_WORK_DIR, else /var/tmp: on disk, since tmpfs has no O_DIRECT for fio. */
export function workRoot(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.VIRTBENCH_WORK_DIR || '/var/tmp');
}

function prefix(platform: string): string {
  return `virtbench-${platform}-`;
}

/** Exactly a name createWorkDir makes for this platform: the prefix and mkdtemp's six random characters. */
function isWorkDirName(name: string, platform: string): boolean {
  const random = name.slice(prefix(platform).length);
  return name.startsWith(prefix(platform)) && /^[A-Za-z0-9]{6}$/.test(random);
}

/** A directory without an owner file this young may be a concurrent run's, between mkdtemp and writing the file. */
const UNOWNED_GRACE_MS = 10 * 60_000;

/**
 * Private by default (0700): disks, keys and whatever the workloads write stay this user's. A platform
 * whose unprivileged helpers must reach a file inside passes mode 0o711 (others may traverse, not
 * list): native, whose nginx workers run as nobody and read the served file.
 */
/** This process's work directories not yet removed, for the exit handler. */
const liveWorkDirs = new Set<string>();
let unregisterExitCleanup: (() => void) | undefined;

export async function createWorkDir(platform: string, root = workRoot(), options: { mode?: 0o700 | 0o711 } = {}): Promise<string> {
  try {
    await makeDirectory(root);
  } catch (error) {
    throw new BadOptionError(
      `cannot make the work directory in ${root} (VIRTBENCH_WORK_DIR, default /var/tmp): ${(error as Error).message}\n` +
        'fix: set VIRTBENCH_WORK_DIR to a writable directory on a disk (not tmpfs: fio needs O_DIRECT)',
      { platform },
    );
  }
  await removeStaleWorkDirs(platform, root);
  const dir = await mkdtemp(join(root, prefix(platform)));
  // From this moment until its owner removes it: a Ctrl-C in the middle of provisioning (a guest still
  // booting) exits before the platform's own cleanup is registered.
  liveWorkDirs.add(dir);
  unregisterExitCleanup ??= onExitSync(() => {
    for (const live of [...liveWorkDirs]) removeWorkDir(live);
  });
  await chmod(dir, options.mode ?? 0o700);
  await writeFile(join(dir, OWNER_FILE), ownerLine());
  return dir;
}

/**
 * Work directories whose owner process is gone: left by a crash or a hard kill. Only what is surely
 * ours counts: a name exactly as createWorkDir makes it for this platform (not another platform's
 * whose name starts alike, qemu-tcg-qcow2 for qemu-tcg, nor a bare prefix someone planted), a real
 * directory (not a symlink) owned by this user, whose owner file names a process that is provably
 * gone (owner.ts: a run in another pid namespace, a container's, never is); without an owner file,
 * only once it is older than a start can take. `where` is for tests.
 */
export async function removeStaleWorkDirs(platform: string, root = workRoot(), now = Date.now(), where?: ThisProcess): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries.filter((e) => isWorkDirName(e, platform))) {
    const dir = join(root, entry);
    const stat = await lstat(dir).catch(() => undefined);
    if (!stat?.isDirectory() || stat.uid !== process.getuid?.()) continue;
    const ownerText = (await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim();
    if (ownerText === '') {
      if (now - stat.mtimeMs < UNOWNED_GRACE_MS) continue;
    } else {
      // An owner line of a newer version, or garbage: not ours to judge.
      const owner = parseOwnerOrPid(ownerText, where);
      if (!owner || isAlive(owner, where)) continue;
    }
    removeWorkDir(dir);
    removed.push(dir);
  }
  return removed;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Whether a command-line argument names dir or a path in it (`/d`, `/d/x`, `file=/d/disk.img,if=virtio`), not a longer name (`/d2`). */
export function argNames(arg: string, dir: string): boolean {
  for (let at = arg.indexOf(dir); at >= 0; at = arg.indexOf(dir, at + 1)) {
    const before = at === 0 ? '' : arg[at - 1]!;
    const after = arg[at + dir.length] ?? '';
    if (!/[A-Za-z0-9._/-]/.test(before) && !/[A-Za-z0-9._-]/.test(after)) return true;
  }
  return false;
}

/** The real user id of a process, from /proc/<pid>/status; undefined when it is gone. */
function processUid(pid: string): number | undefined {
  const line = readText(`/proc/${pid}/status`)
    .split('\n')
    .find((l) => l.startsWith('Uid:'));
  return line ? Number(line.split(/\s+/)[1]) : undefined;
}

/**
 * Every process of this user whose command line names dir: daemons started
 * there (nginx, QEMU with its pid file and disks there), and workloads or
 * helpers (dd, fio) a killed worker left running. The directory name is
 * random, so nothing else matches; a reused pid never does.
 */
function processesNaming(dir: string): number[] {
  return (
    processesWhere(({ argv }) => argv.some((arg) => argNames(arg, dir)))
      // Another user's process is not ours to stop, whatever it names (nginx workers run as nobody, but stop with their master).
      .filter(({ pid }) => processUid(String(pid)) === process.getuid?.())
      .map(({ pid }) => pid)
  );
}

const STOP_ROUNDS = 10;

/** Stops the processes naming dir now (TERM, then KILL after graceMs); returns how many there were. */
function stopProcessesNaming(dir: string, graceMs: number): number {
  // Identified once (pid and start time): no signal below reaches a later process given one of these pids.
  const owners = processesNaming(dir)
    .map((pid) => identify(pid))
    .filter((owner) => owner !== undefined);
  for (const owner of owners) signalOwner(owner, 'SIGTERM');
  // Signalled together above, so they wind down together; the grace period runs once, not once per process.
  for (const owner of owners) terminateSync(owner, graceMs);
  return owners.length;
}

/**
 * A work directory as what a platform provisions (native's, the unikernel's, qemu-user-arm64's): fill gets
 * it and returns the connection facts; stop() and stopSync() remove it (and stop what works in it), and it
 * is removed at once when fill fails.
 */
export async function provisionWorkDir<F>(
  platform: string,
  fill: (workDir: string) => Promise<F>,
  options: { root?: string; mode?: 0o700 | 0o711 } = {},
): Promise<{ facts: F; stop(): Promise<void>; stopSync(): void }> {
  const workDir = await createWorkDir(platform, options.root, { mode: options.mode });
  try {
    const facts = await fill(workDir);
    return { facts, stop: async () => removeWorkDir(workDir), stopSync: () => removeWorkDir(workDir) };
  } catch (error) {
    removeWorkDir(workDir);
    throw error;
  }
}

/**
 * Stops every process working in dir (TERM, then KILL after 3 s) and deletes
 * dir. Synchronous on purpose: it also runs from exit and signal handlers,
 * where nothing asynchronous gets to finish. Idempotent.
 */
export function removeWorkDir(dir: string): void {
  liveWorkDirs.delete(dir);
  // A tree that forks on (forksum, under an emulator that takes long to die) makes processes after a scan:
  // they name dir too, and later rounds stop them, until a scan finds none.
  for (let round = 0; round < STOP_ROUNDS && stopProcessesNaming(dir, round === 0 ? 3_000 : 500) > 0; round++);
  // rm's own walk: it opens each directory without following links and stays on this file system, so a
  // process of another user that owns a directory inside (nginx's workers, as nobody, own its temp
  // directories) cannot swap in a symlink to make root delete outside, and a mount inside is let go, not emptied.
  removeTreeSync(dir);
}
