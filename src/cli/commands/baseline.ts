import { badBaselineName, baselineDir, baselinePath, saveBaseline, savedBaselines } from '../../results/baselines.js';
import { readResults } from '../../results/results-file.js';
import { DEFAULT_RESULTS, refuseOverwrite, usageError, type CliCommand } from '../options.js';

export const baselineCommand: CliCommand = {
  name: 'baseline',
  usage: `  virtbench baseline save <name> [results.json]   keep a results file as a named baseline
  virtbench baseline list                         the saved baselines`,
  options: {},
  async run(_values, positionals, io) {
    const [action, name, results = DEFAULT_RESULTS] = positionals;
    const dir = baselineDir(io.env);
    if (action === 'list') {
      const saved = await savedBaselines(dir);
      io.log(saved.length ? saved.join('\n') : `no baselines in ${dir}`);
      return 0;
    }
    if (action !== 'save' || !name || positionals.length > 3) throw usageError('usage: virtbench baseline save <name> [results.json]');
    const problem = badBaselineName(name);
    if (problem) throw usageError(problem);
    await readResults(results); // refuse to save something that is not a results file
    await refuseOverwrite([baselinePath(dir, name)], [results]);
    const saved = await saveBaseline(dir, name, results);
    io.log(`saved ${results} as baseline "${name}" (${saved})`);
    return 0;
  },
};
