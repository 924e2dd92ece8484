import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execa } from 'execa';
import { AbRunFailedError, BadOptionError } from '../errors.js';
import { TURNSTILE_ENV, TURNSTILE_TAG_ENV, addressToEnv, startTurnstile, turnstileAddress } from '../turnstile/index.js';
import { readResults } from '../results/results-file.js';
import type { ResultsFile } from '../results/schema.js';
import { poolRuns, type SideFacts } from './pool.js';
import { abSchedule, type AbSide } from './schedule.js';
import { addWorktree, installDependencies, removeWorktree, repositoryRoot, resolveCommit } from './worktree.js';

export interface AbOptions {
  /** The project directory (where vitest.config.ts is), inside a git repository. */
  cwd: string;
  baseRef: string;
  /** Undefined: the working tree as it is, uncommitted changes included. */
  headRef?: string;
  /** Runs per side at the least, taken in turns (at least 2). */
  minRounds: number;
  /** Runs per side at the most; more rounds than minRounds are taken while `stop` says no. */
  maxRounds: number;
  /** No round starts that would likely end after this many minutes (from the first round's start). */
  maxMinutes?: number;
  /**
   * Asked after every round from minRounds on with both sides' runs pooled so far: true ends the
   * A/B (every comparison decided). Without it, maxRounds rounds are taken.
   */
  stop?: (sides: { base: ResultsFile; head: ResultsFile; paired: boolean }, round: number) => boolean;
  /** Runs per benchmark in each run (VIRTBENCH_RUNS); undefined: the profile's. */
  runsPerBenchmark?: number;
  /**
   * Both sides' runs at the same time, their samples in turns at one turnstile (when both checkouts
   * can; otherwise one run after the other). Default true.
   */
  paired?: boolean;
  /** Vitest projects (platforms) to run; empty: the config's own. */
  projects: readonly string[];
  /** Bench file filters, as `vitest bench <filter>`. */
  filters?: readonly string[];
  /** VIRTBENCH_PROFILE of every run; undefined: the environment's or the config's. */
  profile?: string;
  /** Where each run's results and log go (runs/<side>-<round>/) and the pooled files. */
  outDir: string;
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  /** Aborting stops the current run (vitest cleans up its platforms) and removes the worktrees. */
  signal?: AbortSignal;
}

export interface AbResult {
  base: ResultsFile;
  head: ResultsFile;
  /** Whether the runs were paired (both sides at once, sample by sample), or one after the other. */
  paired: boolean;
  /** Rounds taken, and why no more: every comparison decided, the round or the time budget spent. */
  rounds: number;
  stoppedBecause: 'decided' | 'max rounds' | 'max minutes';
}

interface Checkout {
  facts: SideFacts;
  /** The project directory in this checkout. */
  projectDir: string;
  worktree?: string;
}

const short = (commit: string) => commit.slice(0, 10);

