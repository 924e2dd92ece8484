import { resolveBaseline } from '../../reporters/baselines.js';
import { compareResults, gateFails } from '../../reporters/compare.js';
import { renderMarkdown } from '../../reporters/markdown.js';
import { renderBaselineComparison } from '../../reporters/table.js';
import { readResults } from '../../results/results-file.js';
import { compareOptions, DEFAULT_RESULTS, THRESHOLD_OPTIONS, usageError, writeOut, type CliCommand } from '../options.js';

export const compareCommand: CliCommand = {
  name: 'compare',
  usage: `  virtbench compare <baseline> [results.json]     change per platform and benchmark; exit 1 on a regression
      --threshold 5%           noise threshold, or per benchmark: --threshold disk-random=10%
      --fail-threshold 10%     a regression beyond this fails (default: the noise threshold)
      --md <file>              also write the comparison as Markdown`,
  options: { ...THRESHOLD_OPTIONS, md: { type: 'string' } },
  async run(values, positionals, io) {
    const [baselineArg, results = DEFAULT_RESULTS] = positionals;
    if (!baselineArg) throw usageError('usage: virtbench compare <baseline> [results.json]');
    const baseline = await readResults(await resolveBaseline(baselineArg, io.env));
    const current = await readResults(results);
    const comparisons = compareResults(baseline, current, compareOptions(values));
    for (const line of renderBaselineComparison(comparisons)) io.log(line);
    if (values.md) await writeOut(values.md as string, renderMarkdown(current, comparisons));
    const failed = gateFails(comparisons);
    io.log(failed ? 'virtbench: regression beyond the fail threshold' : 'virtbench: no regression beyond the fail threshold');
    return failed ? 1 : 0;
  },
};
