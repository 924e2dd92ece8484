import type { StopReason } from '../results/schema.js';
import { studentQuantile } from './distributions.js';
import { pairedChange, ratioInterval, ratioOf } from './estimate.js';

/*
 * Rounds until the question is decided: after each round of a benchmark, every comparison the
 * findings make on it (a platform against another, per round) is looked at, and a platform takes
 * another round only while one of its comparisons is still open. A comparison is decided once the
 * interval of its ratio reaches at most `within` of the ratio either side (5 %: the interval tells a
 * 5 % difference apart, and "the same" is within ±5 %).
 *
 * The rule looks at the width of the interval only, never at which side of 1 the ratio lies (a
 * fixed-width interval, as Chow and Robbins's): stopping when a test first rejects would make false
 * differences as likely as one wishes. Still, stopping when the interval is narrow stops more often
 * where the rounds happened to agree: a 95 % interval taken at the stop covered the truth only 90-91 %
 * of the time in simulation (per-round spread 6-10 %). So the rule, and the report of a result whose
 * rounds were added this way, use the 98 % interval (UNTIL_DECIDED_LEVEL), which covers at least 95 %
 * at every spread simulated (test/unit/until-decided.test.ts; docs/measurements.md).
 */

/** The level of the intervals that decide, and of those reported after rounds were added until decided. */
export const UNTIL_DECIDED_LEVEL = 0.98;

export interface DecisionPlan {
  /** A comparison is decided once its interval's half-width is at most this share of its ratio (0.05). */
  within: number;
  /** Rounds every platform takes before anything is decided (at least 2: one round gives no spread). */
  minRounds: number;
  /** No platform takes more rounds than this. */
  maxRounds: number;
  /** A platform in no comparison of the benchmark takes this many rounds (the profile's runs); default minRounds. */
  unpairedRounds?: number;
}

/** A comparison the findings make: `platform` against `against`, on these benchmarks (all when absent). */
export interface PlannedComparison {
  platform: string;
  against: string;
  benchmarks?: readonly string[];
}

/** A platform's figures of one benchmark by round. */
export type RoundFigures = ReadonlyMap<string, ReadonlyMap<number, number>>;

/**
 * The relative half-width of the interval (UNTIL_DECIDED_LEVEL) of the ratio of two platforms' figures, per round
 * where both have one ((hi - lo) / 2 / ratio, the same on both sides of the ratio), with how many rounds
 * they share; undefined half-width where no interval can be made.
 */
export function pairedHalfWidth(
  a: ReadonlyMap<number, number> | undefined,
  b: ReadonlyMap<number, number> | undefined,
): { rounds: number; halfWidth?: number } {
  const pairs: [number, number][] = [];
  for (const [round, value] of a ?? []) {
    const other = b?.get(round);
    if (other !== undefined) pairs.push([other, value]);
  }
  const outcome = pairedChange(pairs, 'higher', 'rounds');
  if ('notComparable' in outcome) return { rounds: pairs.length };
  const interval = ratioInterval(outcome.estimate, UNTIL_DECIDED_LEVEL);
  if (!interval) return { rounds: pairs.length };
  return { rounds: pairs.length, halfWidth: (interval[1] - interval[0]) / 2 / ratioOf(outcome.estimate) };
}

/**
 * How many rounds in all a comparison would need to be decided, were its rounds to keep the spread they
 * have shown (the half-width shrinks as t / √rounds); Infinity beyond `limit`.
 */
export function roundsNeeded(halfWidth: number, rounds: number, within: number, limit: number): number {
  const level = 1 - (1 - UNTIL_DECIDED_LEVEL) / 2;
  const now = studentQuantile(level, rounds - 1);
  for (let m = rounds; m <= limit; m++) {
    if (halfWidth * (studentQuantile(level, m - 1) / now) * Math.sqrt(rounds / m) <= within) return m;
  }
  return Number.POSITIVE_INFINITY;
}

/** The comparisons of the plan that concern this benchmark, each once. */
export function comparisonsOf(benchmark: string, planned: readonly PlannedComparison[]): PlannedComparison[] {
  const seen = new Set<string>();
  return planned.filter((c) => {
    if (c.benchmarks && !c.benchmarks.includes(benchmark)) return false;
    const key = [c.platform, c.against].sort().join('\0');
    if (seen.has(key) || c.platform === c.against) return false;
    seen.add(key);
    return true;
  });
}

