import { join } from 'node:path';
import type { ResultsFile } from '../../results/schema.js';
import { formatValue } from '../../results/format.js';
import type { ReportFormat } from './format.js';

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

const BIGGER = 'bigger-is-better.json';
const SMALLER = 'smaller-is-better.json';

/** github-action-benchmark's files, in a directory: one per direction. */
export const githubBenchmarkFormat: ReportFormat = {
  name: 'the github-action-benchmark files',
  option: 'github-benchmark',
  argument: 'dir',
  usage: (shown) => `github-action-benchmark files (bigger- and smaller-is-better)\n(default ${shown})`,
  defaultFile: (reportDir) => join(reportDir, 'github-benchmark'),
  files: (dir) => [join(dir, BIGGER), join(dir, SMALLER)],
  render: ({ file }) => {
    const { biggerIsBetter, smallerIsBetter } = toGithubBenchmark(file);
    return [biggerIsBetter, smallerIsBetter].map((entries) => JSON.stringify(entries, null, 2) + '\n');
  },
  wrote: (dir) => `${dir}/${BIGGER} (customBiggerIsBetter) and ${SMALLER} (customSmallerIsBetter)`,
};
