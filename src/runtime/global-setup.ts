import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import type { TestProject } from 'vitest/node';
import { BadOptionError } from '../errors.js';
import { makeDirectorySync } from '../host/make-dir.js';
import { onExitSync } from '../host/exit-cleanup.js';
import { processSingleton } from '../host/shared.js';
import { createLog, type Log } from '../host/log.js';
import { ensureTrustedDirectory } from '../host/trusted-dir.js';
import { stopWhenTheRunEnds } from './ide-runs.js';
import {
  PlatformUnavailableError,
  isPlatformUnavailable,
  type Platform,
  type Provisioned,
  type UnavailableHere,
} from '../platforms/platform.js';
import { createPlatform } from '../platforms/index.js';
import { PROVIDE_KEY, type ProvidedSession } from './session.js';
import { externalTurnstile, useSharedTurnstile } from '../turnstile/index.js';

/**
 * globalSetup of every platform project: runs once per `vitest bench` in the
 * main process. Checks the platform, provisions it, hands the workers plain
 * connection facts and the turnstile's address, and owns stopping it
 * (teardown, exit or Ctrl-C).
 */
export default async function setupPlatform(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const session = project.config.provide[PROVIDE_KEY] as ProvidedSession | undefined;
  if (!session) return undefined;
  const platform = createPlatform(session.platform, session.settings);
  const log = createLog(session.platform);
  // One turnstile per run, started by the first platform's globalSetup and closed after the last teardown.
  // Under virtbench ab, the turnstile is the A/B's, shared with the other side's run.
  const external = externalTurnstile(process.env, project.config.root);
  const until = session.untilDecided;
  const turns = await useSharedTurnstile({
    log: createLog('turnstile'),
    onExit: onExitSync,
    external,
    ...(until && !external
      ? {
          untilDecided: {
            plan: { within: until.within, minRounds: until.minRounds, maxRounds: until.maxRounds, unpairedRounds: until.unpairedRounds },
            comparisons: until.comparisons,
            budgetMs: until.budgetMs,
          },
        }
      : {}),
  });
  const place = { turnstile: turns.place.address, turnstileTag: turns.place.tag, turnstileRoot: turns.place.root };

  /** A platform this machine cannot run: skipped with the reason, or an error when asked for by name. */
  const unavailable = (reason: string) => {
    if (session.requested) {
      throw new PlatformUnavailableError(`--project ${session.platform} cannot run on this machine: ${reason}`, {
        platform: session.platform,
      });
    }
    log(`skipped: ${reason}`);
    turns.server.unavailable(session.platform);
    project.provide(PROVIDE_KEY, { ...session, skipReason: reason });
    return turns.release;
  };

  try {
    // Before anything of the cache is looked at, loaded or run (availability() already looks for a guest image):
    // once per process and directory, however many platforms share it.
    await ensureTrustedDirectory(session.cacheDir);
    if (session.reportDir) checkReportDir(resolve(project.vitest.config.root, session.reportDir));
    startEarlyProvisioning(session);
    const availability = await platform.availability();
    if (!availability.available) return unavailable(availability.reason);
    const provision = () => provisionOrUnavailable(platform, session, log);
    const early = takeEarlyProvisioning(session.platform);
    const provisionStarted = early?.startedAt ?? performance.now();
    // Taken over: from here on its stop is registered below, like any platform's.
    const first = await (early ? early.result.then((result) => (early.unregister?.(), result)) : provision());
    const provisionSeconds = Math.round(((early?.finishedAt ?? performance.now()) - provisionStarted) / 100) / 10;
    if (isPlatformUnavailable(first)) return unavailable(first.reason);
    let provisioned: Provisioned | undefined = first;
    let unregister = onExitSync(() => first.stopSync());
    const stop = async () => {
      const running = provisioned;
      provisioned = undefined;
      unregister();
      await running?.stop();
    };
    log(`provisioned in ${provisionSeconds} s`);
    project.provide(PROVIDE_KEY, { ...session, facts: first.facts, provisionSeconds, ...place });
    if (session.ide && project.vitest.config.watch) {
      // The IDE keeps Vitest open between runs, and global teardown runs only at its exit: stop the
      // platform when each run ends, provision it again before the next.
      stopWhenTheRunEnds(stop);
      project.onTestsRerun(async () => {
        if (provisioned) return;
        const again = await provision();
        if (isPlatformUnavailable(again)) throw again;
        provisioned = again;
        unregister = onExitSync(() => again.stopSync());
        project.provide(PROVIDE_KEY, { ...session, facts: again.facts, ...place });
        stopWhenTheRunEnds(stop);
      });
    }
    return async () => {
      try {
        await stop();
      } finally {
        await turns.release();
      }
    };
  } catch (error) {
    await turns.release();
    throw error;
  }
}

