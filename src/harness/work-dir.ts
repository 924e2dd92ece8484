import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/*
 * A run's private directory on the host's disk. It records the owning
 * process, and every daemon a workload starts there leaves a *.pid file,
 * so whoever removes the directory (this run, or the next run after a
 * crash or Ctrl-C) can stop exactly those processes and nothing else.
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

/** Alive and not a zombie: a killed child stays in the process table until its parent reaps it. */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  const stat = readText(`/proc/${pid}/stat`);
  return !/^\d+ \(.*\) Z/s.test(stat);
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

function pidFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.pid') && e.name !== OWNER_FILE)
      .map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** A pid counts as ours only if its command line names our directory (pids get reused). */
function ownedPid(pidFile: string, dir: string): number | undefined {
  const pid = Number(readText(pidFile).trim());
  if (!(pid > 0)) return undefined;
  return readText(`/proc/${pid}/cmdline`).includes(dir) ? pid : undefined;
}

function waitForExitSync(pid: number, ms: number): boolean {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (const until = Date.now() + ms; Date.now() < until; ) {
    if (!isAlive(pid)) return true;
    Atomics.wait(pause, 0, 0, 20);
  }
  return !isAlive(pid);
}

/**
 * Stops the daemons recorded under dir (TERM, then KILL) and deletes dir.
 * Synchronous on purpose: it also runs from exit and signal handlers, where
 * nothing asynchronous gets to finish. Idempotent.
 */
export function removeWorkDir(dir: string): void {
  for (const file of pidFiles(dir)) {
    const pid = ownedPid(file, dir);
    if (pid === undefined) continue;
    try {
      process.kill(pid, 'SIGTERM');
      if (!waitForExitSync(pid, 3_000)) process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
