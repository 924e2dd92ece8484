import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BadOptionError, BadResultsFileError } from '../errors.js';
import { writeFileAtomically } from './results-file.js';
import { makeDirectory } from '../host/make-dir.js';

/** Named baselines are results files kept in one directory. */
export function baselineDir(env: NodeJS.ProcessEnv): string {
  return resolve(env.VIRTBENCH_BASELINE_DIR || '.virtbench/baselines');
}

export async function savedBaselines(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
}

/** Starts with a letter or a digit, so "." and ".." (and hidden files) are no names. */
const BASELINE_NAME = /^[A-Za-z0-9][\w.-]{0,99}$/;

/** Why `name` cannot name a baseline, or undefined when it can. */
export function badBaselineName(name: string): string | undefined {
  if (BASELINE_NAME.test(name)) return undefined;
  return `baseline name "${name}" must start with a letter or a digit and hold at most 100 letters, digits, ".", "_" and "-"`;
}

/** The file a named baseline lives in. */
export function baselinePath(dir: string, name: string): string {
  const problem = badBaselineName(name);
  if (problem) throw new BadOptionError(problem);
  return join(dir, `${name}.json`);
}

/** Keeps a copy of a results file as a named baseline; replaced atomically, so a reader never sees half of one. */
export async function saveBaseline(dir: string, name: string, results: string): Promise<string> {
  const path = baselinePath(dir, name);
  await makeDirectory(dir);
  await writeFileAtomically(path, await readFile(results));
  return path;
}

/** A path, or the name of a saved baseline. */
export async function resolveBaseline(nameOrPath: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (existsSync(nameOrPath)) return nameOrPath;
  const dir = baselineDir(env);
  // Only a valid name is looked up in the directory: "../x" is a path that does not exist, not a baseline.
  const path = badBaselineName(nameOrPath) ? undefined : join(dir, `${nameOrPath}.json`);
  if (path && existsSync(path)) return path;
  const saved = await savedBaselines(dir);
  throw new BadResultsFileError(
    `no baseline "${nameOrPath}": not a file, and not in ${dir} (saved: ${saved.join(', ') || 'none'}); save one with \`virtbench baseline save ${nameOrPath}\``,
  );
}