async function prepareCheckout(
  side: AbSide,
  ref: string | undefined,
  root: string,
  projectPath: string,
  scratch: string,
  options: AbOptions,
) {
  if (ref === undefined) {
    const commit = await resolveCommit(root, 'HEAD');
    const changes = (await execa('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root })).stdout.trim();
    return {
      facts: { side, ref: changes ? 'working tree (HEAD with uncommitted changes)' : 'working tree', commit },
      projectDir: options.cwd,
    };
  }
  const commit = await resolveCommit(root, ref);
  const worktree = join(scratch, side);
  await addWorktree(root, worktree, commit);
  const checkout: Checkout = { facts: { side, ref, commit }, projectDir: join(worktree, projectPath), worktree };
  const how = await installDependencies(options.cwd, checkout.projectDir, options.log);
  options.log(`virtbench ab: ${side} = ${ref} (${short(commit)}) in ${worktree}, dependencies ${how}`);
  return checkout;
}

/**
 * Whether this checkout's virtbench can take its turns at another process's turnstile: package.json
 * says so (field virtbench.sharedTurnstile), its own or that of the virtbench it has installed.
 */
export async function canShareTurnstile(projectDir: string): Promise<boolean> {
  const read = async (path: string) => JSON.parse(await readFile(path, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  let manifest = await read(join(projectDir, 'package.json'));
  if (manifest.name !== 'virtbench') manifest = await read(join(projectDir, 'node_modules', 'virtbench', 'package.json'));
  const features = manifest.virtbench as { sharedTurnstile?: unknown } | undefined;
  // 2: a run with one platform plans too (a version-1 side never planned, and its rooms started alone).
  // 3: connections present the secret of the turnstile's address (a version-2 side would be turned away).
  return typeof features?.sharedTurnstile === 'number' && features.sharedTurnstile >= 3;
}

/** One `vitest bench` of one side; its results file, validated, or why there is none. */
async function measure(
  checkout: Checkout,
  round: number,
  runDir: string,
  options: AbOptions,
  extraEnv: Record<string, string> = {},
): Promise<ResultsFile> {
  const vitest = join(checkout.projectDir, 'node_modules', 'vitest', 'vitest.mjs');
  if (!existsSync(vitest)) {
    throw new AbRunFailedError(`no vitest in ${checkout.projectDir}/node_modules; fix: npm install in that project`);
  }
  const args = [vitest, 'bench', '--run', ...(options.filters ?? []), ...options.projects.flatMap((p) => ['--project', p])];
  const env = {
    ...options.env,
    VIRTBENCH_REPORT_DIR: runDir,
    ...(options.profile ? { VIRTBENCH_PROFILE: options.profile } : {}),
    ...(options.runsPerBenchmark ? { VIRTBENCH_RUNS: String(options.runsPerBenchmark) } : {}),
    ...extraEnv,
    NO_COLOR: '1',
  };
  const started = Date.now();
  const run = await execa(process.execPath, args, {
    cwd: checkout.projectDir,
    env,
    extendEnv: false,
    all: true,
    reject: false,
    cancelSignal: options.signal,
    // vitest stops its containers and guests on SIGTERM; give it time before SIGKILL.
    forceKillAfterDelay: 60_000,
  });
  await writeFile(`${runDir}.log`, String(run.all ?? ''));
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  options.log(
    `virtbench ab: round ${round}/${options.maxRounds} ${checkout.facts.side} (${short(checkout.facts.commit)}): ${seconds} s, exit ${run.exitCode ?? run.signal}`,
  );
  if (run.isCanceled) throw new AbRunFailedError('interrupted; the runs measured so far are in ' + options.outDir);
  if (!existsSync(join(runDir, 'results.json'))) {
    const tail = String(run.all ?? '')
      .trim()
      .split('\n')
      .slice(-15)
      .join('\n');
    throw new AbRunFailedError(
      `vitest bench of ${checkout.facts.side} (${checkout.facts.ref}) wrote no results (exit ${run.exitCode ?? run.signal}); log: ${runDir}.log\n${tail}\nfix: run \`npx vitest bench\` in ${checkout.projectDir} to see why`,
    );
  }
  return readResults(join(runDir, 'results.json'));
}

/**
 * One paired round: the base's and the head's `vitest bench` at the same time, meeting at a turnstile
 * of this process, so that they prepare one at a time and take their samples in turns, one of each
 * side's platforms per turnstile round. A fresh turnstile per round: its rooms start together.
 */
async function measurePair(
  base: Checkout,
  head: Checkout,
  round: number,
  runDir: (side: AbSide, round: number) => Promise<string>,
  options: AbOptions,
): Promise<[ResultsFile, ResultsFile]> {
  const server = await startTurnstile({
    address: turnstileAddress(`ab-${process.pid}-${round}`),
    // The base's run and the head's: no benchmark starts before both have said what they run.
    planners: 2,
    log: (line) => options.log(`virtbench ab: turnstile: ${line}`),
  });
  try {
    const started = Date.now();
    const env = (side: AbSide) => ({ [TURNSTILE_ENV]: addressToEnv(server.address), [TURNSTILE_TAG_ENV]: side });
    const [baseDir, headDir] = [await runDir('base', round), await runDir('head', round)];
    // Both run to their end, so that a failure of one does not leave the other running.
    const settled = await Promise.allSettled([
      measure(base, round, baseDir, options, env('base')),
      measure(head, round, headDir, options, env('head')),
    ]);
    options.log(`virtbench ab: round ${round}/${options.maxRounds} base and head paired: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    const failed = settled.find((s) => s.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    return settled.map((s) => (s as PromiseFulfilledResult<ResultsFile>).value) as [ResultsFile, ResultsFile];
  } finally {
    await server.close();
  }
}

/**
 * Measures base and head on this machine, each from its own checkout: paired
 * (each round runs both at once, their samples in turns at one turnstile) when
 * both checkouts can, else one after the other (base, head, base, head...);
 * pools each side's runs. The worktrees are removed afterwards, also on failure
 * or interruption; every run's results stay in outDir/runs/.
 */
export async function runAb(options: AbOptions): Promise<AbResult> {
  const { minRounds, maxRounds } = options;
  if (!Number.isInteger(minRounds) || minRounds < 2 || minRounds > 50) {
    throw new BadOptionError(
      `--min-rounds (or --rounds) must be a whole number from 2 to 50 (got ${minRounds}): with one run per side nothing says how far runs of the same code differ`,
    );
  }
  if (!Number.isInteger(maxRounds) || maxRounds < minRounds || maxRounds > 50) {
    throw new BadOptionError(`--max-rounds must be a whole number from --min-rounds (${minRounds}) to 50, got ${maxRounds}`);
  }
  if (options.maxMinutes !== undefined && !(options.maxMinutes > 0)) {
    throw new BadOptionError(`--max-minutes must be a positive number of minutes, got ${options.maxMinutes}`);
  }
  for (const arg of [...options.projects, ...(options.filters ?? [])]) {
    // They go to vitest's command line: one that reads as an option would change what runs.
    if (arg === '' || arg.startsWith('-')) throw new BadOptionError(`"${arg}" is not a project name or a file filter`);
  }
  const root = await repositoryRoot(options.cwd);
  const projectPath = relative(root, options.cwd);
  await mkdir(join(options.outDir, 'runs'), { recursive: true });
  const scratch = await mkdtemp(join(tmpdir(), 'virtbench-ab-'));
  const checkouts: Partial<Record<AbSide, Checkout>> = {};
  try {
    checkouts.base = await prepareCheckout('base', options.baseRef, root, projectPath, scratch, options);
    checkouts.head = await prepareCheckout('head', options.headRef, root, projectPath, scratch, options);
    const runs: Record<AbSide, { round: number; file: ResultsFile }[]> = { base: [], head: [] };
    const runDir = async (side: AbSide, round: number) => {
      const dir = join(options.outDir, 'runs', `${side}-${round}`);
      await rm(dir, { recursive: true, force: true });
      return dir;
    };
    let paired = options.paired ?? true;
    if (paired && !((await canShareTurnstile(checkouts.base.projectDir)) && (await canShareTurnstile(checkouts.head.projectDir)))) {
      paired = false;
      options.log(
        'virtbench ab: one side has a virtbench that cannot share a turnstile (before sharedTurnstile in package.json): its runs go one after the other',
      );
    }
    const pooled = () => ({
      base: poolRuns(runs.base, checkouts.base!.facts, { paired }),
      head: poolRuns(runs.head, checkouts.head!.facts, { paired }),
      paired,
    });
    const started = Date.now();
    let round = 0;
    let stoppedBecause: AbResult['stoppedBecause'] = 'max rounds';
    while (round < maxRounds) {
      const elapsed = (Date.now() - started) / 60_000;
      // The next round would likely take as long as the average one so far.
      if (round >= minRounds && options.maxMinutes !== undefined && elapsed + elapsed / round > options.maxMinutes) {
        stoppedBecause = 'max minutes';
        options.log(`virtbench ab: the time budget (${options.maxMinutes} min) leaves no room for round ${round + 1}`);
        break;
      }
      round++;
      if (paired) {
        const [base, head] = await measurePair(checkouts.base, checkouts.head, round, runDir, options);
        runs.base.push({ round, file: base });
        runs.head.push({ round, file: head });
      } else {
        for (const { side } of abSchedule(1)) {
          runs[side].push({ round, file: await measure(checkouts[side]!, round, await runDir(side, round), options) });
        }
      }
      if (round >= minRounds && options.stop?.(pooled(), round)) {
        stoppedBecause = 'decided';
        break;
      }
    }
    return { ...pooled(), rounds: round, stoppedBecause };
  } finally {
    // Also a worktree whose dependencies failed to install, before its checkout was recorded.
    for (const side of ['base', 'head'] as const) if (existsSync(join(scratch, side))) await removeWorktree(root, join(scratch, side));
    await rm(scratch, { recursive: true, force: true });
  }
}
