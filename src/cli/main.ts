import { parseArgs } from 'node:util';
import { abCommand } from './commands/ab.js';
import { annotateCommand } from './commands/annotate.js';
import { baselineCommand } from './commands/baseline.js';
import { compareCommand } from './commands/compare.js';
import { historyCommand } from './commands/history.js';
import { mergeCommand } from './commands/merge.js';
import { reportCommand } from './commands/report.js';
import { usageError, type CliCommand, type CliIo } from './options.js';

export type { CliIo } from './options.js';

const COMMANDS: readonly CliCommand[] = [
  baselineCommand,
  compareCommand,
  reportCommand,
  mergeCommand,
  historyCommand,
  abCommand,
  annotateCommand,
];

const USAGE = `virtbench: work with virtbench results files (results.json)

${COMMANDS.map((c) => c.usage).join('\n')}

<baseline> is a saved name or a path. results.json defaults to virtbench-report/results.json.
Baselines live in $VIRTBENCH_BASELINE_DIR, default .virtbench/baselines.
Exit codes: 0 fine, 1 a regression crossed its fail threshold, 2 bad usage or input.`;

/** `--md` and `--html` take an optional file: a bare one (last, or before another option) gets the default. */
function withOptionalValues(args: string[], names: readonly string[]): string[] {
  const flags = names.map((n) => `--${n}`);
  return args.map((arg, i) => (flags.includes(arg) && (i === args.length - 1 || args[i + 1]!.startsWith('-')) ? `${arg}=` : arg));
}

/** Runs one command; returns the exit code. Errors are printed by the caller. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === 'help' || name === '--help' || name === '-h' || rest.includes('--help') || rest.includes('-h')) {
    io.log(USAGE);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw usageError(`unknown command "${name}"`, USAGE);
  const { values, positionals } = parseArgs({
    args: withOptionalValues(rest, command.optionalValues ?? []),
    allowPositionals: true,
    options: command.options,
  });
  return command.run(values, positionals, io);
}
