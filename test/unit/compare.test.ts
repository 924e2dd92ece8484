import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  compareResults,
  gateFailures,
  gateFails,
  parseThreshold,
  unjudgedRows,
  type CompareOptions,
} from '../../src/statistics/compare.js';
import { PR_COMMENT_MARKER } from '../../src/reporters/markdown.js';
import { renderBaselineComparison } from '../../src/reporters/table.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { asPairs, asRuns, resultOf, resultsFileOf, cliOutput } from '../builders.js';
import { normal, seeded } from '../simulate.js';

const result = (benchmark: string, values: number[], over: Partial<BenchmarkResult> = {}) => resultOf('native', benchmark, values, over);
const file = (...results: BenchmarkResult[]) => resultsFileOf(results);

describe('compareResults', () => {
  // Five runs a side (a history window, an A/B side): each run's median is one unit.
  const base = file(
    asRuns(result('cpu', [100, 101, 99, 100, 100])),
    asRuns(result('mem', [1, 1.01, 0.99, 1, 1])),
    asRuns(result('fork', [1, 1, 1, 1, 1])),
  );

  it('calls a significant slowdown beyond the threshold a regression, in either direction of better', () => {
    const now = file(
      asRuns(result('cpu', [80, 81, 79, 80, 80])),
      asRuns(result('mem', [1.3, 1.31, 1.29, 1.3, 1.3])),
      asRuns(result('fork', [1, 1, 1, 1, 1])),
    );
    const byName = Object.fromEntries(compareResults(base, now).map((c) => [c.benchmark, c]));
    expect(byName.cpu).toMatchObject({ verdict: 'regressed', failsGate: true, design: 'runs', units: 10, family: 3 });
    expect(byName.cpu!.change).toBeCloseTo(-0.2, 2);
    expect(byName.mem).toMatchObject({ verdict: 'regressed', failsGate: true });
    expect(byName.mem!.change).toBeCloseTo(1 / 1.3 - 1, 2);
    // Every run the same on both sides: shown equal, with an interval of width 0.
    expect(byName.fork).toMatchObject({ verdict: 'equivalent', failsGate: false, change: 0, changeCi95: [0, 0] });
    expect(gateFails(Object.values(byName))).toBe(true);
  });

  it('calls faster an improvement, and a change shown inside the threshold equivalent', () => {
    const now = file(
      asRuns(result('cpu', [101, 102, 100, 101, 101])),
      asRuns(result('mem', [0.5, 0.5, 0.51, 0.49, 0.5])),
      asRuns(result('fork', [1, 1, 1, 1, 1])),
    );
    const byName = Object.fromEntries(compareResults(base, now).map((c) => [c.benchmark, c]));
    expect(byName.cpu!.verdict).toBe('equivalent'); // +1 %, its 90 % interval inside ±5 %
    expect(byName.cpu!.reason).toMatch(/^the same within ±5\.0%: the 90% interval lies inside \(10 runs in all\)$/);
    expect(byName.mem!.verdict).toBe('improved');
    expect(gateFails(Object.values(byName))).toBe(false);
  });

  it('says "cannot tell" with the change it could have detected, where runs are too few or too noisy', () => {
    const c = compareResults(file(asRuns(result('cpu', [100, 140]))), file(asRuns(result('cpu', [90, 120]))))[0]!;
    expect(c.verdict).toBe('undecided');
    expect(c.detectable).toBeGreaterThan(1);
    expect(c.reason).toMatch(/^cannot tell: could detect a change of \d+% \(80% power at 1\.0% over 1 row; 4 runs in all\)$/);
    expect(gateFails([c])).toBe(false);
    // --undecided fail: a row that shows nothing fails the gate.
    expect(
      compareResults(file(asRuns(result('cpu', [100, 140]))), file(asRuns(result('cpu', [90, 120]))), { undecided: 'fail' })[0]!.failsGate,
    ).toBe(true);
  });

  it('refuses to judge one run a side: the run-to-run spread is unknown, unless a noise floor is stated', () => {
    const [c] = compareResults(file(result('cpu', [100, 101, 99, 100, 100])), file(result('cpu', [80, 81, 79, 80, 80])));
    expect(c).toMatchObject({ verdict: 'undecided', unjudged: true, failsGate: false });
    expect(unjudgedRows([c!])).toHaveLength(1);
    expect(c!.note).toMatch(/fix: compare runs paired by `virtbench ab`.*--noise-floor/);
    const [floored] = compareResults(file(result('cpu', [100, 101, 99, 100, 100])), file(result('cpu', [80, 81, 79, 80, 80])), {
      noiseFloor: 0.03,
    });
    expect(floored).toMatchObject({ verdict: 'regressed', failsGate: true, noiseFloor: 0.03, units: 2 });
    // A 4 % change under a 3 % spread between runs is no verdict either way.
    const [close] = compareResults(file(result('cpu', [100])), file(result('cpu', [96])), { noiseFloor: 0.03 });
    expect(close!.verdict).toBe('undecided');
  });

  it('honours per-benchmark noise and fail thresholds, looked up as own keys only', () => {
    const now = file(asRuns(result('cpu', [90, 91, 89, 90, 90])));
    const [c] = compareResults(base, now, { thresholds: { cpu: 0.2 } });
    expect(c!.verdict).toBe('equivalent');
    const [d] = compareResults(base, now, { failThresholds: { cpu: 0.15 } });
    expect(d).toMatchObject({ verdict: 'regressed', failsGate: false });
    // A benchmark named after a method of Object gets the default, not a function.
    const odd = file(asRuns(result('constructor', [100, 101, 99, 100, 100])));
    const slower = file(asRuns(result('constructor', [200, 202, 198, 200, 200]))); // seconds: twice as slow
    expect(compareResults(odd, slower, { thresholds: {} })[0]).toMatchObject({ threshold: 0.05, verdict: 'regressed', failsGate: true });
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

  it('never passes a figure that gives no ratio: 0, NaN or Infinity on either side is not comparable and fails', () => {
    for (const bad of [0, Number.NaN, Number.POSITIVE_INFINITY]) {
      const zeros = file(asRuns(result('mem', [bad, bad, bad, bad, bad])));
      const slower = file(asRuns(result('mem', [3, 3, 3, 3, 3])));
      for (const [before, after] of [
        [zeros, slower],
        [slower, zeros],
      ]) {
        const [c] = compareResults(before!, after!);
        expect(c).toMatchObject({ verdict: 'not comparable', failsGate: true });
        expect(c!.reason).toMatch(/has a figure of (0|NaN|Infinity): no ratio can be taken/);
      }
    }
  });

  it('rejects thresholds that are not fractions, and error rates that are not rates', () => {
    expect(() => compareResults(base, base, { threshold: 5 * 100 })).toThrow(/fraction/);
    expect(() => compareResults(base, base, { alpha: 0.7 })).toThrow(/error rate/);
  });
});

describe('the gate protects what the baseline measured', () => {
  const runs = [100, 101, 99, 100, 100];
  const cell = (platform: string, benchmark: string, over: Partial<BenchmarkResult> = {}) =>
    asRuns(resultOf(platform, benchmark, runs, over));
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
      /^\s+native\s+cpu\s+equivalent\s+\+0\.0%.*the same within ±5\.0%/,
    );
  });
});

