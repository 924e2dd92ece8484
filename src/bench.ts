import { readFile } from 'node:fs/promises';
import { inject, test as baseTest, type RunnerTask, type RunnerTestCase, type TestContext } from 'vitest';
import { BadOptionError, isVirtbenchError } from './errors.js';
import type { StartedPlatform } from './platforms/platform.js';
import { resolveProfile, withRuns, type Profile } from './workloads/profiles.js';
import { cpuSeconds } from './host/cpu-time.js';
import type { PreparedWorkload } from './runtime/runner.js';
import { PROVIDE_KEY, type ProvidedSession } from './runtime/session.js';
import { turnstileFile, turnstileName, workerTurnstile, type TurnGrant, type TurnRoom } from './turnstile/index.js';
import type { BenchmarkRecord, Phase } from './results/schema.js';
import { standInReason } from './platforms/variants.js';
import { WORKLOAD_NAMES, workloads, type Workload, type WorkloadName } from './workloads/index.js';

/** What `prepare(name)` hands a bench file: the task function and the options to pass on. */
export interface PreparedBench {
  /**
   * The tinybench task: in this platform's next turn, flushes the caches,
   * runs the workload once and records the figure; returns the in-platform time.
   */
  sample: () => Promise<{ overriddenDuration: number; overriddenIterationCost: number }>;
  /** Per-benchmark options for `bench(name, options, fn)`. */
  benchOptions: { perProject: true; async: true };
  /**
   * Run options for `.run()`: no warmup; the profile's runs, then (when a
   * stability target is set) more until the figures are stable.
   */
  runOptions: { time: number; iterations: number; warmup: false };
}

export interface VirtbenchFixture {
  platform: string;
  profile: Profile;
  /** A built-in workload by name, or your own workload description. */
  prepare(workload: WorkloadName | Workload): Promise<PreparedBench>;
}

/**
 * `test` with a `virtbench` fixture that connects to the project's platform.
 * Benchmarks recorded through it land in task meta, where the virtbench
 * reporter reads them, including the runs that finished before a failure.
 *
 * With several platforms in a run, their workers run at the same time and
 * meet at the main process's turnstile (src/turnstile/): connecting,
 * preparing and cleaning up happen while no sample is taken (two platforms'
 * steps at a time), and the samples are taken one at a time, in rounds, each
 * platform once per round.
 */
