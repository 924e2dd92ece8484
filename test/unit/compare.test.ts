import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kruskalTest from '@stdlib/stats-kruskal-test';
import { describe, expect, it, onTestFinished } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import {
  bootstrapChangeCi,
  compareResults,
  gateFailures,
  gateFails,
  holmAdjust,
  pairsTooFew,
  parseThreshold,
  rankTestPValue,
  signedRankPValue,
  type CompareOptions,
} from '../../src/reporters/compare.js';
import { PR_COMMENT_MARKER } from '../../src/reporters/markdown.js';
import { renderBaselineComparison } from '../../src/reporters/table.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { resultOf, resultsFileOf } from '../builders.js';

const result = (benchmark: string, values: number[], over: Partial<BenchmarkResult> = {}) => resultOf('native', benchmark, values, over);
const file = (...results: BenchmarkResult[]) => resultsFileOf(results);

describe('rank test', () => {
  it('matches the Kruskal-Wallis (two-group Mann-Whitney) p-value for separated samples', () => {
    // H = 12/(10*11) * (15^2/5 + 40^2/5) - 33 = 6.818..., chi-square(1) upper tail = 0.00902
    expect(rankTestPValue([1, 2, 3, 4, 5], [6, 7, 8, 9, 10])).toBeCloseTo(0.009023, 5);
  });
  it('gives p = 1 when every value is the same', () => {
    expect(rankTestPValue([3, 3, 3], [3, 3, 3])).toBe(1);
  });

  it("gives the p-value of stdlib's Kruskal-Wallis test on two groups, ties included", () => {
    const cases: [number[], number[]][] = [
      [
        [1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10],
      ],
      [
        [5.1, 5.3, 5.3, 4.9],
        [5.3, 5.6, 5.0, 5.3, 5.8],
      ],
      [
        [0.12, 0.12, 0.13],
        [0.12, 0.11, 0.12, 0.12],
      ],
      [
        Array.from({ length: 200 }, (_, i) => Math.round(Math.sin(i) * 10)),
        Array.from({ length: 150 }, (_, i) => Math.round(Math.cos(i) * 10) + 1),
      ],
    ];
    for (const [a, b] of cases) expect(rankTestPValue(a, b)).toBeCloseTo(kruskalTest(a, b).pValue, 10);
  });

  it("ranks a million samples a side in seconds (stdlib's ranking never finished)", () => {
    const a = Float64Array.from({ length: 1e6 }, (_, i) => 100 + Math.sin(i));
    const b = Float64Array.from({ length: 1e6 }, (_, i) => 100.01 + Math.sin(i * 1.3));
    const started = performance.now();
    const p = rankTestPValue(Array.from(a), Array.from(b));
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(p).toBeGreaterThanOrEqual(0);
    expect(p).toBeLessThan(0.05);
  });
});

describe('bootstrapChangeCi', () => {
  it('is deterministic and brackets the observed change', () => {
    const a = [10, 10.2, 9.9, 10.1, 10];
    const b = [12, 12.1, 11.9, 12.2, 12];
    const ci = bootstrapChangeCi(a, b, 'higher');
    expect(bootstrapChangeCi(a, b, 'higher')).toEqual(ci);
    expect(ci[0]).toBeLessThanOrEqual(0.2);
    expect(ci[1]).toBeGreaterThanOrEqual(0.2);
    expect(ci[0]).toBeGreaterThan(0.1);
  });
});

