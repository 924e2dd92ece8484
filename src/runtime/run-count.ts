import { BadOptionError } from '../errors.js';
import type { Profile } from '../workloads/profiles.js';

/*
 * How many rounds a benchmark gets. A fixed count (the profile's, e.g. the assignment's 48, or the
 * runs option), or rounds until decided: with several platforms in a run, a platform takes rounds
 * until every comparison of the findings it is part of has an interval of at most ±within, or the
 * run's time budget is spent (src/statistics/until-decided.ts decides, the turnstile asks it).
 */

/** Rounds until decided, as the options and the environment set it. */
export interface UntilDecidedOptions {
  /** The precision a comparison is decided at: its interval reaches at most this far either side of the ratio ('5%' or 0.05). */
  within?: number | `${number}%`;
  /** No platform takes more rounds than this (default 30). */
  maxRounds?: number;
  /** Rounds beyond the minimum stop once the run's benchmarks have sampled this many minutes (default 18). */
  budgetMinutes?: number;
}

/** Rounds until decided, resolved. */
export interface UntilDecidedPlan {
  within: number;
  /** Rounds every platform takes first (3: a spread from two rounds is too rough to decide on). */
  minRounds: number;
  maxRounds: number;
  /** A platform in no comparison of a benchmark takes the profile's runs of it. */
  unpairedRounds: number;
  budgetMs: number;
}

export const UNTIL_DECIDED_DEFAULTS = { within: 0.05, minRounds: 3, maxRounds: 30, budgetMinutes: 18 } as const;

const RENAMED: Record<string, string> = {
  VIRTBENCH_UNTIL_SD:
    'VIRTBENCH_UNTIL_WITHIN (rounds are added until the ratios between platforms are decided, not until one platform agrees with itself)',
  VIRTBENCH_MAX_RUNS: 'VIRTBENCH_MAX_ROUNDS',
};

function percentage(name: string, text: string | number): number {
  const value = typeof text === 'number' ? text : text.trim().endsWith('%') ? Number(text.trim().slice(0, -1)) / 100 : Number(text);
  if (!(value > 0 && value < 1)) {
    throw new BadOptionError(
      `${name} must be a share between 0 and 100 %, got ${JSON.stringify(text)}\nfix: write it as 5% or 0.05, or off`,
    );
  }
  return value;
}

function wholeNumber(name: string, text: string | number, least: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < least) {
    throw new BadOptionError(`${name} must be a whole number of at least ${least}, got ${JSON.stringify(text)}\nfix: set it to e.g. 30`);
  }
  return value;
}

function budgetMinutesOf(value: string | number): number {
  const minutes = Number(typeof value === 'string' ? value.trim().replace(/m$/, '') : value);
  if (!(minutes >= 0 && Number.isFinite(minutes))) {
    throw new BadOptionError(
      `VIRTBENCH_BUDGET (or untilDecided.budgetMinutes) must be minutes, got ${JSON.stringify(value)}\nfix: e.g. 18 or 18m`,
    );
  }
  return minutes;
}

/**
 * Rounds until decided for this run, or undefined for a fixed count. On by default for the standard
 * profile, unless the run count was set (a fixed count asked for); off for quick (tests) and for the
 * assignment's 48 runs. VIRTBENCH_UNTIL_WITHIN (a share, or "off"), VIRTBENCH_MAX_ROUNDS and
 * VIRTBENCH_BUDGET (minutes) win over the option.
 */
export function resolveUntilDecided(
  option: UntilDecidedOptions | false | undefined,
  env: NodeJS.ProcessEnv,
  profile: Profile,
  fixedRuns: boolean,
): UntilDecidedPlan | undefined {
  for (const [old, now] of Object.entries(RENAMED)) {
    if (env[old] !== undefined) throw new BadOptionError(`${old} is replaced\nfix: use ${now}`);
  }
  const within = env.VIRTBENCH_UNTIL_WITHIN?.trim();
  // Checked in every run, also one that takes a fixed count: a typo fails where it was made.
  if (within && within !== 'off') percentage('VIRTBENCH_UNTIL_WITHIN', within);
  if (env.VIRTBENCH_MAX_ROUNDS)
    wholeNumber('VIRTBENCH_MAX_ROUNDS', env.VIRTBENCH_MAX_ROUNDS, Math.max(UNTIL_DECIDED_DEFAULTS.minRounds, profile.runs));
  if (env.VIRTBENCH_BUDGET) budgetMinutesOf(env.VIRTBENCH_BUDGET);
  if (within === 'off' || (within === undefined && option === false)) return undefined;
  const asked = within !== undefined || (option !== undefined && option !== false);
  if (!asked && (profile.name !== 'standard' || fixedRuns)) return undefined;
  const given = option || {};
  const budgetMinutes = budgetMinutesOf(env.VIRTBENCH_BUDGET ?? given.budgetMinutes ?? UNTIL_DECIDED_DEFAULTS.budgetMinutes);
  const minRounds = UNTIL_DECIDED_DEFAULTS.minRounds;
  return {
    within: percentage(
      within ? 'VIRTBENCH_UNTIL_WITHIN' : 'untilDecided.within',
      within || (given.within ?? UNTIL_DECIDED_DEFAULTS.within),
    ),
    minRounds,
    maxRounds: wholeNumber(
      env.VIRTBENCH_MAX_ROUNDS ? 'VIRTBENCH_MAX_ROUNDS' : 'untilDecided.maxRounds',
      env.VIRTBENCH_MAX_ROUNDS || (given.maxRounds ?? UNTIL_DECIDED_DEFAULTS.maxRounds),
      Math.max(minRounds, profile.runs),
    ),
    unpairedRounds: profile.runs,
    budgetMs: budgetMinutes * 60_000,
  };
}

/** Quiet turns (other platforms frozen during a sample): on unless VIRTBENCH_QUIET_TURNS=0 or the option says false. */
export function resolveQuietTurns(option: unknown, env: NodeJS.ProcessEnv): boolean {
  const text = env.VIRTBENCH_QUIET_TURNS;
  if (text !== undefined) {
    if (text !== '0' && text !== '1')
      throw new BadOptionError(`VIRTBENCH_QUIET_TURNS must be 0 or 1, got ${JSON.stringify(text)}; fix: unset it (on) or set 0`);
    return text === '1';
  }
  if (option !== undefined && typeof option !== 'boolean') {
    throw new BadOptionError(`option "quietTurns" must be true or false, got ${JSON.stringify(option)}`);
  }
  return option ?? true;
}