export const test = baseTest.extend<{ virtbench: VirtbenchFixture }>({
  virtbench: async ({ task, skip, signal }, use) => {
    const session = providedSession();
    const profile = withRuns(resolveProfile(session.profile), session.runs);
    // Recorded before anything can fail, so a connection error still shows as this benchmark's failure.
    const early = recordFor(session.platform, workloads[task.name as WorkloadName] ?? task.name, profile, session.skipReason);
    task.meta.virtbench = early;
    if (session.skipReason) skip(session.skipReason);

    const turns = await turnRoomFor(session, task);
    let platform: StartedPlatform | undefined;
    const quiet = quietTurns(
      session,
      turns,
      () => platform,
      (phase, fn) => timed(phase, fn),
    );
    // A step runs with the platform awake, and leaves it frozen while other platforms take their samples.
    const exclusive = <T>(fn: () => Promise<T>): Promise<T> => (turns ? turns.exclusive(() => quiet.awake(fn), signal) : fn());
    const prepared: PreparedWorkload[] = [];
    let cleanUpTimer = (fn: () => Promise<void>) => fn();
    /** A variant that does not change what this workload uses shows its base's figure: nothing to connect to or measure. */
    const standIn = (record: BenchmarkRecord, workload: Workload) => {
      const reason = standInReason(session.standIn, workload);
      if (!reason) return;
      record.standIn = session.standIn!.base;
      skipBenchmark(record, reason, turns, skip);
    };
    const phases: Partial<Record<Phase, number>> = {};
    const timed = phaseTimer(phases);
    try {
      const builtIn = workloads[task.name as WorkloadName] as Workload | undefined;
      if (builtIn) standIn(early, builtIn);
      // Loaded only by a benchmark that runs: the platforms and the runner bring dockerode, ssh2 and
      // the rest, and a worker that only skips (an unavailable platform, a stand-in) starts faster without.
      const [{ createPlatform }, { prepareWorkload }] = await Promise.all([import('./platforms/index.js'), import('./runtime/runner.js')]);
      const started = (platform = await exclusive(() =>
        timed('connect', () => createPlatform(session.platform, session.settings).connect(session.facts ?? {})),
      ));
      const described = await exclusive(() => timed('connect', () => started.describe()));
      if (turns && started.cpuSources) turns.sources(await started.cpuSources());
      const platformInfo =
        session.provisionSeconds === undefined ? described : { ...described, provisionSeconds: session.provisionSeconds };
      early.phases = phases;
      await use({
        platform: session.platform,
        profile,
        async prepare(nameOrWorkload) {
          const workload = workloadOf(nameOrWorkload);
          const record: BenchmarkRecord = { ...recordFor(session.platform, workload, profile), platformInfo, phases };
          task.meta.virtbench = record;
          standIn(record, workload);
          const unsupported = started.unsupported?.(workload, profile);
          if (unsupported) skipBenchmark(record, `n/a: ${unsupported}`, turns, skip);
          const ready = await exclusive(() =>
            timed('prepare', () => prepareWorkload(started, workload, profile, { cacheDir: session.cacheDir, signal })),
          );
          cleanUpTimer = (fn) => timed('cleanup', fn);
          prepared.push(ready);
          return preparedBench({ session, profile, workload, record, started, ready, turns, timed, signal, quiet });
        },
      });
    } finally {
      // A server that does not stop politely is still stopped by the owner of the platform's work directory.
      const cleanUp = () =>
        cleanUpTimer(async () => {
          // A frozen platform cannot stop its servers: awake, whether or not the steps before froze it.
          await platform?.thaw?.().catch(() => {});
          for (const ready of prepared) await ready.dispose().catch(() => {});
          await platform?.close();
        });
      await endBenchmark(turns, task, signal, cleanUp);
    }
  },
});

/** What globalSetup provided this worker; there is none when the bench file runs without the plugin. */
function providedSession(): ProvidedSession {
  const session = inject(PROVIDE_KEY);
  if (!session) {
    throw new BadOptionError('no virtbench session: run bench files through a config that uses the virtbench() plugin (`vitest bench`)');
  }
  return session;
}

/** This benchmark's room at the main process's turnstile; undefined when the platform runs alone (no turnstile). */
async function turnRoomFor(session: ProvidedSession, task: RunnerTestCase): Promise<TurnRoom | undefined> {
  if (!session.turnstile) return undefined;
  const place = { tag: session.turnstileTag, root: session.turnstileRoot };
  const client = await workerTurnstile(session.turnstile, turnstileName(session.platform, place));
  return client.room(turnstileFile(task.file.filepath, place), task.name);
}

/** Adds a step's wall time to a phase of the benchmark's record (results.json shows where the time went). */
type PhaseTimer = <T>(phase: Phase, fn: () => Promise<T>) => Promise<T>;

function phaseTimer(phases: Partial<Record<Phase, number>>): PhaseTimer {
  return async (phase, fn) => {
    const t0 = performance.now();
    try {
      return await fn();
    } finally {
      phases[phase] = (phases[phase] ?? 0) + (performance.now() - t0) / 1000;
    }
  };
}

/** Skips the benchmark on this platform with the reason in its record. */
function skipBenchmark(record: BenchmarkRecord, reason: string, turns: TurnRoom | undefined, skip: TestContext['skip']): never {
  record.skipReason = reason;
  // Nobody waits for this platform's samples of it.
  turns?.skip();
  return skip(reason);
}

/** A built-in workload by name, or the bench file's own description. */
function workloadOf(nameOrWorkload: WorkloadName | Workload): Workload {
  const workload = typeof nameOrWorkload === 'string' ? workloads[nameOrWorkload] : nameOrWorkload;
  if (!workload) {
    throw new BadOptionError(`unknown workload "${String(nameOrWorkload)}"; valid workloads: ${WORKLOAD_NAMES.join(', ')}`);
  }
  return workload;
}