describe('compareResults', () => {
  const base = file(result('cpu', [100, 101, 99, 100, 100]), result('mem', [1, 1.01, 0.99, 1, 1]), result('fork', [1, 1, 1, 1, 1]));

  it('calls a significant slowdown beyond the threshold a regression, in either direction of better', () => {
    const now = file(result('cpu', [80, 81, 79, 80, 80]), result('mem', [1.3, 1.31, 1.29, 1.3, 1.3]), result('fork', [1, 1, 1, 1, 1]));
    const byName = Object.fromEntries(compareResults(base, now).map((c) => [c.benchmark, c]));
    expect(byName.cpu).toMatchObject({ verdict: 'regressed', failsGate: true });
    expect(byName.cpu!.change).toBeCloseTo(-0.2, 5);
    expect(byName.mem).toMatchObject({ verdict: 'regressed', failsGate: true });
    expect(byName.mem!.change).toBeCloseTo(1 / 1.3 - 1, 5);
    expect(byName.fork).toMatchObject({ verdict: 'unchanged', failsGate: false, change: 0, pValue: 1 });
    expect(gateFails(Object.values(byName))).toBe(true);
  });

  it('calls faster an improvement, and a change inside the noise threshold unchanged', () => {
    const now = file(result('cpu', [103, 104, 102, 103, 103]), result('mem', [0.5, 0.5, 0.51, 0.49, 0.5]), result('fork', [1, 1, 1, 1, 1]));
    const byName = Object.fromEntries(compareResults(base, now).map((c) => [c.benchmark, c]));
    expect(byName.cpu!.verdict).toBe('unchanged'); // +3 % < 5 %
    expect(byName.mem!.verdict).toBe('improved');
    expect(gateFails(Object.values(byName))).toBe(false);
  });

  it('does not call a change significant on too few runs, and says so', () => {
    const c = compareResults(file(result('cpu', [100, 100])), file(result('cpu', [50, 50])))[0]!;
    expect(c.verdict).toBe('unchanged');
    expect(c.note).toMatch(/not significant \(p=0\.\d+, 2 vs 2 runs\)/);
  });

  it('honours per-benchmark noise and fail thresholds', () => {
    const now = file(result('cpu', [90, 91, 89, 90, 90]));
    const [c] = compareResults(base, now, { thresholds: { cpu: 0.2 } });
    expect(c!.verdict).toBe('unchanged');
    const [d] = compareResults(base, now, { failThresholds: { cpu: 0.15 } });
    expect(d).toMatchObject({ verdict: 'regressed', failsGate: false });
  });

  it('reports platforms or benchmarks in only one file as added or removed, and a new one never fails', () => {
    const now = file(
      result('cpu', [100, 100, 100, 100, 100]),
      result('nginx', [1, 1, 1]),
      result('mem', [1, 1, 1], { platform: 'docker' }),
    );
    const verdicts = compareResults(base, now).map((c) => `${c.platform}/${c.benchmark}:${c.verdict}`);
    expect(verdicts).toEqual(
      expect.arrayContaining(['native/nginx:added', 'docker/mem:added', 'native/mem:removed', 'native/fork:removed']),
    );
    const added = compareResults(base, now).filter((c) => c.verdict === 'added');
    expect(added.map((c) => [c.failsGate, c.reason])).toEqual([
      [false, 'new in the current run'],
      [false, 'new in the current run'],
    ]);
  });

  it('fails the gate when a benchmark failed in the current run, whatever allowMissing says', () => {
    const now = file(result('fork', [], { status: 'failed', error: 'boom' }));
    const fork = compareResults(base, now).find((c) => c.benchmark === 'fork')!;
    expect(fork).toMatchObject({ verdict: 'not comparable', failsGate: true, note: 'failed in the current run' });
    const allowed = compareResults(base, now, { allowMissing: true }).find((c) => c.benchmark === 'fork')!;
    expect(allowed).toMatchObject({ failsGate: true, reason: 'failed in the current run' });
  });

  it('gives every row a short reason for its verdict', () => {
    const now = file(result('cpu', [80, 81, 79, 80, 80]), result('mem', [1, 1.01, 0.99, 1, 1]), result('fork', [1, 1, 1, 1, 1]));
    const reasons = compareResults(base, now, { failThresholds: { mem: 0.5 } }).map((c) => `${c.benchmark}: ${c.reason}`);
    expect(reasons).toEqual([
      'cpu: beyond the fail threshold (5.0%)',
      'mem: within the noise threshold (5.0%)',
      'fork: within the noise threshold (5.0%)',
    ]);
  });

  it('rejects thresholds that are not fractions', () => {
    expect(() => compareResults(base, base, { threshold: 5 * 100 })).toThrow(/fraction/);
  });
});

