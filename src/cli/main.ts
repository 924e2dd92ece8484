import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { abCommand } from './commands/ab.js';
import { annotateCommand } from './commands/annotate.js';
import { baselineCommand } from './commands/baseline.js';
import { compareCommand } from './commands/compare.js';
import { historyCommand } from './commands/history.js';
import { mergeCommand } from './commands/merge.js';
import { reportCommand } from './commands/report.js';
import { setupCommand } from './commands/setup.js';
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
  setupCommand,
];

const USAGE = `virtbench: work with virtbench results files (results.json), and set up a host

${COMMANDS.map((c) => c.usage).join('\n')}

<baseline> is a saved name or a path. results.json defaults to virtbench-report/results.json.
Baselines live in $VIRTBENCH_BASELINE_DIR, default .virtbench/baselines.
\`virtbench <command> --help\` shows one command; \`virtbench --version\` the version.
Exit codes: 0 fine, 1 the gate fails (a regression beyond its fail threshold, a failed, missing or
uncomputable figure), 2 bad usage or input, or rows the gate cannot judge (one run a side).`;

/** The package's version: package.json is two levels up from src/cli/ and from dist/cli/ alike. */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return manifest.version ?? 'unknown';
}

/** `--md` and `--html` take an optional file: a bare one (last, or before another option) gets the default. */
function withOptionalValues(args: string[], names: readonly string[]): string[] {
  const flags = names.map((n) => `--${n}`);
  return args.map((arg, i) => (flags.includes(arg) && (i === args.length - 1 || args[i + 1]!.startsWith('-')) ? `${arg}=` : arg));
}

/** Runs one command; returns the exit code. Errors are printed by the caller. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === '--version' || name === '-v' || name === 'version') {
    io.log(packageVersion());
    return 0;
  }
  if (!name || name === 'help' || name === '--help' || name === '-h') {
    // `virtbench help compare` is `virtbench compare --help`.
    const named = COMMANDS.find((c) => c.name === rest[0]);
    io.log(named ? named.usage : USAGE);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) throw usageError(`unknown command "${name}"`, USAGE);
  if (rest.includes('--help') || rest.includes('-h')) {
    io.log(`virtbench ${command.name}:\n${command.usage}`);
    return 0;
  }
  const { values, positionals } = parseArgs({
    args: withOptionalValues(rest, command.optionalValues ?? []),
    allowPositionals: true,
    options: command.options,
  });
  return command.run(values, positionals, io);
}
