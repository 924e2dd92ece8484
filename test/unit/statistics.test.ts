import { describe, expect, it } from 'vitest';
import { performanceRatio, quantile, summarize } from '../../src/statistics/descriptive.js';

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