describe('the gate protects what the baseline measured', () => {
  const runs = [100, 101, 99, 100, 100];
  const cell = (platform: string, benchmark: string, over: Partial<BenchmarkResult> = {}) => resultOf(platform, benchmark, runs, over);
  const base = file(cell('native', 'cpu'), cell('native', 'nginx'), cell('docker-hostnet', 'cpu'), cell('docker-hostnet', 'nginx'));
  const compare = (now: BenchmarkResult[], options?: CompareOptions) => compareResults(base, file(...now), options);
  const row = (comparisons: ReturnType<typeof compare>, platform: string, benchmark: string) =>
    comparisons.find((c) => c.platform === platform && c.benchmark === benchmark)!;
  const everythingBut = (platform: string, benchmark: string) =>
    base.results.filter((r) => r.platform !== platform || r.benchmark !== benchmark);

  it('fails when a benchmark of the baseline is gone, and says how to allow it', () => {
    const comparisons = compare(everythingBut('native', 'nginx'));
    expect(row(comparisons, 'native', 'nginx')).toMatchObject({
      verdict: 'removed',
      failsGate: true,
      missing: true,
      reason: 'not in the current run',
    });
    expect(row(comparisons, 'native', 'nginx').note).toMatch(/allow it with --allow-missing native\/nginx$/);
    expect(gateFailures(comparisons)).toEqual([
      'native nginx: not in the current run; if intended, allow it with --allow-missing native/nginx',
    ]);
  });

  it.each<[string, Partial<BenchmarkResult>, string]>([
    ['skipped', { status: 'skipped', skipReason: 'n/a: no network', samples: [], summary: undefined }, 'skipped in the current run'],
    ['passed without runs', { samples: [], summary: undefined }, 'no runs in the current run'],
    ['in another unit', { unit: 'ms' }, 'unit changed from s to ms'],
    ['with the other better direction', { better: 'higher' }, 'direction changed from lower to higher is better'],
  ])('fails when a benchmark of the baseline is %s now', (_, over, reason) => {
    const comparisons = compare([...everythingBut('native', 'nginx'), cell('native', 'nginx', over)]);
    expect(row(comparisons, 'native', 'nginx')).toMatchObject({ verdict: 'not comparable', failsGate: true, reason });
    expect(gateFails(comparisons)).toBe(true);
    expect(gateFails(compare([...everythingBut('native', 'nginx'), cell('native', 'nginx', over)], { allowMissing: ['nginx'] }))).toBe(
      false,
    );
  });

  it('names a platform missing from the current run once, as one reason', () => {
    const comparisons = compare(base.results.filter((r) => r.platform === 'native'));
    expect(comparisons.filter((c) => c.failsGate).map((c) => `${c.platform}/${c.benchmark}`)).toEqual([
      'docker-hostnet/cpu',
      'docker-hostnet/nginx',
    ]);
    expect(gateFailures(comparisons)).toEqual([
      'docker-hostnet: platform not in the current run, 2 benchmarks the baseline measured; if intended, allow it with --allow-missing docker-hostnet',
    ]);
  });

  it('names a platform skipped as a whole once, too', () => {
    const skipped = { status: 'skipped' as const, skipReason: 'KVM is not usable here', samples: [], summary: undefined };
    const comparisons = compare([
      cell('native', 'cpu'),
      cell('native', 'nginx'),
      cell('docker-hostnet', 'cpu', skipped),
      cell('docker-hostnet', 'nginx', skipped),
    ]);
    expect(gateFailures(comparisons)).toEqual([
      'docker-hostnet: skipped in the current run, 2 benchmarks the baseline measured; if intended, allow it with --allow-missing docker-hostnet',
    ]);
    expect(row(comparisons, 'docker-hostnet', 'cpu').note).toMatch(/^skipped in the current run \(KVM is not usable here\)/);
  });

  it.each<[string, CompareOptions['allowMissing'], string[]]>([
    ['all', true, []],
    ['a platform', ['docker-hostnet'], ['native/nginx']],
    ['a benchmark', ['nginx'], ['docker-hostnet/cpu']],
    ['a platform/benchmark', ['native/nginx', 'docker-hostnet/cpu'], ['docker-hostnet/nginx']],
    ['nothing that matches', ['qemu-kvm', 'native/cpu'], ['native/nginx', 'docker-hostnet/cpu', 'docker-hostnet/nginx']],
  ])('allowMissing may name %s', (_, allowMissing, failing) => {
    const comparisons = compare([cell('native', 'cpu')], { allowMissing });
    expect(comparisons.filter((c) => c.failsGate).map((c) => `${c.platform}/${c.benchmark}`)).toEqual(failing);
    for (const c of comparisons.filter((x) => x.missing && !x.failsGate)) {
      expect(c).toMatchObject({ allowed: true, reason: expect.stringMatching(/\(allowed\)$/) });
    }
  });

  it('protects nothing the baseline skipped, failed or ran without runs', () => {
    const before = file(
      cell('native', 'cpu', { status: 'skipped', skipReason: 'n/a', samples: [], summary: undefined }),
      cell('native', 'mem', { status: 'failed', error: 'boom' }),
      cell('native', 'nginx', { samples: [], summary: undefined }),
    );
    const comparisons = compareResults(before, file(cell('native', 'mem', { status: 'skipped', skipReason: 'n/a', samples: [] })));
    expect(comparisons.map((c) => [c.benchmark, c.failsGate, c.missing])).toEqual([
      ['mem', false, undefined],
      ['cpu', false, undefined],
      ['nginx', false, undefined],
    ]);
    expect(comparisons[1]!.reason).toBe('not in the current run (nothing to protect: the baseline skipped)');
  });

  describe("a variant's stand-in (another platform's figure, not measured by design)", () => {
    const standIn = {
      status: 'skipped' as const,
      standIn: 'docker',
      skipReason: "not measured on docker-hostnet: it changes only the network; shown is docker's figure",
      samples: [],
      summary: undefined,
    };

    it('is no lost figure in the current run: never fails the gate, and says it was not measured by design', () => {
      const comparisons = compare([...everythingBut('docker-hostnet', 'cpu'), cell('docker-hostnet', 'cpu', standIn)]);
      expect(row(comparisons, 'docker-hostnet', 'cpu')).toMatchObject({
        verdict: 'not comparable',
        failsGate: false,
        reason: "not measured by design: docker's figure stands in",
      });
      expect(row(comparisons, 'docker-hostnet', 'cpu').missing).toBeUndefined();
      expect(gateFails(comparisons)).toBe(false);
      expect(gateFailures(comparisons)).toEqual([]);
    });

    it('in the baseline, leaves a figure measured now without a baseline: new in this run', () => {
      const before = file(cell('native', 'cpu'), cell('docker-hostnet', 'cpu', standIn));
      const comparisons = compareResults(before, file(cell('native', 'cpu'), cell('docker-hostnet', 'cpu')));
      expect(row(comparisons, 'docker-hostnet', 'cpu')).toMatchObject({
        verdict: 'added',
        failsGate: false,
        reason: "new in the current run (the baseline showed docker's figure)",
        baselineMedian: undefined,
      });
      // Gone now: the baseline had nothing of its own to protect.
      const gone = compareResults(before, file(cell('native', 'cpu')));
      expect(row(gone, 'docker-hostnet', 'cpu')).toMatchObject({
        failsGate: false,
        reason: "platform not in the current run (nothing to protect: the baseline showed docker's figure)",
      });
    });
  });

  it('marks the rows that fail the gate in the terminal table, and says why each row got its verdict', () => {
    const lines = renderBaselineComparison(compare(everythingBut('native', 'nginx'), { allowMissing: ['docker-hostnet/nginx'] }));
    expect(lines[0]).toMatch(/^gate\s+platform\s+benchmark\s+verdict\s+change .*\s+why$/);
    expect(lines.find((l) => l.includes('native') && l.includes('nginx'))).toMatch(
      /^FAIL\s+native\s+nginx\s+removed \(fails\)\s+-\s+not in the current run$/,
    );
    expect(lines.find((l) => l.includes('native') && l.includes('cpu'))).toMatch(
      /^\s+native\s+cpu\s+unchanged\s+\+0\.0%.*within the noise threshold/,
    );
  });
});

