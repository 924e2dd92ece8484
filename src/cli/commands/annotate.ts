import { readFile } from 'node:fs/promises';
import { VirtbenchError } from '../../errors.js';
import { parseComparisons } from '../../results/comparison-file.js';
import { annotations } from '../../reporters/github.js';
import { usageError, type CliCommand } from '../options.js';

export const annotateCommand: CliCommand = {
  name: 'annotate',
  usage: `  virtbench annotate <comparison.json>            GitHub Actions annotations of virtbench ab's comparison: ::error
                                                  per row that fails the gate, ::warning per regression within it`,
  options: {},
  async run(_values, positionals, io) {
    const [path, ...extra] = positionals;
    if (!path || extra.length) throw usageError('usage: virtbench annotate <comparison.json>');
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (cause) {
      throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `cannot read comparison file ${path}: ${(cause as Error).message}`, { cause });
    }
    for (const line of annotations(parseComparisons(text, path))) io.log(line);
    return 0;
  },
};
