import { processSingleton } from './shared.js';

/*
 * Vitest exits the process from its own SIGINT/SIGTERM handler without
 * running globalSetup teardowns, so every resource owner also registers a
 * synchronous last-resort stop here. It runs on exit and on those signals.
 */

/**
 * One registry per process, whatever number of module instances load this file: Vitest loads each
 * project's globalSetup through its own module runner, and a handler per instance (one per platform)
 * tripped Node's warning about more than 10 SIGTERM listeners.
 */
const shared = processSingleton<{ cleanups: Set<() => void>; last?: Set<() => void>; installed: boolean }>(
  'virtbench.exit-cleanup',
  () => ({
    cleanups: new Set(),
    installed: false,
  }),
);
const cleanups = shared.cleanups;
// Run after every other cleanup: locks, released once what they guard is cleaned up.
const lastCleanups = (shared.last ??= new Set());
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function runAll(): void {
  for (const cleanup of [...cleanups, ...lastCleanups]) {
    cleanups.delete(cleanup);
    lastCleanups.delete(cleanup);
    try {
      cleanup();
    } catch (error) {
      process.stderr.write(`virtbench: cleanup failed: ${(error as Error).message}\n`);
    }
  }
}

function onSignal(signal: NodeJS.Signals): void {
  runAll();
  // Vitest's own handler exits within a millisecond; should nobody else exit, do it as Node would have.
  const code = 128 + (signal === 'SIGINT' ? 2 : signal === 'SIGTERM' ? 15 : 1);
  setTimeout(() => process.exit(process.exitCode ?? code), 500);
}

/**
 * Registers fn to run once on exit or a terminating signal; returns the function that unregisters it.
 * `last`: after every other one (a lock, released once what it guards is cleaned up).
 */
export function onExitSync(fn: () => void, options: { last?: boolean } = {}): () => void {
  if (!shared.installed) {
    shared.installed = true;
    process.on('exit', runAll);
    for (const signal of SIGNALS) process.once(signal, onSignal);
  }
  const set = options.last ? lastCleanups : cleanups;
  set.add(fn);
  return () => set.delete(fn);
}