describe('virtbench compare --allow-missing', () => {
  const write = async (dir: string, name: string, results: BenchmarkResult[]) => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(file(...results)));
    return path;
  };
  const cli = async (...argv: string[]) => {
    const lines: string[] = [];
    const code = await runCli(argv, { log: (l) => lines.push(l), env: {} });
    return { code, out: lines.join('\n') };
  };

  it('exits 1 when a benchmark of the baseline is missing, 0 when it is allowed by name or altogether', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-allow-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const runs = [100, 101, 99, 100, 100];
    const base = await write(dir, 'base.json', [resultOf('native', 'cpu', runs), resultOf('docker-hostnet', 'cpu', runs)]);
    const now = await write(dir, 'now.json', [resultOf('native', 'cpu', runs)]);
    const failed = await cli('compare', base, now, '--pr-comment', join(dir, 'comment.md'));
    expect(failed.code).toBe(1);
    expect(failed.out).toMatch(
      /virtbench: the gate fails:\n {2}- docker-hostnet: platform not in the current run.*--allow-missing docker-hostnet$/,
    );
    expect(await readFile(join(dir, 'comment.md'), 'utf8')).toMatch(new RegExp(`^${PR_COMMENT_MARKER}\n`));
    expect((await cli('compare', base, now, '--allow-missing')).code).toBe(0);
    expect((await cli('compare', base, now, '--allow-missing', '--threshold', '5%')).code).toBe(0);
    expect((await cli('compare', base, now, '--allow-missing', 'docker-hostnet')).code).toBe(0);
    expect((await cli('compare', base, now, '--allow-missing', 'native', '--allow-missing', 'docker-hostnet/cpu')).code).toBe(0);
    const typo = await cli('compare', base, now, '--allow-missing', 'dockr-hostnet');
    expect(typo.code).toBe(1);
    expect(typo.out).toContain('--allow-missing dockr-hostnet names no platform or benchmark of the baseline');
    // The bare option before the results file would take it as a name, and compare the default file instead.
    await expect(cli('compare', base, '--allow-missing', now)).rejects.toThrow(
      /--allow-missing took ".*now\.json" as a platform or benchmark/,
    );
  });
});

