import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { baselineDir, savedBaselines } from '../../reporters/baselines.js';
import { readResults } from '../../results/results-file.js';
import { DEFAULT_RESULTS, usageError, type CliCommand } from '../options.js';

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
    if (action !== 'save' || !name) throw usageError('usage: virtbench baseline save <name> [results.json]');
    if (!/^[\w.-]+$/.test(name)) throw usageError(`baseline name "${name}" may hold letters, digits, ".", "_" and "-" only`);
    await readResults(results); // refuse to save something that is not a results file
    await mkdir(dir, { recursive: true });
    await copyFile(results, join(dir, `${name}.json`));
    io.log(`saved ${results} as baseline "${name}" (${join(dir, `${name}.json`)})`);
    return 0;
  },
};
