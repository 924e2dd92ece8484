import { median } from './descriptive.js';
import { studentCdf, studentQuantile } from './distributions.js';

/*
 * Every change virtbench states is a ratio of performance (> 1 is better), estimated on the log scale:
 * log ratios of independent units (pairs taken seconds apart, rounds of one run, whole runs) are
 * averaged, and Student's t gives the interval and the tests. The log makes "2x faster" and "2x slower"
 * symmetric, and the unit is what repeats independently: never the samples of one run when runs are
 * what differ (see CONTRIBUTING.md, "Statistics").
 */

export type Better = 'higher' | 'lower';

/** What the units of an estimate are: a unit is one independent repetition of the comparison. */
export type Design =
  /** samples of the two sides taken in turns seconds apart (an A/B's extra.pair): one log ratio a pair */
  | 'pairs'
  /** rounds of one run (extra.round): each platform's sample of a round against the baseline's */
  | 'rounds'
  /** whole runs (extra.run), each run's median one unit: the run-to-run spread is the noise */
  | 'runs'
  /** single samples as independent units, where nothing says how they were taken (no rounds, no runs) */
  | 'samples';

export interface ChangeEstimate {
  design: Design;
  /** Units in all: pairs or rounds, or the runs of both sides. */
  n: number;
  /** Mean log performance ratio (> 0 is better): the log of the geometric mean ratio. */
  logRatio: number;
  /** Standard error of logRatio; 0 when every unit agrees exactly; NaN when nothing estimates it. */
  se: number;
  /** Degrees of freedom of its t; Infinity where a stated noise floor is the spread; 0: no interval can be made. */
  df: number;
  /** The stated run-to-run noise floor (relative) that set or raised the spread. */
  noiseFloor?: number;
}

export type EstimateOutcome = { estimate: ChangeEstimate } | { notComparable: string };

/** log(performance ratio) of value against base; NaN unless both are finite and above 0. */
export function logPerformanceRatio(value: number, base: number, better: Better): number {
  if (!(value > 0 && base > 0 && Number.isFinite(value) && Number.isFinite(base))) return Number.NaN;
  return better === 'higher' ? Math.log(value) - Math.log(base) : Math.log(base) - Math.log(value);
}

/** Why these figures give no ratio (a 0, a negative, NaN or Infinity), naming the side; undefined when they do. */
export function uncomputable(values: Iterable<number>, side: string): string | undefined {
  for (const value of values) {
    if (!(value > 0 && Number.isFinite(value))) {
      return `the ${side} has a figure of ${value}: no ratio can be taken (a workload's figures are finite and above 0)`;
    }
  }
  return undefined;
}

function meanAndSumOfSquares(values: readonly number[]): { mean: number; squares: number } {
  let sum = 0;
  for (const v of values) sum += v;
  const mean = sum / values.length;
  let squares = 0;
  for (const v of values) squares += (v - mean) ** 2;
  return { mean, squares };
}

/** The change from paired units (pairs or rounds): the mean of their log ratios, one-sample t. */
export function pairedChange(
  pairs: readonly (readonly [base: number, value: number])[],
  better: Better,
  design: 'pairs' | 'rounds',
): EstimateOutcome {
  const bad =
    uncomputable(
      pairs.map(([base]) => base),
      'baseline',
    ) ??
    uncomputable(
      pairs.map(([, value]) => value),
      'current side',
    );
  if (bad) return { notComparable: bad };
  const logs = pairs.map(([base, value]) => logPerformanceRatio(value, base, better));
  const n = logs.length;
  if (n === 0) return { notComparable: `no ${design} measured on both sides` };
  const { mean, squares } = meanAndSumOfSquares(logs);
  const df = n - 1;
  return { estimate: { design, n, logRatio: mean, se: df > 0 ? Math.sqrt(squares / df / n) : Number.NaN, df } };
}

/**
 * The change between two groups of units (runs, or samples where nothing else is known): each unit's
 * median on the log scale, the difference of the means, and the pooled two-sample t (one machine and one
 * benchmark: the same spread on both sides). `noiseFloor` (relative, such as 0.03) is a stated run-to-run
 * spread: it stands in where one unit a side leaves the spread unknown, and is the least spread otherwise.
 */