describe('parseThreshold', () => {
  it.each([
    ['5%', { benchmark: undefined, value: 0.05 }],
    ['0.1', { benchmark: undefined, value: 0.1 }],
    ['disk-random=12.5%', { benchmark: 'disk-random', value: 0.125 }],
  ])('%s', (text, expected) => expect(parseThreshold(text)).toEqual(expected));
  it('names the bad input', () => {
    expect(() => parseThreshold('lots')).toThrow(/bad threshold "lots"/);
  });
});

describe('the run-to-run noise floor of pooled files (A/B sides, history windows)', () => {
  /** cpu (higher is better) from several runs, each sample tagged with its run as an A/B side is. */
  const pooled = (runs: number[][], tagged = true) => {
    const values = runs.flat();
    const row = resultOf('native', 'cpu', values);
    let i = 0;
    row.samples = runs.flatMap((run, r) =>
      run.map(() => ({ ...row.samples[i++]!, extra: tagged ? { run: r + 1 } : ({} as Record<string, number>) })),
    );
    return resultsFileOf([row]);
  };
  const base = (tagged = true) =>
    pooled(
      [
        [100, 101, 100],
        [120, 121, 120],
      ],
      tagged,
    );
  const head = (tagged = true) =>
    pooled(
      [
        [90, 91, 90],
        [89, 90, 89],
      ],
      tagged,
    );

  it('calls a change inside the spread between runs of one side unchanged, and says so', () => {
    const [row] = compareResults(base(), head());
    expect(row!.change).toBeLessThan(-0.15);
    expect(row!.noiseFloor).toBeCloseTo(120.5 / 100.5 - 1);
    expect(row).toMatchObject({ verdict: 'unchanged', failsGate: false });
    expect(row!.note).toMatch(/within the run-to-run noise: runs of the same side differed by 20%/);
  });

  it('is not applied to files without run tags, where the same figures regress', () => {
    const [row] = compareResults(base(false), head(false));
    expect(row).toMatchObject({ verdict: 'regressed', failsGate: true });
    expect(row!.noiseFloor).toBeUndefined();
  });

  it('lets a change beyond the spread through', () => {
    const slower = pooled([
      [70, 71, 70],
      [72, 71, 72],
    ]);
    expect(compareResults(base(), slower)[0]).toMatchObject({ verdict: 'regressed', failsGate: true });
  });
});

