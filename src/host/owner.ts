import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { processSingleton } from './shared.js';

/*
 * Which process owns something: a lock, a work directory, a daemon's pid
 * file, a container. A pid alone names nobody for long (pids are reused, and
 * a pid means something only within one boot and one pid namespace), so an
 * owner is the pid with the process's start time, the boot and the pid
 * namespace. Everything that judges "is its owner gone?" or "may I signal
 * this pid?" judges it here, one way.
 */

export interface Owner {
  /** /proc/sys/kernel/random/boot_id: pids and start times mean something only within one boot. */
  bootId: string;
  /** readlink /proc/self/ns/pid, e.g. "pid:[4026531836]": a pid means something only within its namespace. */
  pidNamespace: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat, clock ticks after boot: tells the owner from a later process given its pid. 0: unknown. */
  startTime: number;
  /** The host name, when recorded: a file of another boot on a disk another machine shares is not judged. */
  host?: string;
}

/** What a process knows about itself and its pid namespace, for judging other owners. */
export interface ThisProcess {
  bootId: string;
  pidNamespace: string;
  /** This machine's host name (unset: unknown). */
  host?: string;
  /** A pid's start time in this namespace; 'dead' when no such process lives; 'unreadable' when it lives but /proc hides it. */
  startTimeOf(pid: number): number | 'dead' | 'unreadable';
}

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PID_NAMESPACE = /^pid:\[\d+\]$/;
const HOST = /^[A-Za-z0-9._-]+$/;

/** One line: `boot=<id> pidns=<ns> pid=<pid> start=<ticks>[ host=<name>]`. */
export function formatOwner(owner: Owner): string {
  const host = owner.host !== undefined && HOST.test(owner.host) ? ` host=${owner.host}` : '';
  return `boot=${owner.bootId} pidns=${owner.pidNamespace} pid=${owner.pid} start=${owner.startTime}${host}`;
}

/** The owner a line names (fields in any order, unknown ones ignored), or undefined for anything else. */
export function parseOwner(text: string | undefined): Owner | undefined {
  const fields = new Map<string, string>();
  for (const word of (text ?? '').trim().split(/\s+/)) {
    const at = word.indexOf('=');
    if (at > 0) fields.set(word.slice(0, at), word.slice(at + 1));
  }
  const bootId = fields.get('boot') ?? '';
  const pidNamespace = fields.get('pidns') ?? '';
  const pid = Number(fields.get('pid'));
  const startTime = Number(fields.get('start'));
  const host = fields.get('host');
  if (!BOOT_ID.test(bootId) || !PID_NAMESPACE.test(pidNamespace)) return undefined;
  if (!Number.isInteger(pid) || pid <= 0 || !Number.isInteger(startTime) || startTime < 0) return undefined;
  return { bootId, pidNamespace, pid, startTime, ...(host !== undefined && HOST.test(host) ? { host } : {}) };
}

/**
 * An owner file's text: an owner line, or a bare pid as older versions wrote it (taken as a process
 * of this boot and namespace whose start time is unknown: judged by its pid alone, as they were).
 */
export function parseOwnerOrPid(text: string | undefined, here: ThisProcess = thisProcess()): Owner | undefined {
  const owner = parseOwner(text);
  if (owner) return owner;
  const trimmed = (text ?? '').trim();
  const pid = Number(trimmed);
  if (!/^\d+$/.test(trimmed) || !Number.isSafeInteger(pid) || pid <= 0) return undefined;
  return { bootId: here.bootId, pidNamespace: here.pidNamespace, pid, startTime: 0 };
}

/** Field 22 of a /proc/<pid>/stat line; the command name (field 2) may hold spaces and parentheses, so count after the last ')'. */
export function startTimeFromStat(stat: string): number | undefined {
  const fields = stat
    .slice(stat.lastIndexOf(')') + 1)
    .trim()
    .split(/\s+/);
  // fields[0] is field 3 (the state), so field 22 is fields[19].
  const startTime = Number(fields[19]);
  return fields[0] === 'Z' || !Number.isInteger(startTime) ? undefined : startTime;
}

export function startTimeOf(pid: number): number | 'dead' | 'unreadable' {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    // hidepid hides other users' processes from /proc; a signal probe still tells whether one lives.
    try {
      process.kill(pid, 0);
      return 'unreadable';
    } catch (error) {
      return (error as NodeJS.ErrnoException).code === 'EPERM' ? 'unreadable' : 'dead';
    }
  }
  // A zombie has exited; its parent just has not reaped it.
  return startTimeFromStat(stat) ?? 'dead';
}

function readOr(read: () => string, fallback: string): string {
  try {
    return read().trim();
  } catch {
    return fallback;
  }
}

/**
 * This process as /proc shows it. Unreadable facts become "unknown", which no parsed owner matches:
 * then nothing is judged. So does a /proc mounted for another pid namespace (its /proc/self is not
 * our pid), where a pid we look up would be another namespace's.
 */
