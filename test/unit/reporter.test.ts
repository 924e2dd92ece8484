import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCase } from 'vitest/node';
import { describe, expect, it, vi } from 'vitest';
import type { BenchmarkRecord } from '../../src/results/schema.js';
import { readResults } from '../../src/results/results-file.js';
import { orderBy, sortResults } from '../../src/reporters/ordering.js';
import { findingLines, terminalWidth, toBenchmarkResult, VirtbenchReporter } from '../../src/reporters/virtbench-reporter.js';
import { resultOf } from '../builders.js';

const record = (platform: string, values: number[], over: Partial<BenchmarkRecord> = {}): BenchmarkRecord => ({
  platform,
  benchmark: 'mem',
  title: 'memsweep',
  unit: 's',
  better: 'lower',
  profile: 'quick',
  samples: values.map((value, i) => ({ time: 1_795_000_000 + i, value, seconds: value, extra: {} })),
  ...over,
});

function testCase(id: string, meta: BenchmarkRecord, result: ReturnType<TestCase['result']>): TestCase {
  return { id, meta: () => ({ virtbench: meta }), result: () => result } as unknown as TestCase;
}

describe('toBenchmarkResult', () => {
  it('keeps samples of a failed test and joins its error messages', () => {
    const row = toBenchmarkResult(record('native', [1, 2]), {
      result: () => ({ state: 'failed', errors: [{ message: 'fio exited with code 1' }] }) as never,
    });
    expect(row).toMatchObject({ status: 'failed', error: 'fio exited with code 1', samples: [{ value: 1 }, { value: 2 }] });
    expect(row.summary?.median).toBe(1.5);
  });

  it('marks skipped platforms with their reason and drops worker-only fields', () => {
    const row = toBenchmarkResult(record('qemu-kvm', [], { skipReason: 'no /dev/kvm' }), { result: () => ({ state: 'skipped' }) as never });
    expect(row).toMatchObject({ status: 'skipped', skipReason: 'no /dev/kvm' });
    expect(row).not.toHaveProperty('profile');
    expect(row.summary).toBeUndefined();
  });

  it("carries a stand-in into the result, skipped whatever its test did: it shows another platform's figure", () => {
    const skipReason = "not measured on qemu-tcg-ide: it changes only the benchmark disk's bus (IDE); shown is qemu-tcg's figure";
    const given = toBenchmarkResult(record('qemu-tcg-ide', [], { standIn: 'qemu-tcg', skipReason }), {
      result: () => ({ state: 'passed' }) as never,
    });
    expect(given).toMatchObject({ status: 'skipped', standIn: 'qemu-tcg', skipReason, samples: [] });
    // Recorded without a reason: it still says whose figure it shows.
    const unexplained = toBenchmarkResult(record('qemu-tcg-ide', [], { standIn: 'qemu-tcg' }), {
      result: () => ({ state: 'passed' }) as never,
    });
    expect(unexplained).toMatchObject({
      status: 'skipped',
      standIn: 'qemu-tcg',
      skipReason: "not measured on qemu-tcg-ide: shown is qemu-tcg's figure",
    });
  });

  it('calls an unfinished test interrupted', () => {
    expect(toBenchmarkResult(record('native', [1]), { result: () => ({ state: 'pending' }) as never })).toMatchObject({
      status: 'failed',
      error: 'interrupted before it finished',
    });
  });
});