describe('paired samples (an A/B whose sides took turns sample by sample)', () => {
  /** A result whose samples are tagged with pairs 1..n in run `run` (pairs of run r are r*1e6 + i). */
  const pairedResult = (benchmark: string, values: number[], runs = 1) =>
    resultOf('native', benchmark, values, {}).samples.length === values.length
      ? {
          ...resultOf('native', benchmark, values),
          samples: values.map((value, i) => {
            const run = 1 + Math.floor((i * runs) / values.length);
            return { time: 0, value, seconds: 1, extra: { run, pair: run * 1_000_000 + i } };
          }),
        }
      : undefined!;
  /** A machine whose speed swings by ±30 % from one pair to the next. */
  const drift = Array.from({ length: 16 }, (_, i) => 1 + 0.3 * Math.sin(i * 1.7));

  it('the signed-rank p-value: exact as R and SciPy give it, and the normal approximation beyond 100 pairs', () => {
    // R: wilcox.test(x, y, paired = TRUE) on its help page's example: V = 40, p-value = 0.03906.
    const x = [1.83, 0.5, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.3];
    const y = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    expect(signedRankPValue(x.map((v, i) => v - y[i]!))).toBeCloseTo(0.0390625, 10);
    expect(signedRankPValue(Array.from({ length: 10 }, (_, i) => -(i + 1)))).toBeCloseTo(2 / 1024, 12);
    // SciPy: wilcoxon([sin(i) + 0.1 for i in range(n)], method='exact' for n=40, 'approx' with correction for n=150).
    const sines = (n: number) => Array.from({ length: n }, (_, i) => Math.sin(i) + 0.1);
    expect(signedRankPValue(sines(40))).toBeCloseTo(0.20641296513713314, 10);
    expect(signedRankPValue(sines(150))).toBeCloseTo(0.03867615522289194, 10);
    expect(signedRankPValue([0, 0, 0])).toBe(1);
  });

  it("Holm's adjustment", () => {
    expect(holmAdjust([0.01, 0.04, 0.03, 0.005])).toEqual([0.03, 0.06, 0.06, 0.02]);
    expect(holmAdjust([])).toEqual([]);
  });

  it('a steady 10 % slowdown under a drifting machine is a regression paired, and lost in the drift unpaired', () => {
    const base = drift.map((d) => 100 * d);
    const head = drift.map((d) => 110 * d); // seconds: lower is better, 10 % slower
    const [row] = compareResults(file(pairedResult('cpu-s', base, 2)), file(pairedResult('cpu-s', head, 2)));
    expect(row).toMatchObject({ verdict: 'regressed', pairs: 16, failsGate: true });
    expect(row!.change).toBeCloseTo(1 / 1.1 - 1, 6);
    expect(row!.noiseFloor).toBeCloseTo(0, 9);
    expect(row!.reason).toMatch(/beyond the fail threshold/);
    // The same figures without pair tags: the runs' spread swallows the change.
    const [unpaired] = compareResults(file(result('cpu-s', base)), file(result('cpu-s', head)));
    expect(unpaired!.pairs).toBeUndefined();
    expect(unpaired!.verdict).toBe('unchanged');
  });

  it('judges the paired rows as one family: a p-value that passes alone may not pass among many', () => {
    // 12 pairs 20-31 % slower, 4 pairs 7-10 % faster (the four smallest ranks): p = 2 × 43 / 2^16, about 0.0013, for one row.
    // (All different, so that no ties change the exact distribution.)
    const ratios = [1.2, 1.21, 0.9, 1.22, 1.23, 0.91, 1.24, 1.25, 1.26, 0.92, 1.27, 1.28, 1.29, 0.93, 1.3, 1.31];
    const base = drift.map((d) => 100 * d);
    const head = drift.map((d, i) => 100 * d * ratios[i]!);
    const alone = compareResults(file(pairedResult('one', base)), file(pairedResult('one', head)));
    expect(alone[0]!.verdict).toBe('regressed');
    const quiet = (name: string) => pairedResult(name, base);
    const many = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm'];
    const family = compareResults(
      file(pairedResult('one', base), ...many.map(quiet)),
      file(
        pairedResult('one', head),
        ...many.map((name) =>
          pairedResult(
            name,
            base.map((v, i) => v * (i % 2 ? 1.001 : 0.999)),
          ),
        ),
      ),
    );
    const one = family.find((r) => r.benchmark === 'one')!;
    expect(one.pValue).toBe(alone[0]!.pValue);
    expect(one.pValue).toBeCloseTo((2 * 43) / 2 ** 16, 12);
    expect(one.pValueAdjusted).toBeCloseTo(Math.min(1, 14 * one.pValue!), 12);
    expect(one.verdict).toBe('unchanged');
    expect(one.note).toMatch(/^not significant \(p=0\.018 after Holm over 14 figures, 16 pairs\)$/);
  });

  it('a change the paired runs disagree on is within the run-to-run noise', () => {
    const base = drift.map((d) => 100 * d);
    // First run 20 % slower, second run 2 % slower: the change itself moved by 18 %.
    const head = base.map((v, i) => v * (i < 8 ? 1.2 : 1.02));
    const [row] = compareResults(file(pairedResult('cpu-s', base, 2)), file(pairedResult('cpu-s', head, 2)), { pairedAlpha: 0.05 });
    expect(row!.noiseFloor).toBeGreaterThan(0.1);
    expect(row).toMatchObject({ verdict: 'unchanged' });
    expect(row!.note).toMatch(/between paired runs/);
  });

  it('says when the pairs are too few to show any change among so many figures, and how many are needed', () => {
    const rows = (n: number, pairs: number) =>
      compareResults(
        file(...Array.from({ length: n }, (_, i) => pairedResult(`b${i}`, drift.slice(0, pairs)))),
        file(...Array.from({ length: n }, (_, i) => pairedResult(`b${i}`, drift.slice(0, pairs)))),
      );
    // 12 pairs: 2 / 2^12 × 14 = 0.0068 < 1 %; 11 pairs: 0.0137.
    expect(pairsTooFew(rows(14, 12))).toBeUndefined();
    expect(pairsTooFew(rows(14, 11))).toMatch(
      /^11 pairs cannot show a change among 14 paired figures at 1.0%: at least 12 pairs are needed; fix:/,
    );
    expect(pairsTooFew(compareResults(file(result('x', [1, 2])), file(result('x', [1, 2]))))).toBeUndefined();
  });

  it('fewer than 6 pairs: compared as two groups', () => {
    const [row] = compareResults(file(pairedResult('cpu-s', [1, 2, 3, 4, 5])), file(pairedResult('cpu-s', [1, 2, 3, 4, 5])));
    expect(row!.pairs).toBeUndefined();
    expect(row!.verdict).toBe('unchanged');
  });
});
