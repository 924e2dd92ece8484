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
export function quantile(sorted: readonly number[], p: number): number {
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

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
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
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const mean = sorted.reduce((sum, v) => sum + v, 0) / n;
  const variance = n > 1 ? sorted.reduce((sum, v) => sum + (v - mean) ** 2, 0) / (n - 1) : 0;
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
 * Percentile-bootstrap 95 % interval of performanceRatio(median(b), median(a)):
 * both groups resampled with replacement (stdlib's seeded sampler), `rounds` times.
 */
export function bootstrapRatioCi(a: readonly number[], b: readonly number[], better: 'higher' | 'lower', rounds = 2000): [number, number] {
  const resample = sampleFrom.factory({ seed: BOOTSTRAP_SEED });
  const ratios: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const ratio = performanceRatio(median(resample([...b])), median(resample([...a])), better);
    if (Number.isFinite(ratio)) ratios.push(ratio);
  }
  ratios.sort((x, y) => x - y);
  return [quantile(ratios, 0.025), quantile(ratios, 0.975)];
}

/** A performance ratio to a baseline (> 1 is better), with its bootstrap 95 % interval. */
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
 * the drift cancels in each ratio instead of widening the interval.
 */
export function pairedRatioEstimate(
  pairs: readonly (readonly [base: number, value: number])[],
  better: 'higher' | 'lower',
): RatioEstimate | undefined {
  const ratios = pairs.map(([base, value]) => performanceRatio(value, base, better)).filter(Number.isFinite);
  if (ratios.length === 0) return undefined;
  const resample = sampleFrom.factory({ seed: BOOTSTRAP_SEED });
  const medians: number[] = [];
  for (let i = 0; i < 2000; i++) medians.push(median(resample([...ratios])));
  medians.sort((a, b) => a - b);
  const ci95: [number, number] = [quantile(medians, 0.025), quantile(medians, 0.975)];
  return { ratio: median(ratios), ci95, resolved: !(ci95[0] <= 1 && 1 <= ci95[1]) };
}
