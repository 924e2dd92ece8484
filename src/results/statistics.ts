import sampleFrom from '@stdlib/random-sample';

/** Summary statistics of one benchmark's samples; computed in exactly one place. */
export interface Summary {
  n: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for a single sample. */
  sd: number;
  median: number;
  q1: number;
  q3: number;
  iqr: number;
  /** IQR relative to the median: a robust spread that reads as a percentage. */
  relativeIqr: number;
  /** Distribution-free 95% confidence interval of the median (order statistics); undefined below 6 samples. */
  medianCi95?: [number, number];
}

/** Quantile with linear interpolation between order statistics (R type 7, NumPy's default). */
export function quantile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) throw new RangeError('quantile of no samples');
  const position = (sorted.length - 1) * p;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower]! + (sorted[upper]! - sorted[lower]!) * (position - lower);
}

/**
 * Ranks of the order statistics bracketing the median with >= 95% coverage,
 * from the binomial(n, 1/2) distribution; undefined when n is too small.
 */
function medianCiRanks(n: number): [number, number] | undefined {
  // P(X <= k) for X ~ Binomial(n, 0.5), accumulated in log space for large n.
  let cumulative = 0;
  let k = -1;
  const logHalfN = n * Math.log(0.5);
  let logChoose = 0; // log C(n, 0)
  for (let i = 0; i <= n; i++) {
    if (i > 0) logChoose += Math.log((n - i + 1) / i);
    const next = cumulative + Math.exp(logChoose + logHalfN);
    if (next > 0.025) break;
    cumulative = next;
    k = i;
  }
  // Interval [x_(k+1), x_(n-k)] (1-based) has coverage 1 - 2 P(X <= k) >= 0.95.
  if (k < 0) return undefined;
  return [k, n - k - 1];
}

/**
 * Moves the k-th smallest value to index k, smaller ones before it and larger
 * ones after (quickselect, Hoare partition). Linear on values in random order,
 * such as a bootstrap resample; a crafted order can make it quadratic, so
 * values as they come from a file are sorted instead.
 */
function selectInPlace(values: number[], k: number): void {
  let left = 0;
  let right = values.length - 1;
  const swap = (i: number, j: number) => {
    const t = values[i]!;
    values[i] = values[j]!;
    values[j] = t;
  };
  while (right > left) {
    const pivot = values[k]!;
    let i = left;
    let j = right;
    swap(left, k);
    if (values[right]! > pivot) swap(left, right);
    while (i < j) {
      swap(i, j);
      i++;
      j--;
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
    }
    if (values[left] === pivot) swap(left, j);
    else swap(++j, right);
    if (j <= k) left = j + 1;
    if (k <= j) right = j - 1;
  }
}

/** The median of a bootstrap resample as quantile(sorted, 0.5) computes it, by selection; reorders `values`. */
function resampleMedian(values: number[]): number {
  const n = values.length;
  if (n === 0) throw new RangeError('quantile of no samples');
  const upper = n >> 1;
  selectInPlace(values, upper);
  if (n % 2 === 1) return values[upper]!;
  // Everything before `upper` is <= values[upper]: the lower middle is the largest of them.
  let lower = values[0]!;
  for (let i = 1; i < upper; i++) if (values[i]! > lower) lower = values[i]!;
  // quantile's own interpolation, so both give the same bits.
  return lower + (values[upper]! - lower) * 0.5;
}

/** A sorted copy; a Float64Array sorts numerically in native code, many times faster than a comparator. */
function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

export function median(values: ArrayLike<number>): number {
  return quantile(sortedCopy(values), 0.5);
}

/** Sample standard deviation relative to the mean; infinite with fewer than 2 values or a zero mean. */
export function relativeSd(values: readonly number[]): number {
  if (values.length < 2) return Number.POSITIVE_INFINITY;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, v) => a + (v - mean) ** 2, 0) / (values.length - 1);
  return mean === 0 ? Number.POSITIVE_INFINITY : Math.sqrt(variance) / Math.abs(mean);
}

export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) throw new RangeError('summary of no samples');
  const sorted = sortedCopy(values);
  const n = sorted.length;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  const mean = sum / n;
  let squares = 0;
  for (let i = 0; i < n; i++) squares += (sorted[i]! - mean) ** 2;
  const variance = n > 1 ? squares / (n - 1) : 0;
  const median = quantile(sorted, 0.5);
  const q1 = quantile(sorted, 0.25);
  const q3 = quantile(sorted, 0.75);
  const ranks = medianCiRanks(n);
  return {
    n,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean,
    sd: Math.sqrt(variance),
    median,
    q1,
    q3,
    iqr: q3 - q1,
    relativeIqr: median !== 0 ? (q3 - q1) / Math.abs(median) : 0,
    medianCi95: ranks ? [sorted[ranks[0]]!, sorted[ranks[1]]!] : undefined,
  };
}

/**
 * How a platform performs relative to a baseline, oriented so that > 1 is
 * better: value/baseline for higher-is-better, baseline/value for lower-is-better.
 */
export function performanceRatio(value: number, baseline: number, better: 'higher' | 'lower'): number {
  if (better === 'higher') return baseline === 0 ? Number.NaN : value / baseline;
  return value === 0 ? Number.NaN : baseline / value;
}

/** Fixed, so the same files always give the same interval. */
const BOOTSTRAP_SEED = 0x5eed;

/**
 * The bootstrap costs rounds x (n_a + n_b): fine for the tens of runs a
 * benchmark takes, hours for a million. Up to this many runs in all it runs as
 * it always did (same seed, same intervals); above it, the intervals come from
 * order statistics, which at that size are as good and take one sort.
 */
