import { BadResultsFileError } from '../errors.js';
import type { Comparison, Verdict } from '../statistics/compare.js';
import type { Design } from '../statistics/estimate.js';
import { readBoundedFile, RESULTS_LIMITS } from './results-file.js';

/*
 * comparison.json, the rows of a comparison as `virtbench ab` writes them: read back by `virtbench
 * report --comparison` and `virtbench annotate`. An artifact of a pull request's run is data from
 * anyone, so every row is checked before a report renders it.
 */

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

const DESIGNS: readonly Design[] = ['pairs', 'rounds', 'runs', 'samples'];

const VERDICTS: readonly Verdict[] = ['improved', 'equivalent', 'undecided', 'regressed', 'added', 'removed', 'not comparable'];

/**
 * Checks a parsed comparison file (comparison.json of `virtbench ab`: a JSON array of comparison
 * rows) and returns its rows; every problem names the file and the row. JSON's null stands for an
 * absent optional figure (JSON.stringify writes NaN as null).
 */
export function checkComparisons(data: unknown, path: string): ComparisonRow[] {
  const bad = (problem: string) => new BadResultsFileError(`comparison file ${path}: ${problem}`);
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
  if (text.trim() === '') throw new BadResultsFileError(`comparison file ${path} is empty`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new BadResultsFileError(`comparison file ${path} is not JSON: ${oneLine((cause as Error).message)}`, {
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

/** comparison.json of `virtbench ab`, checked row by row (checkComparisons). */
export async function readComparisonFile(path: string): Promise<Comparison[]> {
  // An artifact of a pull request's run is data from anyone: no more of it than a results file, read no further.
  const bytes = await readBoundedFile(path, COMPARISON_FILE);
  return asComparisons(parseComparisons(bytes.toString('utf8'), path));
}

/** comparison.json as readBoundedFile reads it: a row is well under a kB, a comparison a few hundred rows. */
export const COMPARISON_FILE = {
  what: 'comparison file',
  limit: RESULTS_LIMITS.fileBytes,
  why: 'far more than a comparison takes',
  fix: 'name the comparison.json a `virtbench ab` run wrote',
} as const;
