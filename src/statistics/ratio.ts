import { samplesPairedBy } from '../results/runs.js';
import type { BenchmarkResult, CellVerdict } from '../results/schema.js';
import { groupsChange, pairedChange, ratioInterval, ratioOf, type Design, type EstimateOutcome } from './estimate.js';
import { shownEquivalent } from './verdicts.js';
import { UNTIL_DECIDED_LEVEL } from './until-decided.js';

/*
 * A platform against the baseline platform of the same run (a cell of the table, a finding): the
 * ratio with its 95 % interval, and what the interval lets one say:
 *   different   the interval excludes 1;
 *   equivalent  the 90 % interval lies within +-margin (an equivalence test, TOST at 5 %);
 *   undecided   neither: the cell says how far the interval reaches instead of a ratio.
 * One cell is one statement at 5 %: a table of many cells is read cell by cell, not as a gate.
 * Where the run added rounds until its comparisons were decided (a result with stoppedBy), the
 * interval is the 98 % one, and equivalence is shown at 2 % a side: an adaptive stop favours rounds
 * that happen to agree, and these keep the errors within 5 % (see until-decided.ts).
 */

/** The margin within which a cell may read "the same" (≈1x). */
export const EQUIVALENCE_MARGIN = 0.05;

// Defined with the results schema, which stores it (BenchmarkResolution); here is where it is decided.
export type { CellVerdict };

export interface RatioEstimate {
  /** Performance ratio (> 1 is better): the geometric mean of the per-round ratios. */
  ratio: number;
  /** Its 95 % interval (98 % after an adaptive stop: see level); absent where the units cannot make one (a single round). */
  ci95?: [number, number];
  /** The level of ci95: 0.95, or UNTIL_DECIDED_LEVEL where rounds were added until decided. */
  level: number;
  verdict: CellVerdict;
  /** How far the 95 % interval reaches from 1 (0.25: differences within ±25 % cannot be told apart). */
  resolution?: number;
  margin: number;
  design: Design;
  /** Units: rounds shared by both, or samples of both sides. */
  n: number;
}

/** How far an interval reaches from 1. */
export function reachFromOne(ci: readonly [number, number]): number {
  return Math.max(Math.abs(1 - ci[0]), Math.abs(ci[1] - 1));
}

/**
 * The performance of a passed result against the baseline's: per round where both were measured in
 * at least two of the same rounds (the machine's drift cancels in each round's ratio), else the
 * two groups of samples; a single round a side gives a ratio without an interval. Undefined where no ratio is defined (not passed, or a figure of 0).
 */
export function ratioToBaseline(
  result: BenchmarkResult,
  baseline: BenchmarkResult | undefined,
  margin = EQUIVALENCE_MARGIN,
): RatioEstimate | undefined {
  if (!baseline || baseline === result || baseline.status !== 'passed' || result.status !== 'passed') return undefined;
  const rounds = samplesPairedBy('round', baseline, result).map(([base, sample]) => [base.value, sample.value] as const);
  const outcome: EstimateOutcome =
    rounds.length >= 2 || (rounds.length === 1 && baseline.samples.length === 1 && result.samples.length === 1)
      ? pairedChange(rounds, result.better, 'rounds')
      : groupsChange(
          baseline.samples.map((s) => [s.value]),
          result.samples.map((s) => [s.value]),
          result.better,
          'samples',
        );
  if ('notComparable' in outcome) return undefined;
  const { estimate } = outcome;
  const adaptive = result.stoppedBy !== undefined || baseline.stoppedBy !== undefined;
  const level = adaptive ? UNTIL_DECIDED_LEVEL : 0.95;
  const ci95 = ratioInterval(estimate, level);
  const verdict: CellVerdict = !ci95
    ? 'undecided'
    : ci95[0] > 1 || ci95[1] < 1
      ? 'different'
      : shownEquivalent(estimate, margin, 1 - level)
        ? 'equivalent'
        : 'undecided';
  return {
    ratio: ratioOf(estimate),
    ...(ci95 ? { ci95, resolution: reachFromOne(ci95) } : {}),
    verdict,
    level,
    margin,
    design: estimate.design,
    n: estimate.n,
  };
}

/** A ratio's verdict in a reader's words: faster or slower (the interval excludes 1), equivalent (≈1x), or undecided. */
export type RatioReading = 'faster' | 'slower' | 'equivalent' | 'undecided';

/** The reading of an estimate: the direction of a difference is the side of 1 its 95 % interval lies on. */
export function readingOf(estimate: RatioEstimate): RatioReading {
  if (estimate.verdict !== 'different') return estimate.verdict;
  return estimate.ci95 && estimate.ci95[0] > 1 ? 'faster' : 'slower';
}

/**
 * The levels a report's legend names: 95 % for differences and 90 % for "the same", or 98 % and 96 %
 * where any result's rounds were added until decided (its cells use those: see ratioToBaseline).
 */
export function legendLevels(results: readonly Pick<BenchmarkResult, 'stoppedBy'>[]): {
  difference: string;
  equivalence: string;
  note: string;
} {
  if (!results.some((r) => r.stoppedBy !== undefined)) return { difference: '95%', equivalence: '90%', note: '' };
  return {
    difference: '98%',
    equivalence: '96%',
    note: ' (rounds were added until decided: the wider intervals keep a 95% coverage)',
  };
}
