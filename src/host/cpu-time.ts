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
 * The CPU seconds the sources have used so far, summed. A source that is gone
 * (an exited process, a removed cgroup) counts 0: never throws for it. A
 * process's threads that exited between two reads take their time with them,
 * so a difference over a process that churns threads reads a little low.
 */
export async function cpuSeconds(sources: readonly CpuSource[]): Promise<number> {
  const each = await Promise.all(
    sources.map((source) => (source.kind === 'cgroup' ? cgroupSeconds(source.path) : processSeconds(source.pid))),
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

/** Every thread's schedstat (its first field: nanoseconds on a CPU), finer than /proc/<pid>/stat's clock ticks. */
async function processSeconds(pid: number): Promise<number> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return 0;
  let threads: string[];
  try {
    threads = await readdir(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  const each = await Promise.all(
    threads.map(async (tid) => Number((await readOrEmpty(`/proc/${pid}/task/${tid}/schedstat`)).split(' ')[0]) || 0),
  );
  return each.reduce((sum, ns) => sum + ns, 0) / 1e9;
}
