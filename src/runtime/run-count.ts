import { BadOptionError } from '../errors.js';
import { relativeSd } from '../statistics/descriptive.js';

/**
 * How many runs a benchmark gets. Fixed (the profile's count, e.g. the
 * assignment's 48), or adaptive as in the Phoronix Test Suite: after the
 * profile's runs, keep going until the relative standard deviation of the
 * figures is under a target, or a maximum count is reached.
 */
export interface UntilStable {
  /** Target sd / mean, e.g. 0.03. */
  relativeSd: number;
  maxRuns: number;
}

/** Whether a benchmark with these figures has had enough runs. */
export function enoughRuns(values: readonly number[], minRuns: number, until?: UntilStable): boolean {
  if (values.length < minRuns) return false;
  if (!until) return true;
  return values.length >= until.maxRuns || relativeSd(values) <= until.relativeSd;
}

/** Reads VIRTBENCH_UNTIL_SD ("3%" or "0.03") and VIRTBENCH_MAX_RUNS; the environment wins over the option. */
export function resolveUntilStable(option: UntilStable | undefined, env: NodeJS.ProcessEnv, minRuns: number): UntilStable | undefined {
  const text = env.VIRTBENCH_UNTIL_SD;
  const relative = text ? (text.endsWith('%') ? Number(text.slice(0, -1)) / 100 : Number(text)) : option?.relativeSd;
  if (relative === undefined) {
    if (env.VIRTBENCH_MAX_RUNS) {
      throw new BadOptionError(
        `VIRTBENCH_MAX_RUNS=${env.VIRTBENCH_MAX_RUNS} bounds adding runs until the figures are stable, which is off\n` +
          'fix: set VIRTBENCH_UNTIL_SD too (e.g. VIRTBENCH_UNTIL_SD=3%), or unset VIRTBENCH_MAX_RUNS (VIRTBENCH_RUNS sets a fixed run count)',
      );
    }
    return undefined;
  }
  const maxRuns = env.VIRTBENCH_MAX_RUNS ? Number(env.VIRTBENCH_MAX_RUNS) : (option?.maxRuns ?? Math.max(30, minRuns));
  if (!(relative > 0 && relative < 1)) {
    throw new BadOptionError(`relative sd target must be between 0 and 100 % (e.g. VIRTBENCH_UNTIL_SD=3%), got ${text ?? relative}`);
  }
  if (!Number.isInteger(maxRuns) || maxRuns < minRuns) {
    throw new BadOptionError(
      `maximum run count (VIRTBENCH_MAX_RUNS or untilStable.maxRuns) must be a whole number of at least ${minRuns} (the profile's runs), got ${env.VIRTBENCH_MAX_RUNS ?? maxRuns}`,
    );
  }
  return { relativeSd: relative, maxRuns };
}
