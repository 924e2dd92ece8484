import { appendFile, realpath, stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { BadOptionError, VirtbenchError } from '../errors.js';
import { parseThreshold, type CompareOptions } from '../statistics/compare.js';
import { writeFileAtomically } from '../results/results-file.js';
import { makeDirectory } from '../host/make-dir.js';
import { nameRecord } from '../host/name-keys.js';

/** Where the CLI writes its lines and reads its environment (tests pass their own). */
export interface CliIo {
  log: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

export type OptionValues = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One subcommand: its usage lines, its options, and what it does; returns the exit code. */
export interface CliCommand {
  name: string;
  usage: string;
  options: ParseArgsOptionsConfig;
  /** Options whose value may be left out (`--md` alone): a bare one gets the empty string. */
  optionalValues?: string[];
  run: (values: OptionValues, positionals: string[], io: CliIo) => Promise<number>;
}

export const DEFAULT_RESULTS = 'virtbench-report/results.json';

export function usageError(message: string, usage?: string): VirtbenchError {
  return new BadOptionError(usage ? `${message}\n\n${usage}` : message);
}

export const THRESHOLD_OPTIONS = {
  threshold: { type: 'string', multiple: true },
  'fail-threshold': { type: 'string', multiple: true },
  'noise-floor': { type: 'string' },
  undecided: { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

/** The usage lines of THRESHOLD_OPTIONS' last two, shared by compare, report and ab. */
export const JUDGEMENT_USAGE = `      --noise-floor 3%         how far runs of the same code differ (from an A/A or the history store): lets a
                               file of one run be judged; without it, one run a side cannot be (exit 2)
      --undecided pass|fail    what a row that is neither changed nor shown the same does to the gate (default pass)`;

/** `--threshold 5%` / `--threshold disk-random=10%` and the same for `--fail-threshold`. */
export function compareOptions(values: OptionValues): CompareOptions {
  // Keyed by benchmark names: `--threshold __proto__=10%` must be a key, not an assignment to the prototype.
  const options: CompareOptions = { thresholds: nameRecord(), failThresholds: nameRecord() };
  for (const text of (values.threshold as string[] | undefined) ?? []) {
    const { benchmark, value } = parseThreshold(text);
    if (benchmark) options.thresholds![benchmark] = value;
    else options.threshold = value;
  }
  for (const text of (values['fail-threshold'] as string[] | undefined) ?? []) {
    const { benchmark, value } = parseThreshold(text);
    if (benchmark) options.failThresholds![benchmark] = value;
    else options.failThreshold = value;
  }
  const floor = values['noise-floor'];
  if (typeof floor === 'string') {
    const { benchmark, value } = parseThreshold(floor);
    if (benchmark) throw usageError(`--noise-floor takes one spread for every benchmark, such as 3%, got "${floor}"`);
    options.noiseFloor = value;
  }
  const undecided = values.undecided;
  if (undecided !== undefined) {
    if (undecided !== 'pass' && undecided !== 'fail') throw usageError(`--undecided must be pass or fail, got "${String(undecided)}"`);
    options.undecided = undecided;
  }
  return options;
}

/**
 * Writes an output file (creating its directory); a failure is the user's to fix, so it says which file and why.
 * `atomic` for a results file, which a reader must never see half of; not for reports, which may go to /dev/stdout.
 */
export async function writeOut(path: string, text: string, options: { append?: boolean; atomic?: boolean } = {}): Promise<void> {
  try {
    await makeDirectory(dirname(resolve(path)));
    if (options.atomic) await writeFileAtomically(path, text);
    else await (options.append ? appendFile : writeFile)(path, text);
  } catch (cause) {
    throw new BadOptionError(`cannot write ${path}: ${(cause as Error).message}`, { cause });
  }
}

/**
 * What a path names once symlinks and `..` are resolved: its real path and,
 * where the file system has them, its device and inode (which also catch a
 * hard link). Empty when nothing exists there yet: such a path is no input.
 */
async function identities(path: string): Promise<string[]> {
  const [real, info] = await Promise.all([realpath(path).catch(() => undefined), stat(path).catch(() => undefined)]);
  if (!real || !info) return [];
  return info.ino ? [`path:${real}`, `inode:${info.dev}:${info.ino}`] : [`path:${real}`];
}

/** The first path of `paths` that names the same file as one before it, with that one. */
async function firstRepeat(paths: readonly string[]): Promise<{ path: string; earlier: string } | undefined> {
  const seen = new Map<string, string>();
  for (const path of paths) {
    const ids = await identities(path);
    const earlier = ids.map((id) => seen.get(id)).find((p) => p !== undefined);
    if (earlier !== undefined) return { path, earlier };
    for (const id of ids) seen.set(id, path);
  }
  return undefined;
}

/**
 * An output never overwrites an input: `virtbench report --md results.json`
 * takes results.json as the Markdown file's name and would replace the
 * results with Markdown. Compared by the file each path resolves to, so
 * `dir/../results.json`, a symlink or a hard link to an input count too.
 * Call it after reading the inputs and before writing anything.
 */
export async function refuseOverwrite(
  outputs: readonly string[],
  inputs: readonly string[],
  fix = 'name another output file',
): Promise<void> {
  const inputIds = new Map<string, string>();
  for (const input of inputs) for (const id of await identities(input)) inputIds.set(id, input);
  for (const output of outputs) {
    const input = (await identities(output)).map((id) => inputIds.get(id)).find((p) => p !== undefined);
    if (input === undefined) continue;
    const same = resolve(output) === resolve(input) ? '' : ` (the same file as ${input})`;
    throw new BadOptionError(`refusing to write ${output}${same}: it is an input, and writing would destroy it\nfix: ${fix}`);
  }
}

/** Refuses a file given twice (also by another path or a link): merging a file with itself doubles its results. */
export async function refuseRepeatedInputs(inputs: readonly string[]): Promise<void> {
  const repeat = await firstRepeat(inputs);
  if (!repeat) return;
  const same = repeat.path === repeat.earlier ? 'twice' : `twice (as ${repeat.earlier} and ${repeat.path})`;
  throw new BadOptionError(`${repeat.path} is given ${same}\nfix: name each results file once`);
}
