import { join } from 'node:path';
import type { ResultsFile } from '../../results/schema.js';
import type { ReportFormat } from './format.js';

/** One Bencher metric: the median, with the quartiles as its bounds. */
export interface BencherMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}

/** Bencher Metric Format: benchmark name -> measure slug -> metric. */
export type BencherBmf = Record<string, Record<string, BencherMetric>>;

/** Units Bencher knows by another name (a Map: a unit named "constructor" is no method of Object). */
const NAMED_UNITS: ReadonlyMap<string, string> = new Map([
  ['s', 'seconds'],
  ['%', 'percent'],
]);

/** Bencher's name for a unit, as a measure slug: lower case, [a-z0-9-], at most 64 characters (s -> seconds, MB/s -> mb-s, µs -> us). */
export function bencherMeasureSlug(unit: string): string {
  const slug = (NAMED_UNITS.get(unit) ?? unit)
    .toLowerCase()
    .replace(/[µμ]/g, 'u') // µs -> us, not s
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 64)
    .replace(/-+$/, '');
  return slug || 'value';
}

/**
 * Bencher Metric Format JSON (`bencher run --adapter json --file ...`): one benchmark per platform and
 * benchmark, named as for github-action-benchmark ("cpu (native)"), whose measure is its unit and
 * whose metric is the median with the quartiles as lower and upper values. Passed results with a
 * summary only.
 */
export function toBencherBmf(file: ResultsFile): BencherBmf {
  const bmf: BencherBmf = {};
  for (const r of file.results) {
    if (r.status !== 'passed' || !r.summary || !Number.isFinite(r.summary.median)) continue;
    const { median, q1, q3 } = r.summary;
    const metric: BencherMetric = { value: median };
    if (Number.isFinite(q1)) metric.lower_value = q1;
    if (Number.isFinite(q3)) metric.upper_value = q3;
    (bmf[`${r.benchmark} (${r.platform})`] ??= {})[bencherMeasureSlug(r.unit)] = metric;
  }
  return bmf;
}

/** Bencher Metric Format JSON, for `bencher run --adapter json --file <file>`. */
export const bencherFormat: ReportFormat = {
  name: 'the Bencher Metric Format file',
  option: 'bencher',
  argument: 'file',
  usage: (shown) => `Bencher Metric Format JSON (bencher run --adapter json --file <file>)\n(default ${shown})`,
  defaultFile: (reportDir) => join(reportDir, 'bencher.json'),
  render: ({ file }) => [JSON.stringify(toBencherBmf(file), null, 2) + '\n'],
  wrote: (path) => `${path} (Bencher Metric Format)`,
};
