import type { ResultsFile } from '../results/schema.js';
import { compareResults, rowKey, type Comparison, type CompareOptions } from './compare.js';
import { DEFAULT_ALPHA, DEFAULT_EQUIVALENCE_ALPHA } from './verdicts.js';

/*
 * A sequential A/B: after each round from minRounds on, every row is judged; a row once decided
 * (regressed, improved, equivalent) keeps that verdict, and rounds are added until every row is
 * decided or maxRounds is reached. Looking at the data as it comes would inflate the errors, so each
 * look spends its share of them: alpha / looks and equivalenceAlpha / looks (Bonferroni over the
 * looks). By the union bound, the chance of any false "regressed" over all looks together stays
 * within alpha, and of a false "equivalent" per row within equivalenceAlpha, however the run stops.
 */

export interface SequentialPlan {
  /** The first look comes after this many rounds (at least 2: one round says nothing of how runs differ). */
  minRounds: number;
  /** No look after this many rounds. */
  maxRounds: number;
}

/** The looks a plan may take: one after each round from minRounds to maxRounds. */
export function lookCount(plan: SequentialPlan): number {
  return Math.max(1, plan.maxRounds - plan.minRounds + 1);
}

/** The errors one look may spend. */
export function lookErrors(plan: SequentialPlan, options: CompareOptions): { alpha: number; equivalenceAlpha: number } {
  const looks = lookCount(plan);
  return {
    alpha: (options.alpha ?? DEFAULT_ALPHA) / looks,
    equivalenceAlpha: (options.equivalenceAlpha ?? DEFAULT_EQUIVALENCE_ALPHA) / looks,
  };
}

const DECIDED = new Set<Comparison['verdict']>(['regressed', 'improved', 'equivalent']);

/** Rows whose verdict can still change with more rounds. */
export function openRows(comparisons: readonly Comparison[]): Comparison[] {
  return comparisons.filter((c) => c.verdict === 'undecided');
}

export interface SequentialLook {
  comparisons: Comparison[];
  /** Every row decided: more rounds would change nothing. */
  done: boolean;
}

/**
 * Judges the pooled files after `round` (rounds before minRounds are not looked at) and merges with
 * what earlier looks decided: a decided row keeps the verdict of its look (decidedAtRound), the others
 * take this look's.
 */
export function sequentialLook(
  plan: SequentialPlan,
  options: CompareOptions,
  base: ResultsFile,
  head: ResultsFile,
  round: number,
  earlier: readonly Comparison[] = [],
): SequentialLook {
  const now = compareResults(base, head, { ...options, ...lookErrors(plan, options) });
  const kept = new Map(earlier.filter((c) => DECIDED.has(c.verdict)).map((c) => [rowKey(c), c]));
  const failed = new Set(head.results.filter((r) => r.status === 'failed').map(rowKey));
  const comparisons = now.map((row) => {
    const key = rowKey(row);
    const decided = kept.get(key);
    // A row that failed, went missing or cannot be compared since is judged anew: no question of statistics.
    if (decided && row.change !== undefined && !failed.has(key) && !row.missing && row.verdict !== 'not comparable') return decided;
    if (DECIDED.has(row.verdict)) row.decidedAtRound = round;
    return row;
  });
  return { comparisons, done: openRows(comparisons).length === 0 };
}
