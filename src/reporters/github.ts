import { VirtbenchError } from '../errors.js';
import type { Comparison, Verdict } from '../statistics/compare.js';
import type { Design } from '../statistics/estimate.js';
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

/** What an annotation reads of a comparison row: every Comparison is one; comparison.json rows are checked to be. */
export type ComparisonRow = Pick<Comparison, 'platform' | 'benchmark' | 'verdict' | 'failsGate' | 'threshold' | 'failThreshold'> &
  Partial<
    Pick<
      Comparison,
      | 'unit'
      | 'better'
      | 'reason'
      | 'baselineMedian'
      | 'currentMedian'
      | 'change'
      | 'changeCi95'
      | 'design'
      | 'units'
      | 'pairs'
      | 'pWorse'
      | 'pBetter'
      | 'family'
      | 'detectable'
      | 'decidedAtRound'
      | 'noiseFloor'
      | 'unjudged'
      | 'missing'
      | 'allowed'
      | 'note'
    >
  >;

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

const DESIGNS: readonly Design[] = ['pairs', 'rounds', 'runs', 'samples'];

const VERDICTS: readonly Verdict[] = ['improved', 'equivalent', 'undecided', 'regressed', 'added', 'removed', 'not comparable'];

/**
 * Checks a parsed comparison file (comparison.json of `virtbench ab`: a JSON array of comparison
 * rows) and returns its rows; every problem names the file and the row. JSON's null stands for an
 * absent optional figure (JSON.stringify writes NaN as null).
 */
export function checkComparisons(data: unknown, path: string): ComparisonRow[] {
  const bad = (problem: string) => new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `comparison file ${path}: ${problem}`);
  if (!Array.isArray(data)) throw bad('expected a JSON array of comparison rows');
  return data.map((row: unknown, i): ComparisonRow => {
    const at = `row ${i}`;
    if (typeof row !== 'object' || row === null || Array.isArray(row)) throw bad(`${at} is not an object`);
    const r = row as Record<string, unknown>;
    const text = (name: string, optional = false): string | undefined => {
      const value = r[name];
      if (optional && (value === undefined || value === null)) return undefined;
      if (typeof value !== 'string') throw bad(`${at}: "${name}" must be a string, got ${JSON.stringify(value) ?? 'nothing'}`);
      return value;
    };
    const number = (name: string, optional = false): number | undefined => {
      const value = r[name];
      if (optional && (value === undefined || value === null)) return undefined;
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw bad(`${at}: "${name}" must be a number, got ${JSON.stringify(value) ?? 'nothing'}`);
      }
      return value;
    };
    // A file of a virtbench before the four verdicts says "unchanged": that never showed equivalence.
    const written = text('verdict');
    const verdict = (written === 'unchanged' ? 'undecided' : written) as Verdict;
    if (!VERDICTS.includes(verdict))
      throw bad(`${at}: unknown verdict ${JSON.stringify(verdict)} (expected one of ${VERDICTS.join(', ')})`);
    if (typeof r.failsGate !== 'boolean') throw bad(`${at}: "failsGate" must be true or false`);
    const flag = (name: string): true | undefined => {
      const value = r[name];
      if (value !== undefined && value !== null && typeof value !== 'boolean') throw bad(`${at}: "${name}" must be true or false`);
      return value === true ? true : undefined;
    };
    const ci = r.changeCi95;
    if (
      ci !== undefined &&
      ci !== null &&
      !(Array.isArray(ci) && ci.length === 2 && ci.every((x) => typeof x === 'number' && Number.isFinite(x)))
    ) {
      throw bad(`${at}: "changeCi95" must be two numbers`);
    }
    const better = text('better', true);
    if (better !== undefined && better !== 'higher' && better !== 'lower') throw bad(`${at}: "better" must be "higher" or "lower"`);
    const design = text('design', true);
    if (design !== undefined && !DESIGNS.includes(design as Design))
      throw bad(`${at}: "design" must be one of ${DESIGNS.join(', ')}, got ${JSON.stringify(design)}`);
    return {
      platform: text('platform')!,
      benchmark: text('benchmark')!,
      unit: text('unit', true),
      better,
      verdict,
      reason: text('reason', true),
      baselineMedian: number('baselineMedian', true),
      currentMedian: number('currentMedian', true),
      change: number('change', true),
      changeCi95: Array.isArray(ci) ? [ci[0] as number, ci[1] as number] : undefined,
      design: design as Design | undefined,
      units: number('units', true),
      pairs: number('pairs', true),
      pWorse: number('pWorse', true),
      pBetter: number('pBetter', true),
      family: number('family', true),
      detectable: number('detectable', true),
      decidedAtRound: number('decidedAtRound', true),
      noiseFloor: number('noiseFloor', true),
      unjudged: flag('unjudged'),
      threshold: number('threshold')!,
      failThreshold: number('failThreshold')!,
      failsGate: r.failsGate,
      missing: flag('missing'),
      allowed: flag('allowed'),
      note: text('note', true),
    };
  });
}

/** Error text goes to stderr, where the runner reads workflow commands too: no line of the file's may start one. */
const oneLine = (text: string) => text.replace(/[\r\n]+/g, ' ');

/** Parses and checks the text of a comparison file (see checkComparisons). */
export function parseComparisons(text: string, path: string): ComparisonRow[] {
  if (text.trim() === '') throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `comparison file ${path} is empty`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `comparison file ${path} is not JSON: ${oneLine((cause as Error).message)}`, {
      cause,
    });
  }
  return checkComparisons(data, path);
}

/**
 * Checked rows as the reporters take them: a row without a unit or direction (a file of an older
 * virtbench) gets none and "higher". Everything else was checked by checkComparisons; the text in it
 * is still data, which the Markdown renderer escapes.
 */
export function asComparisons(rows: readonly ComparisonRow[]): Comparison[] {
  return rows.map((row) => {
    const entries = Object.entries(row).filter(([, value]) => value !== undefined);
    return { ...(Object.fromEntries(entries) as ComparisonRow), unit: row.unit ?? '', better: row.better ?? 'higher' };
  });
}