/** The platform provisioned, or the reason it cannot run here found by a check too expensive for availability() (a probe boot). */
async function provisionOrUnavailable(platform: Platform, session: ProvidedSession, log: Log): Promise<Provisioned | UnavailableHere> {
  try {
    return await platform.provision({ cacheDir: session.cacheDir, log });
  } catch (error) {
    if (isPlatformUnavailable(error)) return error;
    throw error;
  }
}

interface EarlyProvisioning {
  startedAt: number;
  finishedAt?: number;
  result: Promise<Provisioned | UnavailableHere>;
  /** Stops it at exit until its own globalSetup takes it over. */
  unregister?: () => void;
}

/** Per process, whatever number of module instances load this file (one per project's globalSetup). */
function earlyProvisioning(): { started: boolean; platforms: Map<string, EarlyProvisioning> } {
  return processSingleton('virtbench.early-provisioning', () => ({ started: false, platforms: new Map<string, EarlyProvisioning>() }));
}

/**
 * Vitest runs the projects' globalSetups one after another. The first one starts, in the background,
 * the provisioning of the run's platforms that boot a guest (Platform.provisionEarly), so that their
 * boots overlap the other platforms' provisioning and each other instead of following it; each
 * project's globalSetup takes its own over. This is the one place a platform is provisioned ahead of
 * its own globalSetup: platforms do not boot each other's guests. One provisioned early is stopped at
 * exit until taken over; one that fails is reported by its own globalSetup, when it takes it over.
 * Nothing is measured before every globalSetup has returned.
 */
export function startEarlyProvisioning(
  session: ProvidedSession,
  { create = createPlatform, onExit = onExitSync }: { create?: typeof createPlatform; onExit?: typeof onExitSync } = {},
): void {
  const early = earlyProvisioning();
  if (early.started) return;
  early.started = true;
  for (const name of session.runPlatforms ?? []) {
    if (name === session.platform) continue;
    let platform: Platform;
    try {
      platform = create(name, session.settings);
    } catch {
      continue; // its own globalSetup meets the same error
    }
    if (!platform.provisionEarly) continue;
    const entry: EarlyProvisioning = {
      startedAt: performance.now(),
      result: (async () => {
        const availability = await platform.availability();
        // Unavailable here: its own globalSetup says so, as without an early start.
        if (!availability.available) return new PlatformUnavailableError(name, availability.reason) as UnavailableHere;
        return provisionOrUnavailable(platform, session, createLog(name));
      })(),
    };
    entry.result.then(
      (provisioned) => {
        entry.finishedAt = performance.now();
        if (!isPlatformUnavailable(provisioned)) entry.unregister = onExit(() => provisioned.stopSync());
      },
      () => {}, // its own globalSetup reports the failure
    );
    early.platforms.set(name, entry);
  }
}

export function takeEarlyProvisioning(platform: string): EarlyProvisioning | undefined {
  const early = earlyProvisioning().platforms;
  const entry = early.get(platform);
  early.delete(platform);
  return entry;
}

/** A report directory that cannot be written would lose every result at the end of the run: found out first. */
function checkReportDir(dir: string): void {
  try {
    makeDirectorySync(dir);
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw new BadOptionError(
      `cannot write the report directory ${dir} (VIRTBENCH_REPORT_DIR or option "reportDir"): ${(error as Error).message}\n` +
        'fix: point VIRTBENCH_REPORT_DIR at a directory you can write, or create this one',
    );
  }
}