describe('virtbench compare --allow-missing', () => {
  const write = async (dir: string, name: string, results: BenchmarkResult[]) => {
    const path = join(dir, name);
    await writeFile(path, JSON.stringify(file(...results)));
    return path;
  };
  const cli = (...argv: string[]) => cliOutput(argv);

  it('exits 1 when a benchmark of the baseline is missing, 0 when it is allowed by name or altogether', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-allow-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const runs = [100, 101, 99, 100, 100];
    const base = await write(dir, 'base.json', [asRuns(resultOf('native', 'cpu', runs)), asRuns(resultOf('docker-hostnet', 'cpu', runs))]);
    const now = await write(dir, 'now.json', [asRuns(resultOf('native', 'cpu', runs))]);
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
    // "5" as 500 % would pass every regression.
    expect(() => parseThreshold('5')).toThrow(/a bare number is a fraction \(0\.05 = 5 %\); did you mean 5%\?/);
  });
});

describe('paired samples (an A/B whose sides took turns sample by sample)', () => {
  /** 14 rows of 12 pairs, 2 % noise: native mem changed as given, the other 13 rows unchanged. */
  function pairedFiles(memHead: (pair: number, base: number) => number) {
    const random = seeded(7);
    const benchmarks = ['cpu', 'mem', 'disk-random', 'disk-copyup', 'fork', 'fork-threads', 'nginx'];
    const rows = ['native', 'docker'].flatMap((platform) =>
      benchmarks.map((benchmark) => {
        const baseValues = Array.from({ length: 12 }, () => 100 * Math.exp(0.02 * normal(random)));
        const headValues = baseValues.map((b, i) =>
          platform === 'native' && benchmark === 'mem' ? memHead(i, b) : 100 * Math.exp(0.02 * normal(random)),
        );
        return asPairs(resultOf(platform, benchmark, baseValues), resultOf(platform, benchmark, headValues));
      }),
    );
    return [resultsFileOf(rows.map(([b]) => b)), resultsFileOf(rows.map(([, h]) => h))] as const;
  }

  it('catches a 30 % slowdown in 11 of 12 pairs (one pair 0.1 % faster): exit 1', () => {
    const [base, head] = pairedFiles((i, b) => (i === 5 ? b / 1.001 : b * 1.3));
    const mem = compareResults(base, head).find((c) => c.platform === 'native' && c.benchmark === 'mem')!;
    expect(mem).toMatchObject({ verdict: 'regressed', failsGate: true, pairs: 12, design: 'pairs', family: 14 });
    expect(mem.reason).toMatch(/after Holm over 14 rows \(12 pairs\)/);
  });

  it('catches a 3x slowdown in 10 of 12 pairs, the other two identical (timer quantisation)', () => {
    const [base, head] = pairedFiles((i, b) => (i < 2 ? b : b * 3));
    const mem = compareResults(base, head).find((c) => c.platform === 'native' && c.benchmark === 'mem')!;
    expect(mem).toMatchObject({ verdict: 'regressed', failsGate: true, pairs: 12 });
  });

  it('judges every row as one family: a p-value that passes alone may not pass among many', () => {
    const [base, head] = pairedFiles((_, b) => b * 1.3);
    const rows = compareResults(base, head);
    expect(rows.every((r) => r.family === 14)).toBe(true);
    const mem = rows.find((c) => c.platform === 'native' && c.benchmark === 'mem')!;
    expect(mem.pWorse).toBeLessThan(1e-6);
    expect(rows.filter((r) => r.verdict === 'regressed')).toHaveLength(1);
  });

  it('a steady 10 % slowdown under a drifting machine is a regression paired, and lost in the drift unpaired', () => {
    const drift = [1, 0.8, 1.2, 0.9, 1.1, 0.85, 1.15, 0.95, 1.05, 1, 0.9, 1.1];
    const base = resultOf(
      'native',
      'cpu',
      drift.map((d) => 100 * d),
    );
    const head = resultOf(
      'native',
      'cpu',
      drift.map((d) => 90 * d * (1 + 0.005 * Math.sin(d * 50))),
    );
    const [pairedBase, pairedHead] = asPairs(structuredClone(base), structuredClone(head));
    expect(compareResults(file(pairedBase), file(pairedHead))[0]).toMatchObject({ verdict: 'regressed', failsGate: true });
    expect(compareResults(file(asRuns(base)), file(asRuns(head)))[0]!.verdict).toBe('undecided');
  });
});