/** A prepared workload on a connected platform, and where its samples go. */
interface SampleSource {
  session: ProvidedSession;
  profile: Profile;
  workload: Workload;
  record: BenchmarkRecord;
  started: StartedPlatform;
  ready: PreparedWorkload;
  turns: TurnRoom | undefined;
  timed: PhaseTimer;
  signal: AbortSignal;
  quiet: QuietTurns;
}

/** What prepare() hands the bench file: tinybench's task, which takes each sample in this platform's turn, and its options. */
function preparedBench({ session, profile, workload, record, started, ready, turns, timed, signal, quiet }: SampleSource): PreparedBench {
  /** One sample: the cache flush, the run, and what disturbed it. */
  const takeSample = (grant?: TurnGrant) =>
    quiet.awake(async () => {
      // In the turn: a flush on native drops the host's page cache, which no other platform's sample may see.
      const flushed = await timed('flush', () => started.flushCaches());
      record.cachesFlushed = (record.cachesFlushed ?? true) && flushed;
      const before = await cpuTimes();
      const others = grant?.others.length ? await othersCpu(grant.others) : undefined;
      const figure = await timed('run', () => ready.runOnce());
      const time = Date.now() / 1000;
      const host = await hostDisturbance(before);
      const idle: Record<string, number> = others ? { othersCpu: await others() } : {};
      const extra = { ...(grant ? { round: grant.round } : {}), ...host, ...idle, ...figure.extra };
      record.samples.push({ time, value: figure.value, seconds: figure.seconds, extra });
      // In an IDE the test's output is where a user looks for the figure.
      if (session.ide)
        console.log(`virtbench [${session.platform}] ${workload.name} run ${record.samples.length}: ${figure.value} ${workload.unit}`);
      return { figure, round: grant?.round };
    });
  const until = turns ? session.untilDecided : undefined;
  return {
    async sample() {
      const { figure, round } = turns ? await turns.turn(takeSample, signal) : await takeSample();
      // tinybench runs while its time budget (1 ms under rounds until decided) is unspent or the
      // minimum count unmet; a declared cost of 0 keeps it going, 1 lets it stop.
      let done = true;
      if (until && turns && round !== undefined) {
        const answer = await turns.more(round, figure.value, signal);
        if (answer.stop) record.stoppedBy = answer.stop;
        done = !answer.more;
      }
      return { overriddenDuration: workload.sampleMs(figure), overriddenIterationCost: done ? 1 : 0 };
    },
    benchOptions: { perProject: true, async: true },
    runOptions: until ? { time: 1, iterations: until.minRounds, warmup: false } : { time: 0, iterations: profile.runs, warmup: false },
  };
}

/** Freezing the platform between its turns (quiet turns), and waking it for its own. */
interface QuietTurns {
  /** Runs fn with the platform awake; freezes it after, when quiet turns are on. */
  awake<T>(fn: () => Promise<T>): Promise<T>;
}

function quietTurns(
  session: ProvidedSession,
  turns: TurnRoom | undefined,
  platform: () => StartedPlatform | undefined,
  timed: PhaseTimer,
): QuietTurns {
  // Alone (no turnstile), no other platform's sample could be disturbed.
  if (!turns || session.quietTurns === false) return { awake: (fn) => fn() };
  return {
    async awake(fn) {
      const before = platform();
      if (before?.thaw) await timed('quiet', () => before.thaw!());
      let result: Awaited<ReturnType<typeof fn>>;
      try {
        result = await fn();
      } catch (error) {
        // The failure is the news: a platform that cannot be frozen after it (its guest or container gone) says nothing new.
        const after = platform();
        if (after?.freeze) await timed('quiet', () => after.freeze!()).catch(() => {});
        throw error;
      }
      const after = platform();
      if (after?.freeze) await timed('quiet', () => after.freeze!());
      return result;
    },
  };
}

/**
 * Starts reading the other platforms' CPU time: the function returns the share of a core they used since
 * (0.01 = 1 %). Each source on its own: one that went away meanwhile (a container removed) counts nothing
 * rather than taking its earlier time out of the sum.
 */