export interface RoundLook {
  /**
   * Whether the comparison is decided, and its half-width (undefined before it has an interval); out of
   * reach: at the spread its rounds show, the rounds it would need are more than the budget affords
   * (with half as many again to spare, the spread being an estimate itself).
   */
  comparisons: { platform: string; against: string; rounds: number; halfWidth?: number; decided: boolean; outOfReach?: StopReason }[];
  /** For each platform still sampling: undefined while it is needed, else why it stops. */
  stops: Map<string, StopReason | undefined>;
}

/**
 * After a round: which of the `sampling` platforms take another one. A platform goes on while one of
 * its comparisons is open and its partner still samples, until maxRounds or `outOfTime`; a platform
 * in no comparison of this benchmark takes unpairedRounds (no comparison asks it for more).
 */
export function lookAfterRound(
  figures: RoundFigures,
  comparisons: readonly PlannedComparison[],
  sampling: ReadonlySet<string>,
  plan: DecisionPlan,
  outOfTime: boolean,
  /** How many more rounds the budget affords this benchmark (from the time its rounds take); undefined: no limit. */
  affordableRounds?: number,
): RoundLook {
  // A comparison with a platform that never measured this benchmark (skipped, unavailable) asks nothing of anyone.
  const present = (p: string) => sampling.has(p) || (figures.get(p)?.size ?? 0) > 0;
  const looked = comparisons
    .filter((c) => present(c.platform) && present(c.against))
    .map(({ platform, against }) => {
      const { rounds, halfWidth } = pairedHalfWidth(figures.get(platform), figures.get(against));
      const decided = rounds >= plan.minRounds && halfWidth !== undefined && halfWidth <= plan.within;
      const outOfReach = decided || halfWidth === undefined ? undefined : reach(halfWidth, rounds, plan, affordableRounds);
      return {
        platform,
        against,
        rounds,
        ...(halfWidth === undefined ? {} : { halfWidth }),
        decided,
        ...(outOfReach ? { outOfReach } : {}),
      };
    });
  const stops = new Map<string, StopReason | undefined>();
  // A platform's partner that stops at this look samples no more: until nothing changes, its open comparisons end too.
  for (let changed = true; changed;) {
    changed = false;
    const still = new Set([...sampling].filter((p) => stops.get(p) === undefined));
    for (const platform of still) {
      const reason = stopReason(platform, figures.get(platform)?.size ?? 0, looked, still, plan, outOfTime);
      stops.set(platform, reason);
      if (reason !== undefined) changed = true;
    }
  }
  return { comparisons: looked, stops };
}

function stopReason(
  platform: string,
  taken: number,
  looked: RoundLook['comparisons'],
  sampling: ReadonlySet<string>,
  plan: DecisionPlan,
  outOfTime: boolean,
): StopReason | undefined {
  if (taken < plan.minRounds) return undefined;
  const own = looked.filter((c) => c.platform === platform || c.against === platform);
  if (own.length === 0) return taken >= Math.min(plan.maxRounds, plan.unpairedRounds ?? plan.minRounds) ? 'decided' : undefined;
  // Rounds go where they can decide: a comparison out of reach asks for none.
  const open = own.filter((c) => !c.decided && !c.outOfReach);
  if (open.length === 0) return own.find((c) => !c.decided)?.outOfReach ?? 'decided';
  if (!open.some((c) => sampling.has(c.platform === platform ? c.against : c.platform))) return 'partner-gone';
  if (taken >= plan.maxRounds) return 'max-rounds';
  return outOfTime ? 'budget' : undefined;
}

/**
 * Rounds before a comparison may be judged out of reach: at five degrees of freedom the spread is known
 * within a factor of about 1.6 (90 %); in a run here, giving up at three rounds stopped comparisons that needed 15.
 */
export const REACH_ROUNDS = 6;

/**
 * Why a comparison cannot be decided in this run, if it cannot: the rounds it needs are beyond what its
 * benchmark's share of the budget affords. (Beyond maxRounds alone is no reason to stop early: rounds the
 * budget affords still narrow the interval the report states, and maxRounds ends them.)
 */
function reach(halfWidth: number, rounds: number, plan: DecisionPlan, affordable: number | undefined): StopReason | undefined {
  // The spread of three rounds is too rough to give up on: it is twice the truth often enough (two degrees of freedom).
  if (affordable === undefined || rounds < Math.max(plan.minRounds, REACH_ROUNDS)) return undefined;
  const spare = 1.5;
  const needed = roundsNeeded(halfWidth, rounds, plan.within, rounds + Math.ceil(affordable * spare));
  return needed - rounds > affordable * spare ? 'budget' : undefined;
}
