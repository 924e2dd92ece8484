import { median } from './descriptive.js';
import { studentCdf } from './distributions.js';

/*
 * Did a series move over time (the baseline platform's runs, in time order)? A rank trend test
 * whose error is known, so that a stationary run warns at the stated rate and no more: Mann-Kendall
 * with its exact null distribution up to EXACT_MAX values, Spearman's rank correlation with time
 * above (one sort: linear memory, no recursion, for any accepted file size).
 */

const EXACT_MAX = 50;

/** P(I <= k) for the inversions I of a random permutation of n, k = 0 .. n(n-1)/2 (Mahonian numbers, as probabilities). */
function inversionCdf(n: number): Float64Array {
  let probability = new Float64Array([1]);
  for (let m = 2; m <= n; m++) {
    const size = (m * (m - 1)) / 2 + 1;
    const next = new Float64Array(size);
    // P_m(k) = (1/m) sum_{j=0}^{m-1} P_{m-1}(k - j): the m-th value adds j inversions, each j alike.
    let window = 0;
    for (let k = 0; k < size; k++) {
      if (k < probability.length) window += probability[k]!;
      if (k - m >= 0 && k - m < probability.length) window -= probability[k - m]!;
      next[k] = window / m;
    }
    probability = next;
  }
  for (let k = 1; k < probability.length; k++) probability[k] = probability[k]! + probability[k - 1]!;
  return probability;
}

/** Mann-Kendall S: concordant minus discordant pairs (ties count neither). */
function kendallS(values: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) for (let j = i + 1; j < values.length; j++) s += Math.sign(values[j]! - values[i]!);
  return s;
}

/** Mid-ranks (1-based) of values, ties sharing their mean rank. */
function ranks(values: readonly number[]): Float64Array {
  const order = new Uint32Array(values.length).map((_, i) => i).sort((a, b) => values[a]! - values[b]!);
  const result = new Float64Array(values.length);
  for (let start = 0; start < order.length;) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    for (let k = start; k < end; k++) result[order[k]!] = (start + 1 + end) / 2;
    start = end;
  }
  return result;
}

/**
 * Two-sided p-value of "no monotone trend" for a series in time order; 1 below 3 values. Exact
 * (Mann-Kendall, ties counted as no change, which only makes it more cautious) up to 50 values.
 */
export function trendPValue(series: readonly number[]): number {
  const n = series.length;
  if (n < 3) return 1;
  if (n <= EXACT_MAX) {
    const pairs = (n * (n - 1)) / 2;
    const s = Math.abs(kendallS(series));
    if (s === 0) return 1;
    // Without ties S = pairs - 2 I; P(|S| >= s) = 2 P(I <= (pairs - s) / 2).
    const cdf = inversionCdf(n);
    return Math.min(1, 2 * cdf[Math.floor((pairs - s) / 2)]!);
  }
  const r = ranks(series);
  const mean = (n + 1) / 2;
  let covariance = 0;
  let variance = 0;
  for (let i = 0; i < n; i++) {
    covariance += (r[i]! - mean) * (i + 1 - mean);
    variance += (r[i]! - mean) ** 2;
  }
  if (variance === 0) return 1;
  const timeVariance = (n * (n * n - 1)) / 12;
  const rho = covariance / Math.sqrt(variance * timeVariance);
  if (Math.abs(rho) >= 1) return 0;
  const t = rho * Math.sqrt((n - 2) / (1 - rho * rho));
  return 2 * studentCdf(-Math.abs(t), n - 2);
}

/** Relative change of the median from the earlier to the later half of a series; undefined below 4 values or a zero median. */
export function halvesChange(series: readonly number[]): number | undefined {
  if (series.length < 4) return undefined;
  const half = Math.floor(series.length / 2);
  const early = median(series.slice(0, half));
  const late = median(series.slice(series.length - half));
  return early === 0 ? undefined : Math.abs(late - early) / Math.abs(early);
}