describe('VirtbenchReporter', () => {
  it('writes each finished benchmark at once, then prints the table at the end', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-reporter-'));
    const reporter = new VirtbenchReporter({ reportDir: dir, profile: 'quick' });
    const log = vi.fn();
    reporter.onInit({ logger: { log }, config: { root: '/' }, version: 'test' } as never);
    reporter.onTestRunStart();

    reporter.onTestCaseResult(testCase('a', record('native', [1, 1, 1]), { state: 'passed' } as never));
    await vi.waitFor(async () => expect((await readResults(join(dir, 'results.json'))).results).toHaveLength(1));

    reporter.onTestCaseResult(testCase('b', record('docker', [2, 2, 2]), { state: 'passed' } as never));
    await reporter.onTestRunEnd();
    const printed = log.mock.calls.map((c) => String(c[0] ?? '')).join('\n');
    expect(printed).toContain('virtbench: quick profile, native vs docker');
    expect(printed).toMatch(/mem\s+s\s+lower\s+1\.00 ±0\.0%\s+2\.00 ±0\.0% {2}0\.50x/);
    const file = await readResults(join(dir, 'results.json'));
    expect(file.results.map((r) => r.platform)).toEqual(['native', 'docker']);
    // The full table, whatever the terminal's width, beside results.json.
    const table = await readFile(join(dir, 'table.txt'), 'utf8');
    expect(table).toMatch(/^virtbench: quick profile, native vs docker\nbenchmark\s+unit\s+better\s+native\s+docker\n/);
    expect(table).toMatch(/mem\s+s\s+lower\s+1\.00 ±0\.0%\s+2\.00 ±0\.0% {2}0\.50x/);
    expect(printed).toContain('table.txt (the full table)');
  });

  it('states what the run resolved: below the table, after the findings, in table.txt and in results.json', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-resol-'));
    // The run's precision, as a run that adds rounds until decided records it.
    const reporter = new VirtbenchReporter({ reportDir: dir, profile: 'quick', describeHost: async () => ({ untilWithin: 0.02 }) });
    const log = vi.fn();
    reporter.onInit({ logger: { log }, config: { root: '/' }, version: 'test' } as never);
    reporter.onTestRunStart();
    const inRounds = (r: BenchmarkRecord) => (r.samples.forEach((s, round) => (s.extra = { round })), r);
    reporter.onTestCaseResult(testCase('a', inRounds(record('native', [1, 1, 1])), { state: 'passed' } as never));
    reporter.onTestCaseResult(testCase('b', inRounds(record('docker', [2, 2.1, 1.9])), { state: 'passed' } as never));
    await reporter.onTestRunEnd();
    const printed = log.mock.calls.map((c) => String(c[0] ?? ''));
    // From native's first run (started 1 s before it ended) to the last one's end, docker's first started 2 s before: 4 s.
    const footer = /^resolution: mem ±1\d% in 4s \(1 comparison above ±2\.0%\)$/;
    const legend = printed.findIndex((l) => l.startsWith('median ±half the IQR'));
    expect(printed.slice(legend + 1).find((l) => l.startsWith('resolution:'))).toMatch(footer);
    const answer = printed.findIndex((l) => l.includes('mem: docker 0.50x'));
    expect(printed[answer + 1]).toMatch(/^ {2}Undecided at ±2\.0% when the run ended: docker vs native on mem \(±1\d%\)\.$/);
    expect((await readFile(join(dir, 'table.txt'), 'utf8')).trimEnd().split('\n').at(-1)).toMatch(footer);
    const file = await readResults(join(dir, 'results.json'));
    expect(file.resolution).toEqual([
      {
        benchmark: 'mem',
        halfWidth: expect.closeTo(0.12, 1),
        comparisons: [expect.objectContaining({ platform: 'docker', against: 'native', verdict: 'different', decided: false })],
        seconds: 4,
        rounds: 3,
      },
    ]);
    expect(JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')).resolution).toEqual(file.resolution);
  });

  it('lists the benchmarks of a platform that was not run (it cannot run here) as skipped, with the reason', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-reporter-'));
    const notRun = new Map([['qemu-kvm', 'KVM is not usable here: no /dev/kvm']]);
    const reporter = new VirtbenchReporter({ reportDir: dir, profile: 'quick', notRun: () => notRun });
    const log = vi.fn();
    reporter.onInit({ logger: { log }, config: { root: '/' }, version: 'test' } as never);
    reporter.onTestRunStart();
    reporter.onTestCaseResult(testCase('a', record('native', [1, 1]), { state: 'passed' } as never));
    reporter.onTestCaseResult(testCase('b', record('docker', [2, 2]), { state: 'passed' } as never));
    reporter.onTestCaseResult(
      testCase('c', record('native', [3, 3], { benchmark: 'cpu', unit: 'kFLOPS', better: 'higher' }), { state: 'passed' } as never),
    );
    await reporter.onTestRunEnd();
    const file = await readResults(join(dir, 'results.json'));
    const skipped = file.results.filter((r) => r.platform === 'qemu-kvm');
    expect(skipped).toEqual([
      {
        platform: 'qemu-kvm',
        benchmark: 'mem',
        title: 'memsweep',
        unit: 's',
        better: 'lower',
        status: 'skipped',
        skipReason: 'KVM is not usable here: no /dev/kvm',
        samples: [],
      },
      {
        platform: 'qemu-kvm',
        benchmark: 'cpu',
        title: 'memsweep',
        unit: 'kFLOPS',
        better: 'higher',
        status: 'skipped',
        skipReason: 'KVM is not usable here: no /dev/kvm',
        samples: [],
      },
    ]);
    const printed = log.mock.calls.map((c) => String(c[0] ?? '')).join('\n');
    expect(printed).toContain('qemu-kvm skipped: KVM is not usable here: no /dev/kvm');
  });

  it('stays silent in a run without benchmarks', async () => {
    const reporter = new VirtbenchReporter({ reportDir: 'unused', profile: 'quick' });
    const log = vi.fn();
    reporter.onInit({ logger: { log }, config: { root: '/' }, version: 'test' } as never);
    await reporter.onTestRunEnd();
    expect(log).not.toHaveBeenCalled();
  });
});

describe('sortResults', () => {
  it('orders rows by the given benchmarks and columns by the given platforms; others follow as first seen', async () => {
    const { resultOf } = await import('../builders.js');
    const rows = [
      resultOf('qemu-tcg', 'fork', [1]),
      resultOf('mine', 'cpu', [1]),
      resultOf('docker', 'cpu', [1]),
      resultOf('native', 'mine-bench', [1]),
      resultOf('native', 'cpu', [1]),
    ];
    const sorted = sortResults(rows, { platforms: ['native', 'docker', 'qemu-tcg'], benchmarks: ['cpu', 'fork'] });
    expect(sorted.map((r) => `${r.benchmark}/${r.platform}`)).toEqual([
      'cpu/native',
      'cpu/docker',
      'cpu/mine',
      'fork/qemu-tcg',
      'mine-bench/native',
    ]);
    expect(orderBy(['b', 'a', 'b', 'c'], ['c'])).toEqual(['c', 'b', 'a']);
  });
});

