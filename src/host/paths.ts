import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root, whether run from src/ or a build. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/**
 * Where the C sources live: beside their TypeScript under src/ (each workload's in its folder of
 * src/workloads/), which the package ships as they are, also when the TypeScript runs from dist/.
 */
export const sourceDir = join(packageRoot, 'src');

/**
 * Built binaries and images are cached here between runs: $VIRTBENCH_CACHE_DIR,
 * else $XDG_CACHE_HOME/virtbench, else ~/.cache/virtbench.
 */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.VIRTBENCH_CACHE_DIR) return resolve(env.VIRTBENCH_CACHE_DIR);
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'virtbench');
}
