import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/*
 * The CPU time a platform's processes on this host have used: what they cost
 * while another platform takes a sample (a QEMU guest's vCPUs, a container's
 * processes, an engine's daemons). Read twice, the difference is the cost.
 */

/**
 * Where CPU time is read. cgroup: a cgroup directory, cgroup v2 (cpu.stat's
 * usage_usec) or v1's cpuacct controller (cpuacct.usage, where a hybrid host
 * keeps a container's CPU time); process: every thread of one process.
 */
export type CpuSource = { kind: 'cgroup'; path: string } | { kind: 'process'; pid: number };

/**
 * The CPU seconds the sources have used so far, summed, each source once. A source that is gone
 * (an exited process, a removed cgroup) counts 0: never throws for it. A
 * process's threads that exited between two reads take their time with them,
 * so a difference over a process that churns threads reads a little low.
 */
export async function cpuSeconds(sources: readonly CpuSource[]): Promise<number> {
  // Once each: platforms of one engine name its daemons each (docker and docker-volume share the private dockerd).
  const unique = new Map(sources.map((source) => [source.kind === 'cgroup' ? `cgroup ${source.path}` : `process ${source.pid}`, source]));
  const each = await Promise.all(
    [...unique.values()].map((source) => (source.kind === 'cgroup' ? cgroupSeconds(source.path) : processSeconds(source.pid))),
  );
  return each.reduce((sum, seconds) => sum + seconds, 0);
}

async function readOrEmpty(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

async function cgroupSeconds(dir: string): Promise<number> {
  const usageUsec = /^usage_usec (\d+)$/m.exec(await readOrEmpty(join(dir, 'cpu.stat')))?.[1];
  if (usageUsec !== undefined) return Number(usageUsec) / 1e6;
  const usageNs = (await readOrEmpty(join(dir, 'cpuacct.usage'))).trim();
  return /^\d+$/.test(usageNs) ? Number(usageNs) / 1e9 : 0;
}

/** A process's threads as last read: their nanoseconds, and what threads gone since then had used. */
interface ThreadsSeen {
  startTime: string;
  lastNs: Map<string, number>;
  departedNs: number;
}

/** Per pid, in this process: what lets a thread that exits keep its time in the sum. */
const seen = new Map<number, ThreadsSeen>();

/**
 * Every thread's schedstat (its first field: nanoseconds on a CPU), finer than /proc/<pid>/stat's clock
 * ticks. A thread that exits takes its time out of /proc: the time it had at the last read stays in the
 * sum (QEMU's I/O threads come and go; without it a difference came out negative). A thread born and
 * gone between two reads is missed.
 */
async function processSeconds(pid: number): Promise<number> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return 0;
  let threads: string[];
  try {
    threads = await readdir(`/proc/${pid}/task`);
  } catch {
    seen.delete(pid);
    return 0;
  }
  const before = seen.get(pid);
  // A thread that exits between the listing and its read keeps the time it had.
  const nsOf = async (tid: string) =>
    Number((await readOrEmpty(`/proc/${pid}/task/${tid}/schedstat`)).split(' ')[0]) || before?.lastNs.get(tid) || 0;
  const [stat, each] = await Promise.all([
    readOrEmpty(`/proc/${pid}/stat`),
    Promise.all(threads.map(async (tid) => [tid, await nsOf(tid)] as const)),
  ]);
  // The start time tells a reused pid from the process seen before.
  const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  const now: ThreadsSeen = { startTime, lastNs: new Map(each), departedNs: 0 };
  if (before?.startTime === startTime) {
    now.departedNs = before.departedNs;
    for (const [tid, ns] of before.lastNs) if (!now.lastNs.has(tid)) now.departedNs += ns;
  }
  seen.set(pid, now);
  return (now.departedNs + each.reduce((sum, [, ns]) => sum + ns, 0)) / 1e9;
}

/**
 * The cgroup of a process, as a CPU source: its cgroup v2 directory (a pure v2 host's, or a hybrid
 * host's unified mount) when it has one of its own, else its v1 cpuacct one. A process in a root
 * cgroup (gVisor's sandbox is, in the unified hierarchy of a hybrid host) shares it with the whole
 * host: that one is never taken. Undefined when the process is gone or has no cgroup of its own.
 */
export async function cgroupOf(pid: number, root = '/sys/fs/cgroup'): Promise<CpuSource | undefined> {
  const lines = (await readOrEmpty(`/proc/${pid}/cgroup`)).split('\n');
  const candidates: string[] = [];
  for (const line of lines) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined || path === '/' || path.includes('/..')) continue;
    if (controllers === '') candidates.unshift(join(root, path), join(root, 'unified', path));
    else if (controllers!.split(',').includes('cpuacct'))
      candidates.push(...[controllers!, 'cpuacct', 'cpu,cpuacct'].map((dir) => join(root, dir, path)));
  }
  for (const dir of candidates) {
    if ((await readOrEmpty(join(dir, 'cpu.stat'))) || (await readOrEmpty(join(dir, 'cpuacct.usage')))) return { kind: 'cgroup', path: dir };
  }
  return undefined;
}