describe('skipLines', () => {
  it('says a whole platform was skipped once, and names benchmarks a platform cannot run', async () => {
    const { skipLines } = await import('../../src/reporters/virtbench-reporter.js');
    const { withSummary } = await import('../../src/results/results-file.js');
    const row = (platform: string, benchmark: string, skipReason?: string) =>
      withSummary({
        platform,
        benchmark,
        title: '',
        unit: 's',
        better: 'lower' as const,
        status: skipReason ? ('skipped' as const) : ('passed' as const),
        skipReason,
        samples: [],
      });
    expect(
      skipLines([
        row('qemu-kvm', 'cpu', 'KVM is not usable here'),
        row('qemu-kvm', 'mem', 'KVM is not usable here'),
        row('unikernel', 'cpu'),
        row('unikernel', 'fork', 'n/a: no fork()'),
      ]),
    ).toEqual(['qemu-kvm skipped: KVM is not usable here', 'unikernel fork: n/a: no fork()']);
  });
});

describe('skipLines of stand-ins', () => {
  it("names a variant's unmeasured benchmarks with their reason, even when it measured nothing else", async () => {
    const { skipLines } = await import('../../src/reporters/skips.js');
    const { resultOf } = await import('../builders.js');
    const reason = "not measured on qemu-tcg-ide: it changes only the benchmark disk's bus (IDE); shown is qemu-tcg's figure";
    const standIn = (benchmark: string) =>
      resultOf('qemu-tcg-ide', benchmark, [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: reason });
    expect(skipLines([standIn('cpu'), standIn('mem'), resultOf('qemu-tcg-ide', 'disk-random', [1])])).toEqual([
      `qemu-tcg-ide cpu, mem: ${reason}`,
    ]);
    // Not "qemu-tcg-ide skipped: ...", as if the platform could not run.
    expect(skipLines([standIn('cpu'), standIn('mem')])).toEqual([`qemu-tcg-ide cpu, mem: ${reason}`]);
  });
});

describe('tablePlatforms', () => {
  it('gives columns only to platforms that ran something, unless none did', async () => {
    const { tablePlatforms } = await import('../../src/reporters/ordering.js');
    const { resultOf } = await import('../builders.js');
    const ran = resultOf('native', 'cpu', [1]);
    const skipped = resultOf('qemu-kvm', 'cpu', [], { status: 'skipped', skipReason: 'no KVM' });
    const na = resultOf('unikernel', 'fork', [], { status: 'skipped', skipReason: 'n/a: no fork()' });
    const unikernelRan = resultOf('unikernel', 'cpu', [1]);
    expect(tablePlatforms([ran, skipped, na, unikernelRan])).toEqual(['native', 'unikernel']);
    expect(tablePlatforms([skipped])).toEqual(['qemu-kvm']);
  });
});

describe('terminalWidth', () => {
  it("is a terminal's own width, else 120", () => {
    expect(terminalWidth({ isTTY: true, columns: 200 })).toBe(200);
    expect(terminalWidth({ isTTY: false, columns: 200 })).toBe(120);
    expect(terminalWidth({ isTTY: true, columns: 0 })).toBe(120);
  });
});

describe('findingLines', () => {
  it('puts each answer on a line of its own, led by its verdict in a column, wrapped to the width', () => {
    const rounds = (r: ReturnType<typeof resultOf>) => (r.samples.forEach((s, round) => (s.extra = { round })), r);
    const results = [
      rounds(resultOf('native', 'mem', [0.34, 0.35, 0.33, 0.34, 0.34])),
      rounds(resultOf('qemu-tcg', 'mem', [11, 11.2, 10.9, 11.1, 11])),
      rounds(resultOf('docker', 'mem', [0.34, 0.35, 0.33, 0.34, 0.34])),
      rounds(resultOf('podman', 'mem', [0.3, 0.42, 0.33, 0.37, 0.31])),
    ];
    const lines = findingLines({ results }, 100);
    expect(lines[0]).toBe('  What does qemu-tcg cost against native?');
    expect(lines[1]).toMatch(/^ {4}slower: 0\.03x +mem: qemu-tcg 0\.03x \[0\.03, 0\.03\] native/);
    expect(lines.join('\n')).toMatch(/\n {4}same: ≈1x +mem: the same within ±5\.0%/);
    expect(lines.join('\n')).toMatch(/\n {4}cannot tell: ±\d+% {2}mem: differences within ±\d+% are beyond this run/);
    // The sentences start in one column, and so do their wrapped lines.
    const starts = lines.filter((l) => l.startsWith('    ')).map((l) => /^ {4}\S.*? {2}(?=\S)|^ +/.exec(l)![0].length);
    expect(new Set(starts).size).toBe(1);
    for (const line of lines) expect([...line].length, line).toBeLessThanOrEqual(100);
  });
});
