/*
 * The order of an A/B: base and head take turns (A B A B ...), so whatever
 * the machine does over time (warming up, a neighbour's job, thermal drift)
 * falls on both sides alike. A steady drift makes the two runs of each side
 * differ by twice what it adds between sides, so the noise floor (the spread
 * between runs of one side, src/results/runs.ts) covers it; a disturbance
 * that lasts one or two runs widens the spread of a side and is not taken for
 * a change.
 */

export type AbSide = 'base' | 'head';

export interface AbRun {
  side: AbSide;
  /** 1-based: the first base and the first head run form round 1. */
  round: number;
}

export function abSchedule(rounds: number): AbRun[] {
  const schedule: AbRun[] = [];
  for (let round = 1; round <= rounds; round++) schedule.push({ side: 'base', round }, { side: 'head', round });
  return schedule;
}
