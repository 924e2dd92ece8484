import { readFileSync, readlinkSync } from 'node:fs';

/*
 * Every container virtbench starts carries these labels: the session, the
 * owning process and the platform name. The owner label names the process
 * unambiguously, so that a later run can tell a dead owner from a live one:
 * jobs in host-network containers share the hostname and the kernel (boot id)
 * but not the pid namespace, and a pid alone is reused.
 */

export const SESSION_LABEL = 'virtbench.session';
export const OWNER_LABEL = 'virtbench.owner';
export const PLATFORM_LABEL = 'virtbench.platform';

export interface Owner {
  /** /proc/sys/kernel/random/boot_id: pids and start times mean something only within one boot. */
  bootId: string;
  /** readlink /proc/self/ns/pid, e.g. "pid:[4026531836]": a pid means something only within its namespace. */
  pidNamespace: string;
  pid: number;
  /** Field 22 of /proc/<pid>/stat, clock ticks after boot: tells the owner from a later process given its pid. */
  startTime: number;
}

/** What a process knows about itself and its pid namespace, for judging other owners. */
export interface ThisProcess {
  bootId: string;
  pidNamespace: string;
  /** A pid's start time in this namespace; 'dead' when no such process lives; 'unreadable' when it lives but /proc hides it. */
  startTimeOf(pid: number): number | 'dead' | 'unreadable';
}

const BOOT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PID_NAMESPACE = /^pid:\[\d+\]$/;
const OWNER = /^boot=(\S+) pidns=(\S+) pid=(\d+) start=(\d+)$/;

export function formatOwner(owner: Owner): string {
  return `boot=${owner.bootId} pidns=${owner.pidNamespace} pid=${owner.pid} start=${owner.startTime}`;
}

/** The owner a label names, or undefined for anything else (the "host:pid" labels of older versions included). */
export function parseOwner(label: string | undefined): Owner | undefined {
  const match = OWNER.exec(label ?? '');
  if (!match || !BOOT_ID.test(match[1]!) || !PID_NAMESPACE.test(match[2]!)) return undefined;
  const pid = Number(match[3]);
  return pid > 0 ? { bootId: match[1]!, pidNamespace: match[2]!, pid, startTime: Number(match[4]) } : undefined;
}

/**
 * Whether the process a container's owner label names is gone, judged from
 * here. Only an owner of this boot and this pid namespace can be judged: its
 * pid is then dead, or taken by a process that started at another time. Any
 * other label (another boot, another pid namespace, a label we cannot read)
 * belongs to someone whose processes we cannot see, so it is never gone.
 * Labels of versions before boot and namespace were recorded ("host:pid")
 * are of that kind too: such containers are left for their owner or the user.
 */
export function ownerIsGone(label: string | undefined, here: ThisProcess): boolean {
  const owner = parseOwner(label);
  if (!owner || owner.bootId !== here.bootId || owner.pidNamespace !== here.pidNamespace) return false;
  const startTime = here.startTimeOf(owner.pid);
  return startTime === 'dead' || (startTime !== 'unreadable' && startTime !== owner.startTime);
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

function readOr(read: () => string, fallback: string): string {
  try {
    return read().trim();
  } catch {
    return fallback;
  }
}

function startTimeOf(pid: number): number | 'dead' | 'unreadable' {
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

let here: ThisProcess | undefined;

/**
 * This process as /proc shows it. Unreadable facts become "unknown", which no
 * parsed label matches: then nothing is judged. So does a /proc mounted for
 * another pid namespace (its /proc/self is not our pid), where a pid we look
 * up would be another namespace's.
 */
export function thisProcess(): ThisProcess {
  if (!here) {
    const procIsOurs = readOr(() => readlinkSync('/proc/self'), '') === String(process.pid);
    here = {
      bootId: readOr(() => readFileSync('/proc/sys/kernel/random/boot_id', 'utf8'), 'unknown'),
      pidNamespace: procIsOurs ? readOr(() => readlinkSync('/proc/self/ns/pid'), 'unknown') : 'unknown',
      startTimeOf,
    };
  }
  return here;
}

let ownValue: string | undefined;

/** This process's owner label value. */
export function ownerValue(): string {
  if (ownValue === undefined) {
    const { bootId, pidNamespace } = thisProcess();
    const startTime = startTimeOf(process.pid);
    ownValue = formatOwner({ bootId, pidNamespace, pid: process.pid, startTime: typeof startTime === 'number' ? startTime : 0 });
  }
  return ownValue;
}

/** The label filter that matches every container this process started. */
export function ownedByThisProcess(): string {
  return `${OWNER_LABEL}=${ownerValue()}`;
}
