import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Plugin } from 'vite';
import { defaultExclude, type TestProjectInlineConfiguration } from 'vitest/config';
import { SUITES, benchFiles, withoutBenchFiles, type BenchFiles, type Suite } from './bench-files.js';
import { BadOptionError } from './errors.js';
import { isKind } from './host/kind.js';
import type { Question } from './results/schema.js';

import { PROFILE_NAMES, resolveProfile, withRuns, type Profile } from './workloads/profiles.js';
import { resolveQuietTurns, resolveUntilDecided, type UntilDecidedOptions, type UntilDecidedPlan } from './runtime/run-count.js';
import type { PlannedComparison } from './statistics/until-decided.js';
import { baselinePlatform } from './results/ordering.js';
import { hostEnvironment } from './host/environment.js';
import { cacheDir } from './host/paths.js';
import {
  PLATFORM_NAMES,
  PLATFORM_OPTION_KEYS,
  basePlatform,
  isKnownPlatform,
  optionPlatformNames,
  platformNames,
  questionsFor,
  validatePlatformOptions,
  variantOf,
  type PlatformOptions,
  type PlatformSettings,
} from './platforms/index.js';
import { TURNSTILE_ENV, roundOrderFacts, roundSeedFromEnv } from './turnstile/index.js';
import { PROVIDE_KEY, type ProvidedSession } from './runtime/session.js';
import { TurnReporter, isTurnReporter, notRunPlatforms, runPlatformsTogether } from './runtime/turn-reporter.js';
import { sharedTurnstile } from './turnstile/index.js';
import { platformsOfRun, resolveVariantBenchmarks, standInPlan, type VariantBenchmarks } from './platforms/variants.js';
import { WORKLOAD_NAMES, workloads } from './workloads/index.js';
import { VirtbenchReporter } from './reporters/virtbench-reporter.js';

/** The options of virtbench(); platforms' own options (such as `unikernel`) come from the registry. */
export interface VirtbenchOptions extends PlatformOptions {
  /** Platforms to benchmark, one Vitest project each. Default: every platform virtbench knows. */
  platforms?: string[];
  /** quick | standard | assignment. VIRTBENCH_PROFILE overrides it. Default: standard. */
  profile?: string;
  /** Where results.json and the CSV files go, relative to the root. VIRTBENCH_REPORT_DIR overrides it. */
  reportDir?: string;
  /** Your own bench files, relative to the root. Default: bench/**\/*.bench.ts */
  include?: string[];
  /**
   * The seven benchmarks that ship with virtbench (cpu, mem, disk-random, disk-copyup, fork,
   * fork-threads, nginx): 'standard' runs them, beside your own bench files; 'none' runs only yours.
   * Default: 'standard' when `include` matches no file of the project, else 'none'.
   */
  suite?: Suite;
  /** Compare every run with this baseline (a saved name or a path) and fail on a regression. VIRTBENCH_BASELINE overrides it. */
  baseline?: string;
  /** Noise threshold for the baseline comparison: '5%' or the fraction 0.05 (the default). */
  threshold?: Fraction;
  /** A regression beyond this fails the run (default: the threshold); '10%' or 0.1. */
  failThreshold?: Fraction;
  /**
   * How far runs of the same code differ on this machine (a fraction, from an A/A or the history
   * store): lets a baseline of one run be judged against this run. Without it, a one-run baseline
   * cannot be judged and the gate fails the run with the fix (a pooled baseline needs none). '3%' or 0.03.
   */
  noiseFloor?: Fraction;
  /**
   * Benchmarks of the baseline this run may lack (not run, skipped, without runs) without failing the
   * gate: true for all, or names of platforms, benchmarks or "platform/benchmark". VIRTBENCH_ALLOW_MISSING
   * ("all" or a comma-separated list) overrides it. A benchmark that failed always fails the gate.
   */
  allowMissing?: boolean | string[];
  /**
   * Rounds until decided (on by default for the standard profile): with several platforms, each takes
   * rounds until every comparison of the findings it is part of has an interval of at most ±within
   * (default '5%'), at most maxRounds (30), and rounds beyond the first three stop once the run has
   * sampled budgetMinutes (18). false: the profile's fixed count. VIRTBENCH_UNTIL_WITHIN ("off" too),
   * VIRTBENCH_MAX_ROUNDS and VIRTBENCH_BUDGET override it.
   */
  untilDecided?: UntilDecidedOptions | false;
  /**
   * Quiet turns (default true): while one platform takes a sample, every other platform of the run is
   * frozen (QEMU guests stopped, containers paused), so that idle guests take no CPU from it.
   * VIRTBENCH_QUIET_TURNS=0 turns it off (to measure what idle platforms cost).
   */
  quietTurns?: boolean;
  /**
   * Runs per benchmark and platform instead of the profile's count (the profile still sets the sizes):
   * a gate wants more figures than a quick look. VIRTBENCH_RUNS overrides it.
   */
  runs?: number;
  /**
   * "varied" (default): a platform variant (qemu-tcg-ide, docker-volume...) measures only the benchmarks
   * that use what it changes when its base platform runs too; the report shows the base's figure, marked,
   * for the rest. "all": every benchmark on every platform. VIRTBENCH_VARIANT_BENCHMARKS overrides it.
   */
  variantBenchmarks?: VariantBenchmarks;
  /** An A/A run: measure this one platform twice, as "<platform>" and "<platform>#2". VIRTBENCH_AA overrides it. */
  aa?: string;
  /**
   * IDE runs, opted into with VIRTBENCH_IDE=1 (the Vitest extension's `vitest.nodeEnv`): bench files
   * then run as tests of an ordinary `vitest run`, on these platforms (default native;
   * VIRTBENCH_IDE_PLATFORMS overrides) with this profile (default quick; VIRTBENCH_PROFILE overrides).
   */
  ide?: { platforms?: string[]; profile?: string };
}

