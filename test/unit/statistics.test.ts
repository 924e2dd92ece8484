import { describe, expect, it } from 'vitest';
import {
  bootstrapRatioCi,
  median,
  pairedRatioEstimate,
  performanceRatio,
  quantile,
  ratioEstimate,
  summarize,
} from '../../src/results/statistics.js';

describe('summarize', () => {
  it('matches hand-computed statistics on known data', () => {
    // Sorted: 1 2 3 4 5 6 7 8 9 10; type-7 quartiles 3.25 and 7.75.
    const s = summarize([7, 1, 10, 3, 5, 2, 9, 4, 8, 6]);
    expect(s.n).toBe(10);
    expect(s.min).toBe(1);
    expect(s.max).toBe(10);
    expect(s.mean).toBe(5.5);
    expect(s.median).toBe(5.5);
    expect(s.q1).toBeCloseTo(3.25, 12);
    expect(s.q3).toBeCloseTo(7.75, 12);
    expect(s.iqr).toBeCloseTo(4.5, 12);
    expect(s.relativeIqr).toBeCloseTo(4.5 / 5.5, 12);
    expect(s.sd).toBeCloseTo(3.0276503540974917, 12); // sqrt(82.5 / 9)
    // Binomial(10, 1/2): P(X <= 1) = 11/1024 <= 0.025 < P(X <= 2), so the interval is [x(2), x(9)].
    expect(s.medianCi95).toEqual([2, 9]);
  });

  it('handles one sample and an odd count', () => {
    expect(summarize([4])).toMatchObject({ median: 4, sd: 0, iqr: 0, medianCi95: undefined });
    expect(summarize([3, 1, 2]).median).toBe(2);
  });

  it('gives no median interval below six samples and one from six on', () => {
    expect(summarize([1, 2, 3, 4, 5]).medianCi95).toBeUndefined();
    expect(summarize([1, 2, 3, 4, 5, 6]).medianCi95).toEqual([1, 6]);
  });

  it('refuses an empty sample', () => {
    expect(() => summarize([])).toThrow(RangeError);
    expect(() => quantile([], 0.5)).toThrow(RangeError);
  });
});

describe('performanceRatio', () => {
  it('is above 1 when the platform is better, in either direction', () => {
    expect(performanceRatio(120, 100, 'higher')).toBeCloseTo(1.2);
    expect(performanceRatio(0.5, 1, 'lower')).toBe(2);
    expect(performanceRatio(2, 1, 'lower')).toBe(0.5);
  });

  it('is NaN rather than Infinity when a zero would divide', () => {
    expect(performanceRatio(0, 1, 'lower')).toBeNaN();
    expect(performanceRatio(1, 0, 'higher')).toBeNaN();
  });
});

/** A seeded generator (mulberry32), so the large inputs are the same on every run. */
function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n runs of a noisy benchmark: 100 * scale, times lognormal noise of about 5 %. */
function runs(n: number, scale: number, random: () => number): number[] {
  return Array.from({ length: n }, () => {
    const normal = Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
    return 100 * scale * Math.exp(0.05 * normal);
  });
}