export function groupsChange(
  baseUnits: readonly (readonly number[])[],
  valueUnits: readonly (readonly number[])[],
  better: Better,
  design: 'runs' | 'samples',
  noiseFloor?: number,
): EstimateOutcome {
  const bad = uncomputable(baseUnits.flat(), 'baseline') ?? uncomputable(valueUnits.flat(), 'current side');
  if (bad) return { notComparable: bad };
  if (baseUnits.length === 0 || valueUnits.length === 0) return { notComparable: 'no runs on one side' };
  const base = meanAndSumOfSquares(baseUnits.map((unit) => Math.log(median(unit))));
  const value = meanAndSumOfSquares(valueUnits.map((unit) => Math.log(median(unit))));
  const [n1, n2] = [baseUnits.length, valueUnits.length];
  const orientation = better === 'higher' ? 1 : -1;
  const logRatio = orientation * (value.mean - base.mean) || 0; // no -0 for "lower is better"
  let df = n1 + n2 - 2;
  let sd = df > 0 ? Math.sqrt((base.squares + value.squares) / df) : Number.NaN;
  const estimate: ChangeEstimate = { design, n: n1 + n2, logRatio, se: Number.NaN, df };
  if (noiseFloor !== undefined) {
    const floor = Math.log1p(noiseFloor);
    if (df === 0) [sd, df] = [floor, Number.POSITIVE_INFINITY];
    else sd = Math.max(sd, floor);
    Object.assign(estimate, { df, noiseFloor });
  }
  estimate.se = sd * Math.sqrt(1 / n1 + 1 / n2);
  return { estimate };
}

/** Whether an estimate can give an interval and a test: an estimated (or stated) spread. */
export function hasInterval(estimate: ChangeEstimate): boolean {
  return estimate.df > 0 && Number.isFinite(estimate.se);
}

/** The two-sided interval of the log ratio at `level`; undefined where none can be made. */
export function logInterval(estimate: ChangeEstimate, level: number): [number, number] | undefined {
  if (!hasInterval(estimate)) return undefined;
  const reach = studentQuantile(1 - (1 - level) / 2, estimate.df) * estimate.se;
  return [estimate.logRatio - reach, estimate.logRatio + reach];
}

/** The interval of the performance ratio (> 1 better) at `level` (default 95 %). */
export function ratioInterval(estimate: ChangeEstimate, level = 0.95): [number, number] | undefined {
  const logs = logInterval(estimate, level);
  return logs && [Math.exp(logs[0]), Math.exp(logs[1])];
}

/** The performance ratio itself: the geometric mean of the units' ratios. */
export function ratioOf(estimate: ChangeEstimate): number {
  return Math.exp(estimate.logRatio);
}

/**
 * One-sided p-value of "not worse" (H0: log ratio >= 0) against "worse": small when the current side is
 * slower. 1 where no test can be made. With a spread of 0, every unit agreed: 0 when they agreed on worse.
 */
export function pWorse(estimate: ChangeEstimate): number {
  if (!hasInterval(estimate)) return 1;
  if (estimate.se === 0) return estimate.logRatio < 0 ? 0 : 1;
  return studentCdf(estimate.logRatio / estimate.se, estimate.df);
}

/** One-sided p-value of "not better" against "better". */
export function pBetter(estimate: ChangeEstimate): number {
  return pWorse({ ...estimate, logRatio: -estimate.logRatio });
}

/**
 * How far a log ratio must lie from 0 to be seen with `power` by a one-sided test at `alpha`: the
 * change this estimate's spread could have detected, as a relative change (0.12 = 12 %).
 */
export function detectableChange(estimate: ChangeEstimate, alpha: number, power = 0.8): number | undefined {
  if (!hasInterval(estimate)) return undefined;
  const reach = (studentQuantile(1 - alpha, estimate.df) + studentQuantile(power, estimate.df)) * estimate.se;
  return Math.expm1(reach);
}
