import { mergeResults } from '../../results/merge.js';
import { tablePlatforms } from '../../reporters/ordering.js';
import { renderComparisonToFit } from '../../reporters/table.js';
import { terminalWidth } from '../../reporters/virtbench-reporter.js';
import { readResults } from '../../results/results-file.js';
import type { ResultsFile } from '../../results/schema.js';
import { refuseOverwrite, refuseRepeatedInputs, usageError, writeOut, type CliCommand } from '../options.js';

export const mergeCommand: CliCommand = {
  name: 'merge',
  usage: `  virtbench merge <a.json> <b.json>... [-o merged.json]   combine machines or CI shards`,
  options: { output: { type: 'string', short: 'o' } },
  async run(values, positionals, io) {
    if (positionals.length < 2) throw usageError('usage: virtbench merge <a.json> <b.json>... [-o merged.json]');
    await refuseRepeatedInputs(positionals);
    const files: { path: string; file: ResultsFile }[] = [];
    for (const path of positionals) files.push({ path, file: await readResults(path) });
    const merged = mergeResults(files);
    const output = (values.output as string | undefined) ?? 'virtbench-report/merged.json';
    await refuseOverwrite([output], positionals);
    await writeOut(output, JSON.stringify(merged, null, 2) + '\n', { atomic: true });
    io.log(`merged ${files.length} files (${merged.results.length} results) into ${output}`);
    // The machines side by side, as a run prints its platforms.
    for (const line of renderComparisonToFit(merged.results, tablePlatforms(merged.results), terminalWidth()).lines) io.log(line);
    return 0;
  },
};