/** VIRTBENCH_ALLOW_MISSING ("all", or "docker-hostnet,native/nginx") over the option. */
function resolveAllowMissing(option: unknown, env: NodeJS.ProcessEnv): boolean | string[] | undefined {
  const text = env.VIRTBENCH_ALLOW_MISSING?.trim();
  if (text)
    return text === 'all'
      ? true
      : text
          .split(',')
          .map((entry) => entry.trim())
          .filter(Boolean);
  if (option === undefined || typeof option === 'boolean') return option;
  if (Array.isArray(option) && option.every((entry) => typeof entry === 'string' && entry !== '')) return option as string[];
  throw new BadOptionError(
    `option "allowMissing" must be true, or a list of platform, benchmark or "platform/benchmark" names, got ${JSON.stringify(option)}`,
  );
}

/** Every option virtbench() takes (the README's options table is checked against it). */
export const OPTION_NAMES: readonly string[] = [
  'platforms',
  'profile',
  'reportDir',
  'include',
  'suite',
  'baseline',
  'threshold',
  'failThreshold',
  'noiseFloor',
  'allowMissing',
  'untilDecided',
  'quietTurns',
  'runs',
  'variantBenchmarks',
  'aa',
  'ide',
  ...PLATFORM_OPTION_KEYS,
];
const BENCH_SUFFIX = ' (bench)';

export interface ResolvedOptions {
  platforms: string[];
  profile: Profile;
  reportDir: string;
  include: string[];
  /** Unset: 'standard' when include matches no file of the project (decided in config(), which knows the root). */
  suite?: Suite;
  cacheDir: string;
  untilDecided?: UntilDecidedPlan;
  quietTurns: boolean;
  variantBenchmarks: VariantBenchmarks;
  /** Set in IDE runs: the platforms whose bench files run in `vitest run`. */
  ide?: { platforms: string[] };
  settings: PlatformSettings;
  gate?: { baseline: string; threshold?: number; failThreshold?: number; noiseFloor?: number; allowMissing?: boolean | string[] };
}

