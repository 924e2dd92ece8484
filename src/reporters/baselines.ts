import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { VirtbenchError } from '../errors.js';

/** Named baselines are results files kept in one directory. */
export function baselineDir(env: NodeJS.ProcessEnv): string {
  return resolve(env.VIRTBENCH_BASELINE_DIR || '.virtbench/baselines');
}

export async function savedBaselines(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5));
}

/** A path, or the name of a saved baseline. */
export async function resolveBaseline(nameOrPath: string, env: NodeJS.ProcessEnv): Promise<string> {
  if (existsSync(nameOrPath)) return nameOrPath;
  const dir = baselineDir(env);
  const path = join(dir, `${nameOrPath}.json`);
  if (existsSync(path)) return path;
  const saved = await savedBaselines(dir);
  throw new VirtbenchError(
    'VIRTBENCH_BAD_RESULTS_FILE',
    `no baseline "${nameOrPath}": not a file, and not in ${dir} (saved: ${saved.join(', ') || 'none'}); save one with \`virtbench baseline save ${nameOrPath}\``,
  );
}
