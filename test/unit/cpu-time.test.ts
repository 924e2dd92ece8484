import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuSeconds, type CpuSource } from '../../src/host/cpu-time.js';

/* The CPU time of real processes (host/cpu-time.ts), as the quiet turns read a platform's cost. */

const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

function start(argv: string[]): number {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: 'ignore' });
  children.push(child);
  return child.pid!;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The sources' CPU seconds over ms of wall time. */
async function usedOver(sources: CpuSource[], ms: number): Promise<number> {
  const before = await cpuSeconds(sources);
  await sleep(ms);
  return (await cpuSeconds(sources)) - before;
}

describe('cpuSeconds', () => {
  it('counts a busy process, every thread of it, and next to nothing for a sleeping one', async () => {
    // Busy in a second thread, its main thread asleep: /proc/<pid>/schedstat alone (the main thread's) reads ~0.
    const busy = start([
      process.execPath,
      '-e',
      "new (require('node:worker_threads').Worker)('for (;;);', { eval: true }); setInterval(() => {}, 1000)",
    ]);
    const sleeping = start(['sleep', '30']);
    await sleep(400); // node starts its worker
    // The kernel's own account of the whole process (utime + stime of every thread, in ticks of 10 ms) is
    // the known truth: on a loaded machine the busy loop gets less than a core, and the sum must follow it.
    const ticks = () => {
      const fields = readFileSync(`/proc/${busy}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    };
    const kernelBefore = ticks();
    const [busyUsed, sleepingUsed] = await Promise.all([
      usedOver([{ kind: 'process', pid: busy }], 500),
      usedOver([{ kind: 'process', pid: sleeping }], 500),
    ]);
    const kernelUsed = ticks() - kernelBefore;
    expect(busyUsed).toBeGreaterThan(0.05);
    expect(busyUsed).toBeLessThan(0.7);
    expect(Math.abs(busyUsed - kernelUsed)).toBeLessThan(0.05);
    expect(sleepingUsed).toBeLessThan(0.01);
    // Summed: the sleeping one adds nothing measurable.
    const both = await cpuSeconds([
      { kind: 'process', pid: busy },
      { kind: 'process', pid: sleeping },
    ]);
    expect(both).toBeGreaterThanOrEqual(await cpuSeconds([{ kind: 'process', pid: sleeping }]));
  });

  it('keeps the time of a thread that exited between two reads: the sum never goes back', async () => {
    // A thread busy for 400 ms, then gone; the main thread sleeps on.
    const pid = start([
      process.execPath,
      '-e',
      "new (require('node:worker_threads').Worker)('const end = Date.now() + 400; while (Date.now() < end);', { eval: true }); setInterval(() => {}, 1000)",
    ]);
    await sleep(350);
    const whileBusy = await cpuSeconds([{ kind: 'process', pid }]);
    await sleep(700);
    const afterExit = await cpuSeconds([{ kind: 'process', pid }]);
    expect(whileBusy).toBeGreaterThan(0.1);
    expect(afterExit).toBeGreaterThanOrEqual(whileBusy);
  });

  it('counts a process that is gone, a cgroup that is gone and a pid that is no number as 0', async () => {
    const child = spawn('true');
    await new Promise((resolve) => child.once('exit', resolve));
    const gone: CpuSource[] = [
      { kind: 'process', pid: child.pid! },
      { kind: 'process', pid: -1 },
      { kind: 'process', pid: Number.NaN },
      { kind: 'cgroup', path: '/sys/fs/cgroup/no-such-virtbench-cgroup' },
    ];
    expect(await cpuSeconds(gone)).toBe(0);
    expect(await cpuSeconds([])).toBe(0);
  });

  it("reads a cgroup v2 directory's cpu.stat and a v1 cpuacct directory's cpuacct.usage", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-cpu-time-'));
    try {
      await writeFile(join(dir, 'cpu.stat'), 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n');
      const v1 = join(dir, 'v1');
      await mkdir(v1);
      await writeFile(join(v1, 'cpuacct.usage'), '1500000000\n');
      expect(await cpuSeconds([{ kind: 'cgroup', path: dir }])).toBeCloseTo(2.5, 6);
      expect(await cpuSeconds([{ kind: 'cgroup', path: v1 }])).toBeCloseTo(1.5, 6);
      expect(
        await cpuSeconds([
          { kind: 'cgroup', path: dir },
          { kind: 'cgroup', path: v1 },
        ]),
      ).toBeCloseTo(4, 6);
      // A source named twice (two platforms of one engine) counts once.
      const twice: CpuSource[] = [
        { kind: 'cgroup', path: dir },
        { kind: 'cgroup', path: v1 },
        { kind: 'cgroup', path: dir },
      ];
      expect(await cpuSeconds(twice)).toBeCloseTo(4, 6);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads a real cgroup of this host when there is one', async (t) => {
    // Pure cgroup v2, a hybrid host's v2 mount, a v1 cpuacct controller: the root, where this process runs.
    const roots = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified', '/sys/fs/cgroup/cpuacct'].filter(
      (dir) => existsSync(join(dir, 'cpu.stat')) || existsSync(join(dir, 'cpuacct.usage')),
    );
    if (roots.length === 0) t.skip('no cgroup file system here');
    for (const path of roots) expect(await cpuSeconds([{ kind: 'cgroup', path }])).toBeGreaterThan(0);
  });
});
