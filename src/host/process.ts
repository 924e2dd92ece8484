import { existsSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { runSync } from './command.js';
import { identify, isThatProcess, parseOwnerOrPid, signalOwner, thisProcess, type Owner, type ThisProcess } from './owner.js';

/*
 * Small synchronous helpers for processes and mounts on the host, shared by
 * every platform's cleanup. Synchronous because they also run from exit and
 * signal handlers.
 */

export function findExecutable(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  return dirs
    .filter(Boolean)
    .map((d) => join(d, name))
    .find((p) => existsSync(p));
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie has exited: a killed child stays one while we block in an exit handler and cannot reap it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The process a pid file names, if it lives and its command line contains marker (pids get reused;
 * never signal a stranger). The file holds an owner line (pid and start time) or, as daemons write
 * it, a bare pid, whose identity is taken now: its start time is read before its command line, so a
 * process that took the pid after that check has another start time and is never signalled.
 */
export function processNamedBy(file: string, marker: string, where: ThisProcess = thisProcess()): Owner | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const recorded = parseOwnerOrPid(text, where);
  if (!recorded) return undefined;
  const now = identify(recorded.pid, where);
  if (!now || (recorded.startTime !== 0 && recorded.startTime !== now.startTime)) return undefined;
  try {
    if (!readFileSync(`/proc/${now.pid}/cmdline`, 'utf8').includes(marker)) return undefined;
  } catch {
    return undefined;
  }
  return isThatProcess(now, where) ? now : undefined;
}

/** The pid in file if its command line contains marker (see processNamedBy). */
export function pidNaming(file: string, marker: string): number | undefined {
  return processNamedBy(file, marker)?.pid;
}

const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * SIGTERM, up to graceMs for it to exit, then SIGKILL; each signal only while the pid is still the
 * same process (its start time, read right before each signal). A bare pid is identified when the
 * call starts. `where` is for tests.
 */
export function terminateSync(target: Owner | number | undefined, graceMs: number, where: ThisProcess = thisProcess()): void {
  if (target === undefined) return;
  const owner = typeof target === 'number' ? identify(target, where) : target;
  if (!owner || !signalOwner(owner, 'SIGTERM', where)) return;
  for (const until = Date.now() + graceMs; Date.now() < until && isThatProcess(owner, where);) Atomics.wait(pause, 0, 0, 25);
  signalOwner(owner, 'SIGKILL', where);
}

/** Mount points at or below dir, deepest first. */
export function mountsUnder(dir: string): string[] {
  let table = '';
  try {
    table = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  return table
    .split('\n')
    .map((line) => (line.split(' ')[1] ?? '').replace(/\\040/g, ' '))
    .filter((point) => point === dir || point.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

/** Lazily unmounts everything mounted at or below dir, deepest first (a killed dockerd or debootstrap leaves mounts). */
export function unmountUnder(dir: string): void {
  for (const point of mountsUnder(dir)) unmountLazily(point);
}

export function unmountLazily(point: string): void {
  runSync(['umount', '-l', point]);
}

/** Removes a directory tree without ever crossing into another file system (a mount left inside it). */
export function removeTreeSync(dir: string): void {
  unmountUnder(dir);
  runSync(['rm', '-rf', '--one-file-system', dir]);
}

/**
 * Stops every process of this user that works in dir: named on its command line, or with its root
 * (a chroot: debootstrap's dpkg) or its working directory there. For builds interrupted by Ctrl-C,
 * before their directory is removed. Synchronous, for exit handlers. anyUser: also other users'
 * processes (a directory only root can write, whose programs drop privileges: gVisor's sandbox runs as nobody).
 */
/** A process of this host: its pid and its argv. */
export interface ProcessEntry {
  pid: number;
  argv: string[];
}

/**
 * Every process of this host but this one that keep accepts. A process that exits while it is read
 * (its /proc entry gone, or keep throwing on a file of it) is left out. Synchronous, for exit handlers too.
 */
export function processesWhere(keep: (entry: ProcessEntry) => boolean): ProcessEntry[] {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return [];
  }
  const kept: ProcessEntry[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const entry = { pid: Number(name), argv: readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0') };
      if (keep(entry)) kept.push(entry);
    } catch {
      // gone while read
    }
  }
  return kept;
}

export function stopProcessesUsingSync(dir: string, options: { anyUser?: boolean } = {}): void {
  // A shell script being stopped (debootstrap) may fork once more on its way out: look again until none is left.
  for (let round = 0; round < 5; round++) if (stopRound(dir, round === 0 ? 3_000 : 0, options.anyUser ?? false) === 0) return;
}

/** One pass: TERM to each process using dir, KILL after graceMs; returns how many there were. */
function stopRound(dir: string, graceMs: number, anyUser: boolean): number {
  const inside = (path: string) => path === dir || path.startsWith(dir + '/');
  const link = (path: string) => {
    try {
      return readlinkSync(path);
    } catch {
      return '';
    }
  };
  const using = processesWhere(({ pid, argv }) => {
    if (!anyUser && statSync(`/proc/${pid}`).uid !== process.getuid?.()) return false;
    return argv.some((a) => a.includes(dir + '/') || a === dir) || inside(link(`/proc/${pid}/root`)) || inside(link(`/proc/${pid}/cwd`));
  }).map((entry) => entry.pid);
  // Identified once: each signal below goes to that process only, never to a later one given its pid.
  const owners = using.map((pid) => identify(pid)).filter((owner) => owner !== undefined);
  for (const owner of owners) signalOwner(owner, 'SIGTERM');
  for (const owner of owners) terminateSync(owner, graceMs);
  return using.length;
}
