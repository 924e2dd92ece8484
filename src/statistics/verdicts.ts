import { detectableChange, hasInterval, logInterval, pBetter, pWorse, type ChangeEstimate } from './estimate.js';

/*
 * The four verdicts of a comparison, decided here once for every report:
 *   regressed   worse beyond the threshold, and the one-sided test of "worse" holds after Holm over
 *               every judged row (family-wise alpha, default 1 %);
 *   improved    the same, better;
 *   equivalent  shown to lie within +-threshold: both one-sided tests of the equivalence test (TOST)
 *               reject, i.e. the (1 - 2 x equivalenceAlpha) interval lies inside the margin;
 *   undecided   none of these: the row states the change it could have detected.
 * The errors they bound: a false "regressed" in any row of a comparison (alpha, family-wise), and a
 * false "equivalent" in one row (equivalenceAlpha each).
 */

export type Decision = 'regressed' | 'improved' | 'equivalent' | 'undecided';

export interface JudgeOptions {
  /** Family-wise error of a false regressed (or improved) over all rows judged together (default 0.01). */
  alpha?: number;
  /** Error of a false equivalent, per row (default 0.05: a 90 % interval inside the margin). */
  equivalenceAlpha?: number;
}

export interface RowToJudge {
  estimate?: ChangeEstimate;
  /** The margin of "no change", relative (0.05 = 5 %): smaller changes are no regression, and equivalence is shown inside it. */
  threshold: number;
}

export interface Judgement {
  decision: Decision;
  /** Holm-adjusted one-sided p-values over the rows judged together; undefined where no test could be made. */
  pWorse?: number;
  pBetter?: number;
  /** How many rows were judged together (the Holm family). */
  family: number;
  /** On an undecided row: the change (relative) it would have detected with 80 % power. */
  detectable?: number;
}

export const DEFAULT_ALPHA = 0.01;
export const DEFAULT_EQUIVALENCE_ALPHA = 0.05;

/** Holm's step-down adjustment of p-values (same order as given). */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  for (const [k, [p, i]] of order.entries()) {
    running = Math.max(running, Math.min(1, (m - k) * p));
    adjusted[i] = running;
  }
  return adjusted;
}

/** Whether the (1 - 2 x alpha) interval of the estimate lies inside (-threshold, +threshold) of performance. */
export function shownEquivalent(estimate: ChangeEstimate, threshold: number, alpha: number): boolean {
  const interval = logInterval(estimate, 1 - 2 * alpha);
  if (!interval || !(threshold > 0)) return false;
  return interval[0] > Math.log1p(-Math.min(threshold, 0.999999)) && interval[1] < Math.log1p(threshold);
}

/** Judges rows as one family: every row that has a test counts in Holm's adjustment, whatever its benchmark. */
export function judgeFamily(rows: readonly RowToJudge[], options: JudgeOptions = {}): Judgement[] {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const equivalenceAlpha = options.equivalenceAlpha ?? DEFAULT_EQUIVALENCE_ALPHA;
  const testable = rows.flatMap((row, i) => (row.estimate && hasInterval(row.estimate) ? [{ i, estimate: row.estimate }] : []));
  const family = testable.length;
  const worse = holmAdjust(testable.map((t) => pWorse(t.estimate)));
  const better = holmAdjust(testable.map((t) => pBetter(t.estimate)));
  const judgements: Judgement[] = rows.map(() => ({ decision: 'undecided', family }));
  testable.forEach(({ i, estimate }, k) => {
    const { threshold } = rows[i]!;
    const change = Math.expm1(estimate.logRatio);
    const judgement: Judgement = { decision: 'undecided', pWorse: worse[k]!, pBetter: better[k]!, family };
    if (worse[k]! < alpha && change < -threshold) judgement.decision = 'regressed';
    else if (better[k]! < alpha && change > threshold) judgement.decision = 'improved';
    else if (shownEquivalent(estimate, threshold, equivalenceAlpha)) judgement.decision = 'equivalent';
    // The strictest step of Holm's ladder: what this row would need to stand out alone among the family.
    else judgement.detectable = detectableChange(estimate, alpha / family);
    judgements[i] = judgement;
  });
  return judgements;
}
