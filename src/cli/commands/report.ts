import { appendFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { resolveBaseline } from '../../reporters/baselines.js';
import { compareResults } from '../../reporters/compare.js';
import { toGithubBenchmark } from '../../reporters/export.js';
import { renderHtml } from '../../reporters/html.js';
import { renderMarkdown } from '../../reporters/markdown.js';
import { readResults } from '../../results/results-file.js';
import { compareOptions, DEFAULT_RESULTS, THRESHOLD_OPTIONS, usageError, writeOut, type CliCommand } from '../options.js';

export const reportCommand: CliCommand = {
  name: 'report',
  usage: `  virtbench report [results.json]                 reports from a results file
      --md [file]              GFM report (default virtbench-report/report.md; also to $GITHUB_STEP_SUMMARY)
      --html [file]            self-contained HTML report with charts (default virtbench-report/report.html)
      --github-benchmark <dir> github-action-benchmark files (bigger- and smaller-is-better)
      --baseline <baseline>    include the comparison against a baseline`,
  options: {
    ...THRESHOLD_OPTIONS,
    md: { type: 'string' },
    html: { type: 'string' },
    'github-benchmark': { type: 'string' },
    baseline: { type: 'string' },
  },
  optionalValues: ['md', 'html'],
  async run(values, positionals, io) {
    const [results = DEFAULT_RESULTS] = positionals;
    const file = await readResults(results);
    const comparisons = values.baseline
      ? compareResults(await readResults(await resolveBaseline(values.baseline as string, io.env)), file, compareOptions(values))
      : undefined;
    const reportDir = dirname(resolve(results));
    const wanted = values.md !== undefined || values.html !== undefined || values['github-benchmark'] !== undefined;
    if (!wanted) throw usageError('report needs at least one of --md, --html, --github-benchmark');
    if (values.md !== undefined) {
      const markdown = renderMarkdown(file, comparisons);
      const path = (values.md as string) || join(reportDir, 'report.md');
      await writeOut(path, markdown);
      if (io.env.GITHUB_STEP_SUMMARY) await appendFile(io.env.GITHUB_STEP_SUMMARY, markdown);
      io.log(`wrote ${path}${io.env.GITHUB_STEP_SUMMARY ? ' and the job summary' : ''}`);
    }
    if (values.html !== undefined) {
      const path = (values.html as string) || join(reportDir, 'report.html');
      await writeOut(path, await renderHtml(file, comparisons));
      io.log(`wrote ${path}`);
    }
    if (values['github-benchmark'] !== undefined) {
      const dir = values['github-benchmark'] as string;
      const { biggerIsBetter, smallerIsBetter } = toGithubBenchmark(file);
      await writeOut(join(dir, 'bigger-is-better.json'), JSON.stringify(biggerIsBetter, null, 2) + '\n');
      await writeOut(join(dir, 'smaller-is-better.json'), JSON.stringify(smallerIsBetter, null, 2) + '\n');
      io.log(`wrote ${dir}/bigger-is-better.json (customBiggerIsBetter) and smaller-is-better.json (customSmallerIsBetter)`);
    }
    return 0;
  },
};
