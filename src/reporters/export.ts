import type { ResultsFile } from '../results/schema.js';
import { formatValue } from '../results/format.js';

/** github-action-benchmark's custom format: one entry per platform and benchmark. */
export interface GithubBenchmarkEntry {
  name: string;
  unit: string;
  value: number;
  range?: string;
  extra?: string;
}

/**
 * Two files, because the tool takes the direction per file:
 * `customBiggerIsBetter` for kFLOPS and IOPS, `customSmallerIsBetter` for seconds.
 */
export function toGithubBenchmark(file: ResultsFile): { biggerIsBetter: GithubBenchmarkEntry[]; smallerIsBetter: GithubBenchmarkEntry[] } {
  const entries = (better: 'higher' | 'lower') =>
    file.results
      .filter((r) => r.better === better && r.status === 'passed' && r.summary)
      .map((r) => ({
        name: `${r.benchmark} (${r.platform})`,
        unit: r.unit,
        value: r.summary!.median,
        range: `± ${formatValue(r.summary!.iqr / 2)}`,
        extra: `median of ${r.summary!.n} runs, ${file.profile} profile; IQR ${formatValue(r.summary!.q1)}..${formatValue(r.summary!.q3)}`,
      }));
  return { biggerIsBetter: entries('higher'), smallerIsBetter: entries('lower') };
}

/** One Bencher metric: the median, with the quartiles as its bounds. */
export interface BencherMetric {
  value: number;
  lower_value?: number;
  upper_value?: number;
}

/** Bencher Metric Format: benchmark name -> measure slug -> metric. */
export type BencherBmf = Record<string, Record<string, BencherMetric>>;

/** Bencher's name for a unit, as a measure slug: lower case, [a-z0-9-], at most 64 characters (s -> seconds, MB/s -> mb-s, µs -> us). */
export function bencherMeasureSlug(unit: string): string {
  const named: Record<string, string> = { s: 'seconds', '%': 'percent' };
  const slug = (named[unit] ?? unit)
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