const BOOTSTRAP_MAX_RUNS = 4000;

/** z for a two-sided 95 % normal interval. */
const Z95 = 1.959963984540054;

/**
 * log(median) and its standard error from the distribution-free 95 % interval
 * of the median (the order statistics medianCiRanks picks, as in summarize):
 * that interval is about median +- 1.96 se, so se(log median) is about
 * (log upper - log lower) / (2 * 1.96). Undefined below 6 runs, where no such interval exists.
 */
function logMedianWithSe(values: readonly number[]): { logMedian: number; se: number } | undefined {
  const sorted = sortedCopy(values);
  const ranks = medianCiRanks(sorted.length);
  if (!ranks) return undefined;
  const se = (Math.log(sorted[ranks[1]]!) - Math.log(sorted[ranks[0]]!)) / (2 * Z95);
  return { logMedian: Math.log(quantile(sorted, 0.5)), se };
}

/**
 * Large-sample 95 % interval of performanceRatio(median(b), median(a)): the
 * medians are independent, so on the log scale their variances add (delta
 * method: var(log ratio) = var(log med_a) + var(log med_b)). One sort a side.
 */
function orderStatisticsRatioCi(a: readonly number[], b: readonly number[], better: 'higher' | 'lower'): [number, number] {
  const [base, value] = [logMedianWithSe(a), logMedianWithSe(b)];
  // A side with fewer than 6 runs has no distribution-free interval: nothing is resolved.
  if (!base || !value) return [0, Number.POSITIVE_INFINITY];
  // performanceRatio on the log scale; a median of 0 has no logarithm, and gets no interval.
  const logRatio = better === 'higher' ? value.logMedian - base.logMedian : base.logMedian - value.logMedian;
  if (!Number.isFinite(logRatio)) return [Number.NaN, Number.NaN];
  const se = Math.hypot(base.se, value.se);
  return [Math.exp(logRatio - Z95 * se), Math.exp(logRatio + Z95 * se)];
}

/**
 * 95 % interval of performanceRatio(median(b), median(a)); [NaN, NaN] when no
 * ratio is defined (a median of 0). Up to BOOTSTRAP_MAX_RUNS runs: the
 * percentile bootstrap, both groups resampled with replacement (stdlib's seeded
 * sampler), `rounds` times; above: orderStatisticsRatioCi.
 */
export function bootstrapRatioCi(a: readonly number[], b: readonly number[], better: 'higher' | 'lower', rounds = 2000): [number, number] {
  if (a.length + b.length > BOOTSTRAP_MAX_RUNS) return orderStatisticsRatioCi(a, b, better);
  const resample = sampleFrom.factory({ seed: BOOTSTRAP_SEED });
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    // Each resample is a fresh array, so selecting in it reorders nothing of ours.
    const ratio = performanceRatio(resampleMedian(resample(b)), resampleMedian(resample(a)), better);
    if (Number.isFinite(ratio)) ratios.push(ratio);
  }
  if (ratios.length === 0) return [Number.NaN, Number.NaN];
  ratios.sort((x, y) => x - y);
  return [quantile(ratios, 0.025), quantile(ratios, 0.975)];
}

/** A performance ratio to a baseline (> 1 is better), with its 95 % interval. */
export interface RatioEstimate {
  ratio: number;
  ci95: [number, number];
  /** False when the interval contains 1: no difference this machine can resolve. */
  resolved: boolean;
}

/** The ratio of medians of values to base, oriented by `better`, with its interval; undefined without runs on both sides. */
export function ratioEstimate(base: readonly number[], values: readonly number[], better: 'higher' | 'lower'): RatioEstimate | undefined {
  if (base.length === 0 || values.length === 0) return undefined;
  const ratio = performanceRatio(median(values), median(base), better);
  if (!Number.isFinite(ratio)) return undefined;
  const ci95 = bootstrapRatioCi(base, values, better);
  return { ratio, ci95, resolved: !(ci95[0] <= 1 && 1 <= ci95[1]) };
}

/**
 * The ratio from runs taken side by side (the same round of a run): the
 * median of the per-round ratios, with a bootstrap interval over rounds. A
 * machine that drifts during the run moves both runs of a round alike, so
 * the drift cancels in each ratio instead of widening the interval. Above
 * BOOTSTRAP_MAX_RUNS runs (two a round), the interval is the median's
 * distribution-free one from order statistics, as in summarize.
 */
export function pairedRatioEstimate(
  pairs: readonly (readonly [base: number, value: number])[],
  better: 'higher' | 'lower',
): RatioEstimate | undefined {
  const ratios = pairs.map(([base, value]) => performanceRatio(value, base, better)).filter(Number.isFinite);
  if (ratios.length === 0) return undefined;
  if (2 * ratios.length > BOOTSTRAP_MAX_RUNS) {
    const sorted = sortedCopy(ratios);
    const [lower, upper] = medianCiRanks(sorted.length)!; // defined from 6 ratios on
    const ci95: [number, number] = [sorted[lower]!, sorted[upper]!];
    return { ratio: quantile(sorted, 0.5), ci95, resolved: !(ci95[0] <= 1 && 1 <= ci95[1]) };
  }
  const resample = sampleFrom.factory({ seed: BOOTSTRAP_SEED });
  const medians: number[] = [];
  for (let i = 0; i < 2000; i++) medians.push(resampleMedian(resample(ratios)));
  medians.sort((a, b) => a - b);
  const ci95: [number, number] = [quantile(medians, 0.025), quantile(medians, 0.975)];
  return { ratio: median(ratios), ci95, resolved: !(ci95[0] <= 1 && 1 <= ci95[1]) };
}
