import { dirname, join, resolve } from 'node:path';
import { resolveBaseline } from '../../results/baselines.js';
import { readComparisonFile } from '../../results/comparison-file.js';
import { compareResults, type Comparison } from '../../statistics/compare.js';
import { toBencherBmf, toGithubBenchmark } from '../../reporters/export.js';
import { renderHtml } from '../../reporters/html.js';
import { renderMarkdown, renderPrComment } from '../../reporters/markdown.js';
import { readHistory } from '../../results/history.js';
import { readResults } from '../../results/results-file.js';
import { compareOptions, DEFAULT_RESULTS, refuseOverwrite, THRESHOLD_OPTIONS, usageError, writeOut, type CliCommand } from '../options.js';

export const reportCommand: CliCommand = {
  name: 'report',
  usage: `  virtbench report [results.json]                 reports from a results file
      --md [file]              GFM report (default virtbench-report/report.md; also to $GITHUB_STEP_SUMMARY)
      --html [file]            self-contained HTML report with charts (default virtbench-report/report.html)
      --github-benchmark <dir> github-action-benchmark files (bigger- and smaller-is-better)
      --bencher <file>         Bencher Metric Format JSON (bencher run --adapter json --file <file>)
      --history <store>        the HTML report also draws the trend of the runs recorded in a history store
      --baseline <baseline>    include the comparison against a baseline
      --comparison <file>      include a comparison virtbench ab wrote (comparison.json; results.json: its head.json)
      --comment [file]         the pull-request comment of that report (default virtbench-report/comment.md):
                               how a comment job rebuilds the comment from an artifact's data, never taking its text`,
  options: {
    ...THRESHOLD_OPTIONS,
    md: { type: 'string' },
    html: { type: 'string' },
    'github-benchmark': { type: 'string' },
    bencher: { type: 'string' },
    history: { type: 'string' },
    baseline: { type: 'string' },
    comparison: { type: 'string' },
    comment: { type: 'string' },
  },
  optionalValues: ['md', 'html', 'comment'],
  async run(values, positionals, io) {
    if (positionals.length > 1) {
      throw usageError(
        `report reads one results file, got ${positionals.length}: ${positionals.join(' ')}\n` +
          'fix: combine them first with `virtbench merge`, or check that each option has its value (--md <file>)',
      );
    }
    const [results = DEFAULT_RESULTS] = positionals;
    const wanted = ['md', 'html', 'comment', 'github-benchmark', 'bencher'].some((name) => values[name] !== undefined);
    if (!wanted) throw usageError('report needs at least one of --md, --html, --comment, --github-benchmark, --bencher');
    if (values.baseline !== undefined && values.comparison !== undefined)
      throw usageError('--baseline and --comparison both give the comparison: give one');
    if (values.history !== undefined && values.html === undefined)
      throw usageError('--history draws a trend in the HTML report: add --html');
    const file = await readResults(results);
    const baselinePath = values.baseline ? await resolveBaseline(values.baseline as string, io.env) : undefined;
    const comparisonPath = values.comparison as string | undefined;
    const comparisons: Comparison[] | undefined = baselinePath
      ? compareResults(await readResults(baselinePath), file, compareOptions(values))
      : comparisonPath
        ? await readComparisonFile(comparisonPath)
        : undefined;

    const reportDir = dirname(resolve(results));
    const mdPath = values.md === undefined ? undefined : (values.md as string) || join(reportDir, 'report.md');
    const htmlPath = values.html === undefined ? undefined : (values.html as string) || join(reportDir, 'report.html');
    const commentPath = values.comment === undefined ? undefined : (values.comment as string) || join(reportDir, 'comment.md');
    const githubDir = values['github-benchmark'] as string | undefined;
    const githubFiles =
      githubDir === undefined ? [] : [join(githubDir, 'bigger-is-better.json'), join(githubDir, 'smaller-is-better.json')];
    const summaryPath = mdPath !== undefined ? io.env.GITHUB_STEP_SUMMARY || undefined : undefined;
    const bencherPath = values.bencher as string | undefined;
    const historyPath = values.history as string | undefined;
    const outputs = [mdPath, htmlPath, commentPath, ...githubFiles, bencherPath, summaryPath].filter((p) => p !== undefined);
    await refuseOverwrite(
      outputs,
      [results, ...[baselinePath, comparisonPath, historyPath].filter((p) => p !== undefined)],
      'name another output file; for a report beside the results file, name the results file first and give --md or --html no file',
    );

    if (mdPath !== undefined) {
      const markdown = renderMarkdown(file, comparisons);
      await writeOut(mdPath, markdown);
      if (summaryPath) await writeOut(summaryPath, markdown, { append: true });
      io.log(`wrote ${mdPath}${summaryPath ? ' and the job summary' : ''}`);
    }
    if (commentPath !== undefined) {
      await writeOut(commentPath, renderPrComment(file, comparisons));
      io.log(`wrote ${commentPath}`);
    }
    if (htmlPath !== undefined) {
      const history = historyPath ? await readHistory(historyPath, { warn: io.log }) : undefined;
      await writeOut(htmlPath, await renderHtml(file, comparisons, history));
      io.log(`wrote ${htmlPath}`);
    }
    if (githubDir !== undefined) {
      const { biggerIsBetter, smallerIsBetter } = toGithubBenchmark(file);
      await writeOut(githubFiles[0]!, JSON.stringify(biggerIsBetter, null, 2) + '\n');
      await writeOut(githubFiles[1]!, JSON.stringify(smallerIsBetter, null, 2) + '\n');
      io.log(`wrote ${githubDir}/bigger-is-better.json (customBiggerIsBetter) and smaller-is-better.json (customSmallerIsBetter)`);
    }
    if (bencherPath !== undefined) {
      await writeOut(bencherPath, JSON.stringify(toBencherBmf(file), null, 2) + '\n');
      io.log(`wrote ${bencherPath} (Bencher Metric Format)`);
    }
    return 0;
  },
};