export function thisProcess(): ThisProcess {
  return processSingleton('virtbench.host.this-process', () => {
    const procIsOurs = readOr(() => readlinkSync('/proc/self'), '') === String(process.pid);
    return {
      bootId: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), 'unknown'),
      pidNamespace: procIsOurs ? readOr(() => readlinkSync('/proc/self/ns/pid'), 'unknown') : 'unknown',
      host: hostname(),
      startTimeOf,
    };
  });
}

/** This process's owner line, as an owner file, record or label holds it. */
export function ownerLine(): string {
  return `${formatOwner(currentOwner())}\n`;
}

/** The owner that names this process. */
export function currentOwner(): Owner {
  // Not shared between module copies by value: a forked child has the same module state but another pid.
  return identify(process.pid) ?? { ...here(), pid: process.pid, startTime: 0 };
}

function here(): Omit<Owner, 'pid' | 'startTime'> {
  const { bootId, pidNamespace, host } = thisProcess();
  return { bootId, pidNamespace, ...(host !== undefined ? { host } : {}) };
}

/** The identity of the process that has pid now, or undefined when it is gone or /proc hides it. */
export function identify(pid: number, where: ThisProcess = thisProcess()): Owner | undefined {
  const startTime = where.startTimeOf(pid);
  if (typeof startTime !== 'number') return undefined;
  return {
    bootId: where.bootId,
    pidNamespace: where.pidNamespace,
    ...(where.host !== undefined ? { host: where.host } : {}),
    pid,
    startTime,
  };
}

/** Whether an owner of this boot and this pid namespace, both known: only then can its pid be looked up here. */
function visibleHere(owner: Owner, where: ThisProcess): boolean {
  return (
    where.bootId !== 'unknown' &&
    where.pidNamespace !== 'unknown' &&
    owner.bootId === where.bootId &&
    owner.pidNamespace === where.pidNamespace
  );
}

/**
 * Whether the process owner names may still exist, judged from here. It is gone only when provably
 * so: of this boot and pid namespace, with its pid dead or now another process's (another start
 * time); or of an earlier boot of this machine. Another pid namespace (a run in a container), another
 * machine's boot (a shared disk) and anything we cannot read count as alive.
 */
export function isAlive(owner: Owner, where: ThisProcess = thisProcess()): boolean {
  if (where.bootId === 'unknown') return true;
  if (owner.bootId !== where.bootId) {
    // An earlier boot of this machine: nothing of it runs. Another machine's (it named another host): unknowable.
    return owner.host !== undefined && where.host !== undefined && owner.host !== where.host;
  }
  if (!visibleHere(owner, where)) return true;
  const startTime = where.startTimeOf(owner.pid);
  if (startTime === 'dead') return false;
  if (startTime === 'unreadable' || owner.startTime === 0) return true;
  return startTime === owner.startTime;
}

/** Whether owner is provably that very process, alive now: the only process virtbench may signal. */
export function isThatProcess(owner: Owner, where: ThisProcess = thisProcess()): boolean {
  return visibleHere(owner, where) && owner.startTime > 0 && where.startTimeOf(owner.pid) === owner.startTime;
}

/**
 * Sends signal to the process owner names only while it is provably that process (same start time,
 * looked up right before the signal); returns whether it was sent. A pid reused by another process,
 * one of another namespace or one whose start time we cannot read is never signalled.
 */
export function signalOwner(owner: Owner, signal: NodeJS.Signals, where: ThisProcess = thisProcess()): boolean {
  if (!isThatProcess(owner, where)) return false;
  try {
    process.kill(owner.pid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Whether two owners name the same process. */
export function sameOwner(a: Owner, b: Owner): boolean {
  return a.bootId === b.bootId && a.pidNamespace === b.pidNamespace && a.pid === b.pid && a.startTime === b.startTime;
}

/** The first hex digits of the boot id a tag keeps: enough to tell boots apart, short enough for a file name. */
const TAG_BOOT_DIGITS = 8;
const TAG = /^(\d+)_(\d+)_(\d+)_([0-9a-f]{8})$/;

/**
 * An owner as a part of a file name (a build directory, a partial file, a guest lease):
 * `<pid>_<start time>_<pid namespace inode>_<boot id's first 8 hex digits>`. What a name alone
 * could say of its maker with a bare pid, judged the one way (isAlive), pid reuse and namespaces included.
 */
export function ownerTag(owner: Owner = currentOwner()): string {
  const namespace = /^pid:\[(\d+)\]$/.exec(owner.pidNamespace)?.[1] ?? '0';
  return `${owner.pid}_${owner.startTime}_${namespace}_${owner.bootId.slice(0, TAG_BOOT_DIGITS)}`;
}

/** The owner a tag names (see ownerTag), or undefined for anything else. */
export function ownerOfTag(tag: string, where: ThisProcess = thisProcess()): Owner | undefined {
  const match = TAG.exec(tag);
  if (!match) return undefined;
  const [, pid, startTime, namespace, boot] = match;
  return {
    // The tag keeps a prefix: this boot's id when it matches, else one that can be no boot of this machine's.
    bootId: where.bootId.startsWith(boot!) ? where.bootId : `${boot}-earlier-boot`,
    pidNamespace: namespace === '0' ? 'unknown' : `pid:[${namespace}]`,
    pid: Number(pid),
    startTime: Number(startTime),
  };
}
