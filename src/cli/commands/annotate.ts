import { readComparisonFile } from '../../results/comparison-file.js';
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
    // An artifact of a pull request's run: checked as report --comparison checks it, size first.
    for (const line of annotations(await readComparisonFile(path))) io.log(line);
    return 0;
  },
};
