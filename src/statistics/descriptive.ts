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
