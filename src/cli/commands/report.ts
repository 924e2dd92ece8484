import { dirname, resolve } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { resolveBaseline } from '../../results/baselines.js';
import { readComparisonFile } from '../../results/comparison-file.js';
import { compareResults, type Comparison } from '../../statistics/compare.js';
import { filesOf, REPORT_FORMATS, type ReportFormat } from '../../reporters/formats/index.js';
import { readHistory } from '../../results/history.js';
import { readResults } from '../../results/results-file.js';
import { compareOptions, DEFAULT_RESULTS, refuseOverwrite, THRESHOLD_OPTIONS, usageError, writeOut, type CliCommand } from '../options.js';

/** Where a usage line's text starts: after `      --github-benchmark [dir] `. */
const USAGE_COLUMN = 31;

/** A format's usage line: its option, what it takes (optional: it has a default), and what it writes. */
function formatUsage(format: ReportFormat): string {
  const flag = `      --${format.option} [${format.argument}]`.padEnd(USAGE_COLUMN - 1);
  const text = format.usage(format.defaultFile(dirname(DEFAULT_RESULTS)));
  return `${flag} ${text.replaceAll('\n', `\n${' '.repeat(USAGE_COLUMN)}`)}`;
}

const FORMAT_OPTIONS: ParseArgsOptionsConfig = Object.fromEntries(REPORT_FORMATS.map((f) => [f.option, { type: 'string' }]));

export const reportCommand: CliCommand = {
  name: 'report',
  usage: `  virtbench report [results.json]                 reports from a results file
${REPORT_FORMATS.map(formatUsage).join('\n')}
      --history <store>        the HTML report also draws the trend of the runs recorded in a history store
      --baseline <baseline>    include the comparison against a baseline
      --comparison <file>      include a comparison virtbench ab wrote (comparison.json; results.json: its head.json)`,
  options: {
    ...THRESHOLD_OPTIONS,
    ...FORMAT_OPTIONS,
    history: { type: 'string' },
    baseline: { type: 'string' },
    comparison: { type: 'string' },
  },
  // Every format has a default file: a bare option (`--md`) writes it beside the results file.
  optionalValues: REPORT_FORMATS.map((f) => f.option),
  async run(values, positionals, io) {
    if (positionals.length > 1) {
      throw usageError(
        `report reads one results file, got ${positionals.length}: ${positionals.join(' ')}\n` +
          'fix: combine them first with `virtbench merge`, or check that each option has its value (--md <file>)',
      );
    }
    const [results = DEFAULT_RESULTS] = positionals;
    const chosen = REPORT_FORMATS.filter((f) => values[f.option] !== undefined);
    if (chosen.length === 0) throw usageError(`report needs at least one of ${REPORT_FORMATS.map((f) => `--${f.option}`).join(', ')}`);
    if (values.baseline !== undefined && values.comparison !== undefined)
      throw usageError('--baseline and --comparison both give the comparison: give one');
    const historyPath = values.history as string | undefined;
    if (historyPath !== undefined && !chosen.some((f) => f.drawsHistory)) {
      const drawers = REPORT_FORMATS.filter((f) => f.drawsHistory);
      throw usageError(
        `--history draws a trend in ${drawers.map((f) => f.name).join(' or ')}: add ${drawers.map((f) => `--${f.option}`).join(' or ')}`,
      );
    }
    const file = await readResults(results);
    const baselinePath = values.baseline ? await resolveBaseline(values.baseline as string, io.env) : undefined;
    const comparisonPath = values.comparison as string | undefined;
    const comparisons: Comparison[] | undefined = baselinePath
      ? compareResults(await readResults(baselinePath), file, compareOptions(values))
      : comparisonPath
        ? await readComparisonFile(comparisonPath)
        : undefined;

    const reportDir = dirname(resolve(results));
    const planned = chosen.map((format) => {
      const target = (values[format.option] as string) || format.defaultFile(reportDir);
      return { format, target, files: filesOf(format, target) };
    });
    const summaryPath = planned.some((p) => p.format.jobSummary) ? io.env.GITHUB_STEP_SUMMARY || undefined : undefined;
    await refuseOverwrite(
      [...planned.flatMap((p) => p.files), ...(summaryPath ? [summaryPath] : [])],
      [results, ...[baselinePath, comparisonPath, historyPath].filter((p) => p !== undefined)],
      'name another output file; for a report beside the results file, name the results file first and give --md or --html no file',
    );

    const history = historyPath ? await readHistory(historyPath, { warn: io.log }) : undefined;
    const input = { file, comparisons, history };
    for (const { format, target, files } of planned) {
      const texts = await format.render(input);
      for (const [i, path] of files.entries()) await writeOut(path, texts[i]!);
      const summary = format.jobSummary ? summaryPath : undefined;
      if (summary) await writeOut(summary, texts[0]!, { append: true });
      io.log(`wrote ${format.wrote?.(target) ?? files.join(' and ')}${summary ? ' and the job summary' : ''}`);
    }
    return 0;
  },
};