async function othersCpu(sources: NonNullable<TurnGrant['others']>): Promise<() => Promise<number>> {
  const read = () => Promise.all(sources.map((source) => cpuSeconds([source])));
  const start = await read();
  const t0 = performance.now();
  return async () => {
    const end = await read();
    const used = end.reduce((sum, seconds, i) => sum + Math.max(0, seconds - start[i]!), 0);
    const seconds = (performance.now() - t0) / 1000;
    return seconds > 0 ? Math.round((used / seconds) * 1e5) / 1e5 : 0;
  };
}

/**
 * The end of a benchmark, whether it passed, failed, was skipped or aborted: the end barrier, the
 * cleanup while no sample is taken, leaving the room, and the end of the file in the plan's order.
 */
async function endBenchmark(
  turns: TurnRoom | undefined,
  task: RunnerTestCase,
  signal: AbortSignal,
  cleanUp: () => Promise<void>,
): Promise<void> {
  // End barrier: the platforms start the next benchmark together (a failed or skipped one waits too).
  await turns?.done(signal).catch(() => {});
  try {
    if (turns) await lockedCleanUp(turns, cleanUp);
    else await cleanUp();
  } finally {
    turns?.leave();
  }
  // The platforms end a file in the plan's order, so that Vitest gives each its next file in the same worker.
  if (turns && isLastTestOfFile(task)) await turns.finishFile(signal).catch(() => {});
}

/** Whether no test of the file runs after this one (tests filtered out or skipped do not count). */
function isLastTestOfFile(task: RunnerTestCase): boolean {
  const runs = (t: RunnerTask): RunnerTask[] =>
    t.type === 'suite' ? t.tasks.flatMap(runs) : t.mode === 'run' || t.mode === 'queued' ? [t] : [];
  return runs(task.file).at(-1)?.id === task.id;
}

/** Cleans up while no sample is taken; without the lock when the turnstile is gone, since cleaning up must happen. */
async function lockedCleanUp(turns: TurnRoom, cleanUp: () => Promise<void>): Promise<void> {
  let ran = false;
  try {
    await turns.exclusive(() => ((ran = true), cleanUp()));
  } catch (error) {
    if (ran || !isVirtbenchError(error, 'VIRTBENCH_TURNSTILE_FAILED')) throw error;
    await cleanUp();
  }
}

/** The host's CPU time counters (first line of /proc/stat), in clock ticks; undefined where there is no /proc. */
async function cpuTimes(): Promise<{ steal: number; total: number } | undefined> {
  const stat = await readFile('/proc/stat', 'utf8').catch(() => undefined);
  const line = stat?.slice(0, stat.indexOf('\n'));
  if (!line?.startsWith('cpu ')) return undefined;
  // user nice system idle iowait irq softirq steal [guest guest_nice, already counted in user and nice]
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.some((n) => !Number.isFinite(n))) return undefined;
  return { steal: fields[7] ?? 0, total: fields.reduce((a, b) => a + b, 0) };
}

/**
 * What the host did during a sample: steal time as a fraction of the CPU time
 * that passed (0 when the kernel reports none), and the 1-minute load average
 * at its end.
 */
async function hostDisturbance(before: { steal: number; total: number } | undefined): Promise<Record<string, number>> {
  const facts: Record<string, number> = {};
  const after = await cpuTimes();
  if (before && after) {
    const total = after.total - before.total;
    facts.steal = total > 0 ? Math.max(0, after.steal - before.steal) / total : 0;
  }
  const loadavg = await readFile('/proc/loadavg', 'utf8').catch(() => undefined);
  const load1 = Number(loadavg?.split(' ')[0]);
  if (loadavg && Number.isFinite(load1)) facts.load1 = load1;
  return facts;
}

/** The record a benchmark starts with; before prepare() only the test name may be known. */
function recordFor(platform: string, workload: Workload | string, profile: Profile, skipReason?: string): BenchmarkRecord {
  const known = typeof workload === 'string' ? undefined : workload;
  return {
    platform,
    benchmark: known?.name ?? String(workload),
    title: known?.title ?? String(workload),
    unit: known?.unit ?? '',
    better: known?.better ?? 'lower',
    variant: known?.variant,
    profile: profile.name,
    samples: [],
    ...(skipReason ? { skipReason } : {}),
  };
}
