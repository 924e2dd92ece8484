/*
 * IDE runs in watch mode: Vitest runs global teardown only when it exits, so
 * a platform provisioned for one run would stay up (a container, a guest)
 * for as long as the IDE keeps Vitest open. Each platform's globalSetup
 * registers how to stop it here; the main process's reporter stops them all
 * when a run ends, and the globalSetup provisions again before a rerun.
 * On globalThis: the reporter and the globalSetups are separate module copies.
 */

import { processSingleton } from '../host/shared.js';

type Stop = () => Promise<void>;

function stops(): Set<Stop> {
  return processSingleton('virtbench.ide.stops', () => new Set<Stop>());
}

/** Registers a platform's stop for the end of the current run; returns the unregister function. */
export function stopWhenTheRunEnds(stop: Stop): () => void {
  stops().add(stop);
  return () => stops().delete(stop);
}

/** Stops every platform registered for this run (each once). */
export async function stopPlatformsOfTheRun(): Promise<void> {
  const due = [...stops()];
  stops().clear();
  await Promise.allSettled(due.map((stop) => stop()));
}
