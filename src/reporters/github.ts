import type { ComparisonRow } from '../results/comparison-file.js';
import { formatPercent, formatValue } from '../results/format.js';

/*
 * GitHub Actions workflow commands for a comparison: one `::error` per row that fails the gate, one
 * `::warning` per regression inside its fail threshold. Printed to stdout in a job, each becomes an
 * annotation on the run and the pull request. Every piece of data is escaped as the runner's own
 * toolkit does (@actions/core), so a benchmark or platform name cannot end the command early or start
 * a second one: a newline becomes %0A and stays on the command's line.
 */

/** A command's message: `%`, CR and LF encoded (GitHub's escapeData). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A command's property value (`title=...`): the message's escapes, and `:` and `,` (GitHub's escapeProperty). */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** `::error title=...::message` with both parts escaped. */
export function workflowCommand(command: 'error' | 'warning' | 'notice', title: string, message: string): string {
  return `::${command} title=${escapeProperty(title)}::${escapeData(message)}`;
}

const signed = (fraction: number) => `${fraction >= 0 ? '+' : '-'}${formatPercent(Math.abs(fraction))}`;

/**
 * "performance -12% [-15%, -9.0%] 95% CI (+ is better), p=0.008; fail threshold 10%, noise threshold 5.0%;
 * median 5.00M -> 4.40M kFLOPS; <note>": what there is of it (a missing figure has its note only).
 */
export function describeChange(c: ComparisonRow): string {
  const parts: string[] = [];
  if (c.change !== undefined) {
    const ci = c.changeCi95 ? ` [${signed(c.changeCi95[0])}, ${signed(c.changeCi95[1])}] 95% CI` : '';
    const p = c.verdict === 'regressed' && c.pWorse !== undefined ? `, p=${c.pWorse.toPrecision(2)} (worse, after Holm)` : '';
    parts.push(`performance ${signed(c.change)}${ci} (+ is better)${p}`);
    parts.push(`fail threshold ${formatPercent(c.failThreshold)}, noise threshold ${formatPercent(c.threshold)}`);
  }
  if (c.baselineMedian !== undefined && c.currentMedian !== undefined) {
    parts.push(`median ${formatValue(c.baselineMedian)} -> ${formatValue(c.currentMedian)}${c.unit ? ` ${c.unit}` : ''}`);
  }
  if (c.verdict === 'undecided' && c.detectable !== undefined)
    parts.push(`undecided: could detect a change of ${formatPercent(c.detectable)}`);
  if (c.note) parts.push(c.note);
  return parts.length ? parts.join('; ') : c.verdict;
}

/** GitHub shows at most 10 error and 10 warning annotations of a step; the rest would vanish unseen. */
export const ANNOTATIONS_PER_KIND = 10;

/** The first ones, and when there are more than fit, one that names the rest. */
function capped(command: 'error' | 'warning', rows: { c: ComparisonRow; line: string }[], what: string): string[] {
  if (rows.length <= ANNOTATIONS_PER_KIND) return rows.map((r) => r.line);
  const shown = rows.slice(0, ANNOTATIONS_PER_KIND - 1);
  const rest = rows.slice(ANNOTATIONS_PER_KIND - 1).map(({ c }) => `${c.platform} ${c.benchmark}`);
  return [
    ...shown.map((r) => r.line),
    workflowCommand(command, `virtbench: ${rest.length} more ${what}`, `${rest.join(', ')}; the job summary has every row`),
  ];
}

/**
 * The annotations of a comparison, in its order: `::error` for each row that fails the gate (a
 * regression beyond its fail threshold, a benchmark that failed in the current run, a figure the
 * baseline measured that the current run lacks), `::warning` for a regression within its fail
 * threshold. Improved, equivalent and undecided rows make none. At most ANNOTATIONS_PER_KIND of each kind.
 */
export function annotations(comparisons: readonly ComparisonRow[]): string[] {
  const errors: { c: ComparisonRow; line: string }[] = [];
  const warnings: { c: ComparisonRow; line: string }[] = [];
  for (const c of comparisons) {
    const what = `virtbench: ${c.platform} ${c.benchmark}`;
    if (c.failsGate) {
      const how = c.verdict === 'regressed' ? 'regressed' : c.missing ? 'is missing' : 'fails the gate';
      errors.push({ c, line: workflowCommand('error', `${what} ${how}`, describeChange(c)) });
    } else if (c.verdict === 'regressed') {
      warnings.push({ c, line: workflowCommand('warning', `${what} regressed (within the fail threshold)`, describeChange(c)) });
    }
  }
  return [...capped('error', errors, 'rows fail the gate'), ...capped('warning', warnings, 'regressions within the fail threshold')];
}