describe('the ratio intervals', () => {
  const a = [5.0, 5.1, 4.9, 5.0, 5.2, 4.8, 5.05, 4.95];
  const b = [4.0, 4.1, 3.9, 4.2, 4.05, 3.95];

  it('give the same intervals as the sort-per-resample bootstrap for small inputs', () => {
    // Computed by the bootstrap before it selected medians instead of sorting each resample.
    expect(bootstrapRatioCi(a, b, 'higher')).toEqual([0.78, 0.8350515463917526]);
    expect(bootstrapRatioCi(a, b, 'lower')).toEqual([1.1975308641975309, 1.2820512820512822]);
    expect(ratioEstimate(a, b, 'lower')).toEqual({
      ratio: 1.2422360248447204,
      ci95: [1.1975308641975309, 1.2820512820512822],
      resolved: true,
    });
    const pairs = b.map((value, i) => [a[i]!, value] as const);
    // Many ties, even counts, and the largest size still bootstrapped (2000 + 2000).
    const tied = (n: number) => Array.from({ length: n }, (_, i) => 100 + ((i * 7919) % 101));
    const ci = (n: number) =>
      bootstrapRatioCi(
        tied(n),
        tied(n).map((v) => v * 1.1),
        'higher',
      );
    expect(ci(500)).toEqual([1.0559541666666667, 1.1452132735002363]);
    expect(ci(2000)).toEqual([1.0745853550586846, 1.1222972972972975]);
    expect(pairedRatioEstimate(pairs, 'higher')).toEqual({
      ratio: 0.8019607843137255,
      ci95: [0.7873822605965461, 0.8314583333333334],
      resolved: true,
    });
  });

  it('take the median of even and odd counts, ties included, as quantile does', () => {
    const random = seededRandom(7);
    for (let n = 1; n < 60; n++) {
      const values = Array.from({ length: n }, () => Math.round(random() * 10) / 4);
      expect(median(values)).toBe(
        quantile(
          [...values].sort((x, y) => x - y),
          0.5,
        ),
      );
    }
  });

  it('find a known 10 % shift between a million runs a side within seconds', () => {
    const random = seededRandom(42);
    const base = runs(1_000_000, 1, random);
    const faster = runs(1_000_000, 1.1, random);
    const started = performance.now();
    const ci = bootstrapRatioCi(base, faster, 'higher');
    const elapsed = performance.now() - started;
    expect(elapsed).toBeLessThan(5000);
    expect(ci[0]).toBeLessThan(1.1);
    expect(ci[1]).toBeGreaterThan(1.1);
    expect(ci[1] - ci[0]).toBeLessThan(0.002); // a million runs pin the ratio down
    // Lower is better: the same figures read as durations give the reciprocal.
    const [low, high] = bootstrapRatioCi(base, faster, 'lower');
    expect(low).toBeCloseTo(1 / ci[1], 6);
    expect(high).toBeCloseTo(1 / ci[0], 6);
  }, 30_000);

  it('agree in width with the bootstrap on either side of the size where they switch', () => {
    const random = seededRandom(3);
    const width = ([low, high]: [number, number]) => high - low;
    const bootstrapped = width(bootstrapRatioCi(runs(2000, 1, random), runs(2000, 1.1, random), 'higher'));
    const fromOrderStatistics = width(bootstrapRatioCi(runs(2001, 1, random), runs(2001, 1.1, random), 'higher'));
    expect(fromOrderStatistics / bootstrapped).toBeGreaterThan(0.7);
    expect(fromOrderStatistics / bootstrapped).toBeLessThan(1.4);
  }, 30_000);

  it('give no interval rather than throw when every ratio divides by zero', () => {
    expect(bootstrapRatioCi([0, 0, 0], [1, 2, 3], 'higher')).toEqual([Number.NaN, Number.NaN]);
    expect(bootstrapRatioCi(new Array(3000).fill(0), new Array(3000).fill(1), 'higher')).toEqual([Number.NaN, Number.NaN]);
  });

  it('resolve a paired 10 % shift over a million rounds within seconds', () => {
    const random = seededRandom(9);
    const pairs = runs(1_000_000, 1, random).map((base) => [base, base * 1.1 * (1 + (random() - 0.5) * 0.02)] as const);
    const started = performance.now();
    const estimate = pairedRatioEstimate(pairs, 'higher')!;
    expect(performance.now() - started).toBeLessThan(5000);
    expect(estimate.ratio).toBeCloseTo(1.1, 3);
    expect(estimate.ci95[0]).toBeLessThan(1.1);
    expect(estimate.ci95[1]).toBeGreaterThan(1.1);
    expect(estimate.resolved).toBe(true);
  }, 30_000);
});
