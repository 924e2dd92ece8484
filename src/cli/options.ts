import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { ParseArgsOptionsConfig } from 'node:util';
import { VirtbenchError } from '../errors.js';
import { parseThreshold, type CompareOptions } from '../reporters/compare.js';

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
  return new VirtbenchError('VIRTBENCH_BAD_OPTION', usage ? `${message}\n\n${usage}` : message);
}

export const THRESHOLD_OPTIONS = {
  threshold: { type: 'string', multiple: true },
  'fail-threshold': { type: 'string', multiple: true },
} as const satisfies ParseArgsOptionsConfig;

/** `--threshold 5%` / `--threshold disk-random=10%` and the same for `--fail-threshold`. */
export function compareOptions(values: OptionValues): CompareOptions {
  const options: CompareOptions = { thresholds: {}, failThresholds: {} };
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
  return options;
}

export async function writeOut(path: string, text: string): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeFile(path, text);
}
