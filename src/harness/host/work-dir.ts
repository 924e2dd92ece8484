import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { isAlive, terminateSync } from './process.js';

/*
 * A run's private directory on the host's disk, with a random name. It
 * records the owning process; every process started for the run names the
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

export async function createWorkDir(platform: string, root = workRoot()): Promise<string> {
  await mkdir(root, { recursive: true });
  await removeStaleWorkDirs(platform, root);
  const dir = await mkdtemp(join(root, prefix(platform)));
  // World-readable: nginx workers run as an unprivileged user and must read the served file.
  await chmod(dir, 0o755);
  await writeFile(join(dir, OWNER_FILE), `${process.pid}\n`);
  return dir;
}

/** Work directories whose owner process is gone: left by a crash or a hard kill. */
export async function removeStaleWorkDirs(platform: string, root = workRoot()): Promise<string[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const entry of entries.filter((e) => e.startsWith(prefix(platform)))) {
    const dir = join(root, entry);
    const owner = Number((await readFile(join(dir, OWNER_FILE), 'utf8').catch(() => '')).trim());
    if (owner > 0 && isAlive(owner)) continue;
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

/**
 * Every process whose command line names dir: daemons started there (nginx,
 * QEMU with its pid file and disks there), and workloads or helpers (dd, fio)
 * a killed worker left running. The directory name is random, so nothing
 * else matches; a reused pid never does.
 */
function processesNaming(dir: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  return entries
    .filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid)
    .filter((pid) =>
      readText(`/proc/${pid}/cmdline`)
        .split('\0')
        .some((arg) => arg.includes(dir)),
    )
    .map(Number);
}

/**
 * Stops every process working in dir (TERM, then KILL after 3 s) and deletes
 * dir. Synchronous on purpose: it also runs from exit and signal handlers,
 * where nothing asynchronous gets to finish. Idempotent.
 */
export function removeWorkDir(dir: string): void {
  const pids = processesNaming(dir);
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // already gone
    }
  }
  // Signalled together above, so they wind down together; the grace period runs once, not once per process.
  for (const pid of pids) terminateSync(pid, 3_000);
  rmSync(dir, { recursive: true, force: true });
}
