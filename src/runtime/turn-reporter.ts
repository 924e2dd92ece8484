import type { Reporter, TestModule, TestProject, TestSpecification, Vitest } from 'vitest/node';
import { PROVIDE_KEY, type ProvidedSession } from './session.js';
import { stopPlatformsOfTheRun } from './ide-runs.js';
import { TURNSTILE_ENV, sharedTurnstile } from '../turnstile/index.js';
import { isKind, markKind } from '../host/kind.js';

/*
 * The main-process side of rounds (see src/turnstile/): Vitest runs the
 * platform projects one after another by default. With several platforms,
 * their bench projects are put in one group with one worker per platform,
 * and their files ordered file by file (cpu on every platform, then mem on
 * every platform...), so that all platforms run the same benchmark at the
 * same time and take its samples in turns.
 *
 * This edits resolved project configs and wraps the sequencer: not a
 * documented Vitest API. test/integration/rounds.test.ts fails when a Vitest
 * update makes the platforms run one after another again.
 */

/** The platform a virtbench bench project measures; undefined for every other project. */
export function platformOf(project: TestProject): string | undefined {
  const config = project.config as { benchmark?: { enabled?: boolean }; provide?: Record<string, unknown> } | undefined;
  if (config?.benchmark?.enabled !== true) return undefined;
  const session = config.provide?.[PROVIDE_KEY] as Partial<ProvidedSession> | undefined;
  return typeof session?.platform === 'string' ? session.platform : undefined;
}

/** Tells the turnstile that a platform's worker finished a bench file, so that no room of it waits for that platform. */
export class TurnReporter implements Reporter {
  static {
    markKind(this.prototype, 'turn-reporter');
  }

  onTestModuleEnd(testModule: TestModule): void {
    const platform = platformOf(testModule.project);
    if (platform) sharedTurnstile()?.moduleEnded(platform, testModule.moduleId);
  }

  /** IDE runs in watch mode: platforms are stopped at the end of each run (see ide-runs.ts). */
  async onTestRunEnd(): Promise<void> {
    await stopPlatformsOfTheRun();
  }
}

/** A reporters entry (the reporter, or [reporter, options]) that is a TurnReporter, from whichever copy of this module. */
export function isTurnReporter(entry: unknown): boolean {
  return isKind(Array.isArray(entry) ? entry[0] : entry, 'turn-reporter');
}

const TOGETHER = Symbol.for('virtbench.together');

/**
 * Runs the platforms' bench projects at the same time (from configureVitest,
 * once per project: idempotent). With one platform, Vitest's plain order
 * stays, unless the turnstile is another run's too (virtbench ab): that one
 * must hear this run's plan, which the sequencer gives.
 */
export function runPlatformsTogether(vitest: Vitest, env: NodeJS.ProcessEnv = process.env): void {
  const ours = vitest.projects.filter((project) => platformOf(project) !== undefined);
  if (ours.length < 2 && !env[TURNSTILE_ENV]) return;
  const shapeOk =
    ours.every((p) => typeof p.config.sequence?.groupOrder === 'number' && typeof p.config.maxWorkers === 'number') &&
    typeof vitest.config.sequence?.sequencer === 'function';
  if (!shapeOk) {
    const warn = vitest.logger?.warn?.bind(vitest.logger) ?? console.warn;
    warn(
      'virtbench: this Vitest version resolves project configs differently from Vitest 5.1; the platforms run one after another, ' +
        "so the host's drift between their blocks of samples reads as a platform difference",
    );
    return;
  }
  // One group for every platform's bench project, one worker per platform.
  const groupOrder = Math.max(...ours.map((p) => p.config.sequence.groupOrder));
  for (const project of ours) {
    project.config.sequence.groupOrder = groupOrder;
    project.config.maxWorkers = ours.length;
  }

  const Base = vitest.config.sequence.sequencer;
  if ((Base as unknown as Record<symbol, unknown>)[TOGETHER]) return;
  const order = ours.map((p) => platformOf(p)!);
  class Together extends Base {
    static readonly [TOGETHER] = true;

    constructor(ctx: Vitest) {
      super(ctx);
      const sort = this.sort.bind(this);
      this.sort = async (files) => arrangeTogether(await sort(files), order, ours);
    }
  }
  vitest.config.sequence.sequencer = Together;
}

/**
 * The platforms' files file by file, in the platforms' order, in the places
 * Vitest gave them; tells the turnstile which platforms run which file, and
 * gives the group one worker per platform that can run here.
 */
export function arrangeTogether(
  sorted: TestSpecification[],
  order: readonly string[],
  projects: readonly TestProject[],
): TestSpecification[] {
  const platformRank = (spec: TestSpecification) => order.indexOf(platformOf(spec.project)!);
  const turnstile = sharedTurnstile();
  const skipped = (spec: TestSpecification) => turnstile?.isUnavailable(platformOf(spec.project)!) ?? false;
  const mine = sorted.filter((spec) => platformOf(spec.project) !== undefined);
  // A platform that cannot run here gets no worker for a file that another platform runs: its
  // benchmarks are listed as skipped from the other platforms' (see notRunPlatforms). Its files pass
  // as before where nobody else runs them, and in IDE runs, where each test shows its own outcome.
  const runFiles = new Set(mine.filter((spec) => !skipped(spec)).map((spec) => spec.moduleId));
  const dropped = mine.filter((spec) => skipped(spec) && runFiles.has(spec.moduleId) && !sessionOf(spec.project)?.ide);
  notRun.clear();
  for (const spec of dropped) notRun.set(platformOf(spec.project)!, sessionOf(spec.project)?.skipReason ?? 'cannot run on this machine');
  // File by file, each file's platforms in the platforms' order. Vitest gives a worker that finished a
  // file the next one only when that is first in its queue and of the same project, so the order of
  // the queue decides how many workers start (see TurnRoom.finishFile); files that only skip come last.
  const byFile = (a: TestSpecification, b: TestSpecification) => (a.moduleId < b.moduleId ? -1 : a.moduleId > b.moduleId ? 1 : 0);
  const ours = mine
    .filter((spec) => !dropped.includes(spec))
    .sort(
      (a, b) =>
        Number(skipped(a)) - Number(skipped(b)) ||
        (skipped(a) ? platformRank(a) - platformRank(b) || byFile(a, b) : byFile(a, b) || platformRank(a) - platformRank(b)),
    );
  const plan = new Map<string, string[]>();
  const running = new Set<string>();
  for (const spec of ours) {
    const platform = platformOf(spec.project)!;
    if (skipped(spec)) continue;
    plan.set(spec.moduleId, [...(plan.get(spec.moduleId) ?? []), platform]);
    running.add(platform);
  }
  turnstile?.plan(plan);
  // A platform that is skipped here needs no worker of its own: its files pass at once.
  for (const project of projects) project.config.maxWorkers = Math.max(1, running.size);
  let next = 0;
  return sorted.flatMap((spec) => (platformOf(spec.project) === undefined ? [spec] : next < ours.length ? [ours[next++]!] : []));
}

const notRun = new Map<string, string>();

/** Platforms of this run whose bench files Vitest was not given (they cannot run here), with the reason. */
export function notRunPlatforms(): ReadonlyMap<string, string> {
  return notRun;
}

function sessionOf(project: TestProject): Partial<ProvidedSession> | undefined {
  // globalSetup provides the skip reason after the config was resolved.
  const provided: Record<string, unknown> | undefined =
    typeof project.getProvidedContext === 'function' ? { ...project.getProvidedContext() } : project.config.provide;
  return provided?.[PROVIDE_KEY] as Partial<ProvidedSession> | undefined;
}
