import { describe, expect, it } from 'vitest';
import { bootstrapChangeCi, compareResults, gateFails, parseThreshold, rankTestPValue } from '../../src/reporters/compare.js';
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

  it('reports platforms or benchmarks in only one file as added or removed', () => {
    const now = file(
      result('cpu', [100, 100, 100, 100, 100]),
      result('nginx', [1, 1, 1]),
      result('mem', [1, 1, 1], { platform: 'docker' }),
    );
    const verdicts = compareResults(base, now).map((c) => `${c.platform}/${c.benchmark}:${c.verdict}`);
    expect(verdicts).toEqual(
      expect.arrayContaining(['native/nginx:added', 'docker/mem:added', 'native/mem:removed', 'native/fork:removed']),
    );
  });

  it('fails the gate when a benchmark failed in the current run', () => {
    const now = file(result('fork', [], { status: 'failed', error: 'boom' }));
    const fork = compareResults(base, now).find((c) => c.benchmark === 'fork')!;
    expect(fork).toMatchObject({ verdict: 'not comparable', failsGate: true, note: 'failed in the current run' });
  });

  it('rejects thresholds that are not fractions', () => {
    expect(() => compareResults(base, base, { threshold: 5 * 100 })).toThrow(/fraction/);
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
