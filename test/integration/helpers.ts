import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { cpuSeconds, type CpuSource } from '../../src/host/cpu-time.js';
import type { Log } from '../../src/host/log.js';
import type { Platform, Provisioned, StartedPlatform } from '../../src/platforms/platform.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import type { Figure } from '../../src/workloads/figure.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import type { Workload } from '../../src/workloads/index.js';
import { cacheDir, packageRoot } from '../../src/host/paths.js';
import { readResults } from '../../src/results/results-file.js';
import type { ResultsFile } from '../../src/results/schema.js';
import { workRoot } from '../../src/host/work-dir.js';

export interface BenchRun {
  exitCode: number;
  output: string;
  reportDir: string;
  results?: ResultsFile;
}

/** Runs `vitest bench` as a user would (same Node, colour off) and reads what it wrote. */
export async function runVitestBench(args: string[], env: Record<string, string> = {}): Promise<BenchRun> {
  const reportDir = await mkdtemp(join(tmpdir(), 'virtbench-report-'));
  const result = await execa(process.execPath, [join(packageRoot, 'node_modules/vitest/vitest.mjs'), 'bench', ...args], {
    cwd: packageRoot,
    env: { VIRTBENCH_REPORT_DIR: reportDir, NO_COLOR: '1', CI: 'true', ...env },
    reject: false,
    all: true,
    timeout: 280_000,
  });
  const results = await readResults(join(reportDir, 'results.json')).catch(() => undefined);
  return { exitCode: result.exitCode ?? -1, output: String(result.all), reportDir, results };
}

/** virtbench work directories currently on disk for a platform, in this test file's work root (work-root.setup.ts). */
export async function workDirs(platform: string): Promise<string[]> {
  return (await readdir(workRoot())).filter((e) => e.startsWith(`virtbench-${platform}-`));
}

/** Processes of this test file's runs: every one names a path in its work root. */
export async function processesOfThisFile(): Promise<string[]> {
  return processesMentioning(workRoot() + '/');
}

/** Processes whose command line mentions text (e.g. a work directory), excluding this test's own. */
export async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await import('node:fs/promises').then((fs) => fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).catch(() => '');
    if (cmdline.includes(text)) found.push(`${pid} ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}

/** The cores a platform's CPU sources used over about ms of wall time. */
async function coresUsed(sources: CpuSource[], ms: number): Promise<{ all: number; own: number }> {
  // Own: the platform's processes (its container's cgroup, its QEMU), without the engine's shared daemons.
  const own = sources.filter((s) => s.kind === 'cgroup' || sources.length === 1);
  const read = async () => Promise.all([cpuSeconds(sources), cpuSeconds(own)]);
  const [allBefore, ownBefore] = await read();
  const started = performance.now();
  await new Promise((resolve) => setTimeout(resolve, ms));
  const [allAfter, ownAfter] = await read();
  const seconds = (performance.now() - started) / 1000;
  return { all: (allAfter - allBefore) / seconds, own: (ownAfter - ownBefore) / seconds };
}

/**
 * Quiet turns: a busy loop in the platform shows in its CPU sources; frozen, nothing of it runs; thawed,
 * the loop runs again; close() works while frozen, and a new connection (returned) runs commands. About 4 s.
 */
export async function expectQuietTurns(platform: StartedPlatform, reconnect: () => Promise<StartedPlatform>): Promise<StartedPlatform> {
  const sources = await platform.cpuSources!();
  expect(sources.length).toBeGreaterThan(0);
  // Detached from the exec (output to /dev/null), ended by its own timeout should anything fail.
  const busy = await platform.exec(['sh', '-c', 'timeout 30 sh -c "while :; do :; done" </dev/null >/dev/null 2>&1 & echo $!']);
  expect(busy.exitCode).toBe(0);
  const busyPid = busy.stdout.trim();
  expect(busyPid).toMatch(/^\d+$/);
  try {
    await new Promise((resolve) => setTimeout(resolve, 200));
    // Busy: a good part of a core (less than a whole one where other work shares the two cores); frozen: none.
    expect((await coresUsed(sources, 1_000)).own).toBeGreaterThan(0.2);
    await platform.freeze!();
    await platform.freeze!(); // idempotent
    const frozen = await coresUsed(sources, 1_000);
    expect(frozen.own).toBeLessThan(0.01);
    // The engine's daemons (shared with its other containers) cost a little even so.
    expect(frozen.all).toBeLessThan(0.05);
    await platform.thaw!();
    await platform.thaw!();
    expect((await coresUsed(sources, 1_000)).own).toBeGreaterThan(0.2);
  } finally {
    // timeout passes the signal on to the loop.
    await platform.exec(['sh', '-c', `kill ${busyPid}`]);
  }
  await platform.freeze!();
  await platform.close();
  const next = await reconnect();
  expect((await next.exec(['echo', 'thawed'], { timeoutMs: 30_000 })).stdout).toBe('thawed\n');
  return next;
}

/**
 * A platform provisioned for a test file's tests (beforeAll) and stopped after them (afterAll). `platform`
 * is the started platform once provisioned; runOnce prepares a workload, runs it once and disposes of it.
 */
export function platformForFile(create: () => Platform, log: Log = () => {}) {
  let provisioned: Provisioned | undefined;
  let started: StartedPlatform | undefined;
  beforeAll(async () => {
    const platform = create();
    provisioned = await platform.provision({ cacheDir: cacheDir(), log });
    started = await platform.connect(provisioned.facts);
  }, 900_000);
  afterAll(async () => {
    await started?.close();
    await provisioned?.stop();
  });
  return {
    get platform(): StartedPlatform {
      if (!started) throw new Error('the platform is not provisioned yet: use it inside a test');
      return started;
    },
    async runOnce(workload: Workload, profile = PROFILES.quick): Promise<Figure> {
      const prepared = await prepareWorkload(this.platform, workload, profile, { cacheDir: cacheDir() });
      try {
        return await prepared.runOnce();
      } finally {
        await prepared.dispose();
      }
    },
  };
}

/**
 * The checks a built-in workload makes of its own result, seen from outside: LINPACK's residual and its
 * minimum time, memsweep's sizes and checksum, forksum's sum of the range in the closed form.
 */
export function expectOwnChecks(name: 'cpu' | 'mem' | 'fork' | 'fork-threads', figure: Figure, profile = PROFILES.quick): void {
  if (name === 'cpu') {
    expect(figure.unit).toBe('kFLOPS');
    expect(figure.extra).toMatchObject({ n: profile.cpu.n, lda: profile.cpu.lda });
    expect(Number(figure.extra.residual)).toBeLessThan(100);
    expect(figure.seconds).toBeGreaterThanOrEqual(profile.cpu.minSeconds);
  } else if (name === 'mem') {
    expect(figure).toMatchObject({ unit: 's', extra: { bytes: profile.mem.bytes, passes: profile.mem.passes } });
    expect(Number(figure.extra.checksum)).toBeGreaterThan(0);
  } else {
    const { start, end } = profile.fork;
    expect(figure.extra).toMatchObject({ sum: ((end - start + 1) * (start + end)) / 2, spawned: 2 * (end - start) });
    expect(figure.extra.mode).toBe(name === 'fork' ? 'processes' : 'threads');
  }
  expect(figure.value).toBeGreaterThan(0);
}
