import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import lockfile from 'proper-lockfile';
import { VirtbenchError } from '../../errors.js';
import { waitFor } from './poll.js';
import { onExitSync } from './exit-cleanup.js';
import { isAlive } from './process.js';

/*
 * One lock between processes, for the steps two runs must not do at once
 * (building an image into a shared cache, starting the private dockerd).
 * proper-lockfile holds it as a directory whose mtime the holder keeps fresh,
 * so a lock of a process that was killed goes stale and is taken over.
 */

export interface FileLock {
  release(): Promise<void>;
  /** For exit and signal handlers. Idempotent, like release(). */
  releaseSync(): void;
}

export interface LockOptions {
  /** Give up after this long. */
  timeoutMs: number;
  /** Called once when the lock is held by someone else and we start waiting. */
  onWait?: () => void;
  /** What the holder is doing, for the timeout error ("building the guest image"). */
  what: string;
  platform?: string;
}

/** A holder whose mtime is this old is gone; it refreshes it every STALE_MS / 2. */
const STALE_MS = 20_000;

export async function acquireFileLock(path: string, options: LockOptions): Promise<FileLock> {
  let release: (() => Promise<void>) | undefined;
  let waiting = false;
  const got = await waitFor(
    async () => {
      try {
        release = await lockfile.lock(path, {
          realpath: false,
          stale: STALE_MS,
          retries: 0,
          // The default throws from a timer; a lost lock then only means another run may build too.
          onCompromised: () => {},
        });
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ELOCKED') throw error;
        if (!waiting) options.onWait?.();
        waiting = true;
        return false;
      }
    },
    { timeoutMs: options.timeoutMs, intervalMs: 500 },
  );
  if (!got || !release) {
    throw new VirtbenchError(
      'VIRTBENCH_PLATFORM_UNAVAILABLE',
      `waited ${Math.round(options.timeoutMs / 1000)} s for another virtbench process ${options.what} (lock ${path}.lock); ` +
        `fix: let that run finish, or, when no virtbench process is running, remove ${path}.lock`,
      { platform: options.platform },
    );
  }
  let released = false;
  const unlock = release;
  const releaseSync = () => {
    if (released) return;
    released = true;
    unregister();
    try {
      lockfile.unlockSync(path, { realpath: false });
    } catch {
      // already released or taken over
    }
  };
  // Ctrl-C exits without running the holder's finally: the lock goes with the process, not 20 s later.
  const unregister = onExitSync(releaseSync);
  return {
    async release() {
      if (released) return;
      released = true;
      unregister();
      await unlock().catch(() => {});
    },
    releaseSync,
  };
}

const sleep = new Int32Array(new SharedArrayBuffer(4));

/** The pid a pid lock file names, or undefined when unreadable (being written, or garbage). */
function lockHolder(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Runs fn holding a lock between processes of this machine, synchronously: for steps that also run
 * from exit and signal handlers (leaving the private dockerd), where nothing asynchronous finishes.
 * The lock is a file created exclusively, naming its holder's pid; a holder that died (Ctrl-C in the
 * wrong moment, SIGKILL) leaves a file whose pid is gone, which the next taker removes.
 */
export function withPidLockSync<T>(path: string, options: LockOptions, fn: () => T): T {
  let fd: number | undefined;
  let waited = false;
  for (const until = Date.now() + options.timeoutMs; fd === undefined;) {
    try {
      fd = openSync(path, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = lockHolder(path);
      const holderGone = holder !== undefined && holder !== process.pid && !isAlive(holder);
      // An unreadable file is a holder between creating and writing it; only an old one is abandoned.
      const abandoned = holder === undefined && Date.now() - (statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 10_000;
      if (holderGone || abandoned) {
        rmSync(path, { force: true });
        continue;
      }
      if (holder === process.pid) throw new Error(`${path} is already held by this process (a nested lock)`);
      if (Date.now() >= until) {
        throw new VirtbenchError(
          'VIRTBENCH_PLATFORM_UNAVAILABLE',
          `waited ${Math.round(options.timeoutMs / 1000)} s for virtbench process ${holder ?? '?'} ${options.what} (lock ${path}); ` +
            `fix: let that run finish, or, when no virtbench process is running, remove ${path}`,
          { platform: options.platform },
        );
      }
      if (!waited) options.onWait?.();
      waited = true;
      Atomics.wait(sleep, 0, 0, 50);
    }
  }
  try {
    writeSync(fd, `${process.pid}\n`);
    closeSync(fd);
    return fn();
  } finally {
    rmSync(path, { force: true });
  }
}