/** A share as the options take it: '5%' as on the command line, or the fraction 0.05. */
export type Fraction = number | `${number}%`;

/** A Fraction option as a fraction; a bare number of 1 or more is refused ('5' would be 500 %). */
function fractionOption(name: string, value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const bad = (why: string) => new BadOptionError(`option "${name}" ${why}, got ${JSON.stringify(value)}; fix: write it as '5%' or 0.05`);
  if (typeof value === 'string') {
    if (!/^\d+(\.\d+)?%$/.test(value.trim())) throw bad("must be a percentage such as '5%' or a fraction such as 0.05");
    return Number(value.trim().slice(0, -1)) / 100;
  }
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw bad("must be a percentage such as '5%' or a fraction such as 0.05");
  if (value >= 1) throw bad(`is a fraction (0.05 = 5 %), and ${value} would be ${value * 100} %`);
  return value;
}

/** Validates once, where options come in; every error lists the valid values. */
export function resolveOptions(options: VirtbenchOptions = {}, env: NodeJS.ProcessEnv = process.env): ResolvedOptions {
  if (typeof options !== 'object' || options === null) {
    throw new BadOptionError(`virtbench() takes an options object, got ${typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (!OPTION_NAMES.includes(key)) {
      throw new BadOptionError(`unknown virtbench option "${key}"; valid options: ${OPTION_NAMES.join(', ')}`);
    }
  }
  // First: the options may name platforms of their own (remote hosts).
  const settings = validatePlatformOptions(options as Record<string, unknown>, env);
  const valid = platformNames(settings);
  const aa = env.VIRTBENCH_AA || options.aa;
  if (aa !== undefined && !(typeof aa === 'string' && valid.includes(aa))) {
    throw new BadOptionError(`A/A platform (VIRTBENCH_AA or option "aa") must be one platform; valid platforms: ${valid.join(', ')}`);
  }
  // An A/A run measures one platform twice, under its name and as "<name>#2", and nothing else.
  const listed = options.platforms ?? PLATFORM_NAMES;
  if (!Array.isArray(listed) || listed.length === 0) {
    throw new BadOptionError(`option "platforms" must be a non-empty array; valid platforms: ${valid.join(', ')}`);
  }
  // A remote host named in the options is a platform of the run, also where "platforms" does not list it.
  const platforms = aa ? [aa, `${aa}#2`] : [...listed, ...optionPlatformNames(settings).filter((name) => !listed.includes(name))];
  for (const name of platforms) {
    if (!isKnownPlatform(name, settings)) {
      throw new BadOptionError(
        `unknown platform "${name}"; valid platforms: ${valid.join(', ')} (or one of them as "<platform>#<label>", measured twice)`,
      );
    }
  }
  if (new Set(platforms).size !== platforms.length) {
    throw new BadOptionError(`option "platforms" lists a platform twice: ${platforms.join(', ')}`);
  }
  if (options.profile !== undefined && !(PROFILE_NAMES as readonly string[]).includes(options.profile)) {
    throw new BadOptionError(`unknown profile "${options.profile}"; valid profiles: ${PROFILE_NAMES.join(', ')}`);
  }
  if (options.suite !== undefined && !SUITES.includes(options.suite)) {
    throw new BadOptionError(
      `option "suite" must be 'standard' (the seven shipped benchmarks) or 'none' (only your own bench files), got ${JSON.stringify(options.suite)}`,
    );
  }
  const fractions = Object.fromEntries(
    (['threshold', 'failThreshold', 'noiseFloor'] as const).map((name) => [name, fractionOption(name, options[name])]),
  ) as Record<'threshold' | 'failThreshold' | 'noiseFloor', number | undefined>;
  checkEnvironment(env, platforms);
  const baseline = env.VIRTBENCH_BASELINE || options.baseline;
  const allowMissing = resolveAllowMissing(options.allowMissing, env);
  const ide = env.VIRTBENCH_IDE === '1' ? resolveIde(options.ide, env, platforms) : undefined;
  const profile = withRuns(
    resolveProfile(env.VIRTBENCH_PROFILE || (ide ? (options.ide?.profile ?? 'quick') : options.profile)),
    resolveRuns(options.runs, env),
  );
  return {
    ...(ide ? { ide } : {}),
    settings,
    ...untilDecidedOf(options, env, profile, Boolean(ide)),
    quietTurns: resolveQuietTurns(options.quietTurns, env),
    variantBenchmarks: resolveVariantBenchmarks(options.variantBenchmarks, env),
    gate: baseline
      ? { baseline, threshold: fractions.threshold, failThreshold: fractions.failThreshold, noiseFloor: fractions.noiseFloor, allowMissing }
      : undefined,
    platforms,
    profile,
    reportDir: env.VIRTBENCH_REPORT_DIR || options.reportDir || 'virtbench-report',
    include: options.include ?? ['bench/**/*.bench.ts'],
    ...(options.suite ? { suite: options.suite } : {}),
    cacheDir: cacheDir(env),
  };
}

/**
 * Variables that only matter in some runs (an image build, an IDE run, an A/B) are still checked in
 * every run: a typo should fail where it was made, not be ignored until the day it matters.
 */
function checkEnvironment(env: NodeJS.ProcessEnv, platforms: readonly string[]): void {
  const bad = (name: string, expected: string, fix = `fix: set ${name} to ${expected}, or unset it`) =>
    new BadOptionError(`${name}=${JSON.stringify(env[name])} is not valid: it must be ${expected}\n${fix}`);
  for (const name of ['VIRTBENCH_IDE', 'VIRTBENCH_QEMU_REFRESH']) {
    if (env[name] && !['0', '1'].includes(env[name]!)) throw bad(name, '1 (on) or 0 (off)');
  }
  // Checked as an IDE run would, also when this one is not.
  if (env.VIRTBENCH_IDE_PLATFORMS) resolveIde(undefined, env, platforms);
  const allowMissing = env.VIRTBENCH_ALLOW_MISSING?.trim();
  if (allowMissing && allowMissing !== 'all' && !allowMissing.split(',').every((e) => /^[\w.#-]+(\/[\w.#-]+)?$/.test(e.trim()))) {
    throw bad('VIRTBENCH_ALLOW_MISSING', '"all" or a comma-separated list of platform, benchmark or platform/benchmark names');
  }
  if (env.VIRTBENCH_DEBIAN_MIRROR && !/^(https?|file):\/\/\S+$/.test(env.VIRTBENCH_DEBIAN_MIRROR)) {
    throw bad('VIRTBENCH_DEBIAN_MIRROR', 'a Debian mirror URL (http://, https:// or file://), e.g. http://deb.debian.org/debian');
  }
  if (env.VIRTBENCH_MACHINE && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(env.VIRTBENCH_MACHINE)) {
    throw bad('VIRTBENCH_MACHINE', 'a machine class such as metal-kvm (letters, digits, ".", "_", "-"; a runner label)');
  }
  if (env.VIRTBENCH_DEBIAN_SUITE && !/^[a-z][a-z0-9.-]*$/.test(env.VIRTBENCH_DEBIAN_SUITE)) {
    throw bad('VIRTBENCH_DEBIAN_SUITE', 'a Debian suite or codename such as bookworm');
  }
  if (env.VIRTBENCH_DEBIAN_SOURCES && !existsSync(env.VIRTBENCH_DEBIAN_SOURCES)) {
    throw bad('VIRTBENCH_DEBIAN_SOURCES', 'an apt sources file that exists (one-line or deb822 format)');
  }
  roundSeedFromEnv(env); // a bad VIRTBENCH_ROUND_SEED throws with the fix
  if (env.VIRTBENCH_TURNSTILE_TAG && !env.VIRTBENCH_TURNSTILE) {
    throw bad(
      'VIRTBENCH_TURNSTILE_TAG',
      'set only together with VIRTBENCH_TURNSTILE (virtbench ab sets both)',
      'fix: unset VIRTBENCH_TURNSTILE_TAG',
    );
  }
}

/** VIRTBENCH_RUNS over the option "runs": a whole number of runs per benchmark, or undefined for the profile's. */
function resolveRuns(option: unknown, env: NodeJS.ProcessEnv): number | undefined {
  const text = env.VIRTBENCH_RUNS?.trim();
  const runs = text ? Number(text) : option;
  if (runs === undefined) return undefined;
  if (typeof runs !== 'number' || !Number.isInteger(runs) || runs < 1 || runs > 10_000) {
    throw new BadOptionError(
      `runs per benchmark (VIRTBENCH_RUNS or option "runs") must be a whole number from 1 to 10000, got ${text ?? JSON.stringify(runs)}`,
    );
  }
  return runs;
}

/** The platforms of an IDE run: each must be one of the config's platforms. */
function resolveIde(option: VirtbenchOptions['ide'], env: NodeJS.ProcessEnv, platforms: readonly string[]): { platforms: string[] } {
  const chosen = env.VIRTBENCH_IDE_PLATFORMS
    ? env.VIRTBENCH_IDE_PLATFORMS.split(',').map((p) => p.trim())
    : (option?.platforms ?? ['native']);
  for (const name of chosen) {
    if (!platforms.includes(name)) {
      throw new BadOptionError(
        `IDE platform "${name}" (VIRTBENCH_IDE_PLATFORMS or option ide.platforms) is not among this config's platforms: ${platforms.join(', ')}`,
      );
    }
  }
  return { platforms: chosen };
}

/**
 * Generous bound for one benchmark test: every run at its own timeout, plus
 * preparation; times the platforms, since each waits for the others' turns.
 */
function testTimeoutMs(profile: Profile, untilDecided: UntilDecidedPlan | undefined, platforms: number): number {
  const longestRun = Math.max(...Object.values(workloads).map((w) => w.timeoutMs(profile)));
  return ((untilDecided?.maxRounds ?? profile.runs) * longestRun + 600_000) * Math.max(1, platforms);
}

function platformProject(
  platform: string,
  options: ResolvedOptions,
  files: BenchFiles,
  requested: boolean,
  runPlatforms: readonly string[],
): TestProjectInlineConfiguration {
  const standIn = standInPlan(platform, variantOf(platform), runPlatforms, options.variantBenchmarks);
  const session: ProvidedSession = {
    platform,
    profile: options.profile.name,
    ...(options.profile.runs !== resolveProfile(options.profile.name).runs ? { runs: options.profile.runs } : {}),
    cacheDir: options.cacheDir,
    reportDir: options.reportDir,
    requested,
    ide: Boolean(options.ide),
    settings: options.settings,
    ...(options.untilDecided
      ? { untilDecided: { ...options.untilDecided, comparisons: plannedComparisons(options.platforms, options.settings) } }
      : {}),
    ...(options.quietTurns ? {} : { quietTurns: false }),
    ...(standIn ? { standIn } : {}),
    runPlatforms: [...runPlatforms],
  };
  return {
    extends: true,
    test: {
      name: platform,
      // Platform projects hold benchmarks only; `vitest run` finds nothing in them, unless this is an
      // IDE run: Vitest then adds the bench variant of a benchmark-enabled project to ordinary test runs.
      include: [],
      benchmark: { include: files.include, exclude: files.exclude, enabled: options.ide?.platforms.includes(platform) ?? false },
      provide: { [PROVIDE_KEY]: session },
      // Beside this module: global-setup.ts when run from src/, global-setup.js from the build in dist/.
      globalSetup: [fileURLToPath(new URL(`./runtime/global-setup${extname(new URL(import.meta.url).pathname)}`, import.meta.url))],
      testTimeout: testTimeoutMs(options.profile, options.untilDecided, options.platforms.length),
      hookTimeout: 600_000,
      // One bench file of a platform at a time: a platform's workers share one provisioned instance
      // (the qemu guest is paused when a file's benchmark closes). Always off, whatever the user's
      // config or --file-parallelism says (see config() below).
      fileParallelism: false,
      // One worker runs the platform's files one after another, its modules loaded once: a fresh worker
      // per file cost about a second each, times every platform starting at once on a small machine.
      isolate: false,
    },
  };
}

/**
 * `--project qemu` would otherwise end in Vitest's bare "no projects matched";
 * name the platforms instead. Only checked when every other project is an
 * inline config with a name, so that all valid names are known.
 */
function checkRequestedProjects(requested: string[], platforms: string[], otherProjects: unknown[]): void {
  const otherNames = otherProjects.map((p) => (p as { test?: { name?: unknown } } | null)?.test?.name);
  if (otherNames.some((name) => typeof name !== 'string')) return;
  for (const name of requested) {
    if (name.includes('*') || name.startsWith('!') || platforms.includes(name) || otherNames.includes(name)) continue;
    if (name.endsWith(BENCH_SUFFIX) && platforms.includes(name.slice(0, -BENCH_SUFFIX.length))) continue;
    const known = PLATFORM_NAMES.includes(name) ? ` ("${name}" is a virtbench platform, but not in this config's platforms option)` : '';
    throw new BadOptionError(
      `--project ${name} matches no project${known}; platforms in this config: ${platforms.join(', ')}` +
        (otherNames.length ? `; other projects: ${otherNames.join(', ')}` : ''),
    );
  }
}

/** A reporters entry (the reporter, or [reporter, options]) that is a VirtbenchReporter, from whichever copy of the plugin. */
function isVirtbenchReporter(entry: unknown): boolean {
  return isKind(Array.isArray(entry) ? entry[0] : entry, 'virtbench-reporter');
}

/** For each platform measured twice ("native" and "native#2"): how small a difference this machine resolves, per benchmark. */
/** Rounds until decided, when on: never in an IDE run (one quick look) or under virtbench ab (its own rounds). */
function untilDecidedOf(
  options: VirtbenchOptions,
  env: NodeJS.ProcessEnv,
  profile: Profile,
  ide: boolean,
): { untilDecided?: UntilDecidedPlan } {
  const plan = resolveUntilDecided(options.untilDecided, env, profile, resolveRuns(options.runs, env) !== undefined);
  return plan && !ide && !env[TURNSTILE_ENV] ? { untilDecided: plan } : {};
}

/**
 * The comparisons rounds until decided waits for: those of the findings (the platforms' questions, and
 * an A/A platform against its base on every benchmark), or without questions each platform against the baseline.
 */
export function plannedComparisons(platforms: readonly string[], settings: PlatformSettings = {}): PlannedComparison[] {
  const questions = questionsFor(platforms, settings).flatMap((q) => q.comparisons);
  const aa = aaQuestions(platforms).flatMap((q) => q.comparisons.map(({ platform, against }) => ({ platform, against })));
  if (questions.length + aa.length > 0) return [...questions, ...aa];
  const baseline = baselinePlatform(platforms);
  return platforms.filter((p) => p !== baseline).map((platform) => ({ platform, against: baseline! }));
}

function aaQuestions(platforms: readonly string[]): Question[] {
  return platforms
    .filter((name) => name.includes('#') && platforms.includes(basePlatform(name)))
    .map((name) => ({
      question: `A/A: ${basePlatform(name)} measured twice; the smallest difference this machine can tell apart:`,
      aa: true,
      comparisons: [{ platform: name, against: basePlatform(name), benchmarks: [...WORKLOAD_NAMES] }],
    }));
}

/**
 * The Vitest plugin: one project per platform, `--project <platform>` selecting
 * that platform's benchmarks, and the virtbench reporter.
 */
export function virtbench(userOptions: VirtbenchOptions = {}): Plugin {
  const options = resolveOptions(userOptions);
  const reporter = new VirtbenchReporter({
    reportDir: options.reportDir,
    profile: options.profile.name,
    gate: options.gate,
    // Columns in the order of the config (native, the reference, first); rows in the workloads' order.
    order: { platforms: ['native', ...options.platforms.filter((p) => p !== 'native')], benchmarks: WORKLOAD_NAMES },
    // With the seed of the order of turns in each round, which the run's turnstile drew (or VIRTBENCH_ROUND_SEED fixed).
    describeHost: async (vitestVersion) => ({
      ...(await hostEnvironment(vitestVersion)),
      ...roundOrderFacts(sharedTurnstile()?.roundOrder),
      // How the run took its rounds: the precision and budget of rounds until decided, and whether turns were quiet.
      ...(options.untilDecided
        ? { untilWithin: options.untilDecided.within, untilBudgetMinutes: options.untilDecided.budgetMs / 60_000 }
        : {}),
      quietTurns: options.quietTurns ? 1 : 0,
    }),
    questions: [...questionsFor(options.platforms, options.settings), ...aaQuestions(options.platforms)],
    notRun: notRunPlatforms,
  });
  return {
    name: 'virtbench',
    config(config) {
      const test = (config as { test?: Record<string, unknown> }).test ?? {};
      // Project configs inherit this plugin (extends: true); only the root config gets the projects.
      if (test.name !== undefined) {
        // A platform project's own config: Vitest has merged a --file-parallelism over it by now; keep it off.
        if ((test.provide as Record<string, unknown> | undefined)?.[PROVIDE_KEY] !== undefined) test.fileParallelism = false;
        return;
      }
      const requested = [test.project ?? []].flat() as string[];
      checkRequestedProjects(requested, options.platforms, (test.projects as unknown[]) ?? []);
      // The platforms this run measures: a variant stands in its base's figures only when the base runs too.
      const runPlatforms = platformsOfRun(options.ide?.platforms ?? options.platforms, requested);
      // The project's root: the config's, or --root (Vitest's CLI plugin has put its options in `test` by now).
      const root = resolve((config as { root?: string }).root ?? (test.root as string | undefined) ?? process.cwd());
      const exclude = ((test.benchmark as { exclude?: string[] } | undefined)?.exclude ?? defaultExclude) as string[];
      const files = benchFiles(options, root, exclude);
      const projects = options.platforms.map((p) => platformProject(p, options, files, requested.includes(p), runPlatforms));
      test.projects = [...((test.projects as unknown[]) ?? []).map(withoutBenchFiles), ...projects];
      // Vitest 5 names a project's benchmark variant "<name> (bench)"; let `--project native` mean it.
      if (requested.length > 0) {
        test.project = requested.flatMap((name) => (options.platforms.includes(name) ? [name, name + BENCH_SUFFIX] : [name]));
      }
      (config as { test?: unknown }).test = test;
    },
    configureVitest({ vitest }) {
      // Added here rather than in config() so that a --reporter on the command line cannot drop it.
      // Project configs that extend the root load this plugin again: one reporter per run, whoever made it.
      const reporters = vitest.config.reporters as unknown[];
      if (!reporters.some(isVirtbenchReporter)) reporters.push(reporter);
      // Several platforms run at the same time, one worker each, and take their samples in turns
      // (src/turnstile/); the turn reporter tells the turnstile when a platform's file ended.
      if (!reporters.some(isTurnReporter)) reporters.push(new TurnReporter());
      runPlatformsTogether(vitest);
    },
  } as Plugin;
}
