import { randomBytes } from 'node:crypto';
import { linkSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { PlatformUnavailableError } from '../errors.js';
import { onExitSync } from './exit-cleanup.js';
import { currentOwner, formatOwner, isAlive, parseOwner, sameOwner, type ThisProcess } from './owner.js';

/*
 * The one lock between processes of this machine, for the steps two runs must
 * not do at once (building an image into a shared cache, starting or joining
 * the private dockerd, resuming a guest, appending to the history store).
 *
 * The lock of `path` is the file `<path>.lock` (where earlier versions kept
 * theirs, so that they and this one exclude each other), naming its holder
 * (owner.ts: pid, start time, boot, pid namespace) and a random token. It is
 * created whole or not at all: written to a file of our own, then hard-linked
 * to its name, which fails when the name exists. A holder that died leaves
 * the file, and is provably gone (owner.ts) the moment it died: no timeout.
 *
 * Taking over a dead holder's lock is the one step two waiters can race: both
 * see the same dead holder, the first removes its file and takes the lock, the
 * second must not then remove the first one's fresh file. So a takeover runs
 * under a second lock, `<path>.lock.takeover`, held for a few system calls,
 * and removes the lock file only when it still is the dead holder's (same
 * token; nothing but a takeover removes another's file, so it cannot change
 * in between), by renaming it aside and checking what it moved.
 *
 * flock(2) would make the kernel drop a dead holder's lock, but Node has no
 * flock without a native addon, and a lock held by a helper process (flock(1))
 * cannot be taken synchronously, as exit handlers must.
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
  /** The error to throw when the wait runs out (default: VIRTBENCH_PLATFORM_UNAVAILABLE). */
  timeoutError?: (message: string) => Error;
}

/** Older versions' locks: proper-lockfile's directory, whose holder refreshed its mtime every 5 to 10 s. */
const LEGACY_DIRECTORY_STALE_MS = 20_000;
/** A file we cannot parse (an older version's bare pid is parsed) that is this old is abandoned. */
const UNREADABLE_STALE_MS = 10_000;
/** A takeover lock is held for microseconds: one this old was left by a process killed meanwhile. */
const TAKEOVER_STALE_MS = 30_000;
/** How often a holder touches its lock file, so that an older version's waiter never finds it stale. */
const REFRESH_MS = 5_000;

/** What a lock file held when we looked: a holder's line, or an older version's directory. */
export interface Holder {
  kind: 'file' | 'directory';
  /** The file's text ('' for a directory). */
  text: string;
  mtimeMs: number;
}

/** The lock file of path. */
export function lockFileOf(path: string): string {
  return `${path}.lock`;
}

/** A new holder line: this process and a token of this acquisition (threads and module copies share a pid). */
export function holderLine(): string {
  return `${formatOwner(currentOwner())} token=${randomBytes(8).toString('hex')}\n`;
}

/** Creates file holding text, whole, unless it exists; false when it exists. */
export function createExclusive(file: string, text: string): boolean {
  const temp = `${file}.${randomBytes(6).toString('hex')}.new`;
  writeFileSync(temp, text, { flag: 'wx', mode: 0o600 });
  try {
    linkSync(temp, file);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    if (!['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EMLINK'].includes((error as NodeJS.ErrnoException).code ?? '')) throw error;
  } finally {
    rmSync(temp, { force: true });
  }
  // A file system without hard links: create and write; a waiter meanwhile sees an unreadable file, young.
  try {
    writeFileSync(file, text, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** What holds file now, or undefined when nothing does. */
export function readHolder(file: string): Holder | undefined {
  const stat = statSync(file, { throwIfNoEntry: false });
  if (!stat) return undefined;
  if (stat.isDirectory()) return { kind: 'directory', text: '', mtimeMs: stat.mtimeMs };
  try {
    return { kind: 'file', text: readFileSync(file, 'utf8'), mtimeMs: stat.mtimeMs };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Whether holder is provably gone: its process no longer exists, or (an older version's lock, garbage) it is long untouched. */
export function holderIsGone(holder: Holder, now = Date.now(), where?: ThisProcess): boolean {
  if (holder.kind === 'directory') return now - holder.mtimeMs > LEGACY_DIRECTORY_STALE_MS;
  const owner = parseOwner(holder.text);
  if (owner) return !isAlive(owner, where);
  const pid = Number(holder.text.trim());
  // An older version's pid lock (private dockerd's members lock): its pid alone, as that version judged it.
  if (/^\d+$/.test(holder.text.trim()) && pid > 0) return !isAlive({ ...currentOwner(), pid, startTime: 0 }, where);
  return now - holder.mtimeMs > UNREADABLE_STALE_MS;
}

function sameHolder(a: Holder, b: Holder | undefined): boolean {
  if (!b || a.kind !== b.kind) return false;
  return a.kind === 'directory' ? a.mtimeMs === b.mtimeMs : a.text === b.text;
}

function removeAside(file: string, expected: Holder): boolean {
  const aside = `${file}.${randomBytes(6).toString('hex')}.stale`;
  try {
    renameSync(file, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  const moved = readHolder(aside);
  if (moved && !sameHolder(expected, moved)) {
    // Not what we judged gone (it cannot happen while takeovers exclude each other): put it back.
    try {
      if (moved.kind === 'file') linkSync(aside, file);
      else renameSync(aside, file);
    } catch {
      // someone holds it anew; the one we moved keeps its file aside
      return false;
    }
  }
  rmSync(aside, { recursive: true, force: true });
  return moved !== undefined && sameHolder(expected, moved);
}

/** Test hooks: run between the steps of a takeover, to interleave two takers deterministically. */
export interface TakeoverHooks {
  /** After the takeover lock is held, before the lock file is looked at again. */
  beforeRecheck?: () => void;
}

/**
 * Removes file's lock when it still holds `seen`, which the caller judged gone. Runs under the
 * takeover lock, so two waiters that saw the same dead holder cannot both remove a lock: the second
 * finds a lock other than `seen` (the first one's new one) and leaves it. True when it removed it.
 */
export function takeOverStale(file: string, seen: Holder, hooks: TakeoverHooks = {}, where?: ThisProcess): boolean {
  const guard = `${file}.takeover`;
  const mine = holderLine();
  if (!createExclusive(guard, mine)) {
    // Another waiter is taking over right now; or one was killed in the middle, leaving its guard.
    const other = readHolder(guard);
    if (other && (holderIsGone(other, Date.now(), where) || Date.now() - other.mtimeMs > TAKEOVER_STALE_MS)) removeAside(guard, other);
    return false;
  }
  try {
    hooks.beforeRecheck?.();
    // Only a takeover removes another's lock, and we hold the only takeover: if the file still is `seen`, it stays so.
    if (!sameHolder(seen, readHolder(file))) return false;
    return removeAside(file, seen);
  } finally {
    if (readHolder(guard)?.text === mine) rmSync(guard, { force: true });
  }
}

export type Attempt = { held: true; line: string } | { held: false; holder: Holder | undefined };

/** One try: takes the lock if free or held by a provably gone holder; otherwise says who holds it. */
export function tryLock(file: string, hooks: TakeoverHooks = {}, where?: ThisProcess): Attempt {
  for (let round = 0; round < 3; round++) {
    const line = holderLine();
    if (createExclusive(file, line)) return { held: true, line };
    const holder = readHolder(file);
    if (!holder) continue; // released meanwhile
    if (!holderIsGone(holder, Date.now(), where)) return { held: false, holder };
    takeOverStale(file, holder, hooks, where);
  }
  return { held: false, holder: readHolder(file) };
}

/** Removes file if it still is our lock (line). */
export function unlock(file: string, line: string): void {
  try {
    if (readFileSync(file, 'utf8') === line) unlinkSync(file);
  } catch {
    // gone already
  }
}

function holderName(holder: Holder | undefined): string {
  if (!holder) return 'another virtbench process';
  const owner = parseOwner(holder.text);
  return owner ? `virtbench process ${owner.pid}` : 'another virtbench process';
}

function timeoutError(path: string, options: LockOptions, holder: Holder | undefined): Error {
  const file = lockFileOf(path);
  const message =
    `waited ${Math.round(options.timeoutMs / 1000)} s for ${holderName(holder)} ${options.what} (lock ${file}); ` +
    `fix: let that run finish, or, when no virtbench process is running, remove ${file}`;
  return options.timeoutError?.(message) ?? new PlatformUnavailableError(message, { platform: options.platform });
}

function isNested(holder: Holder | undefined): boolean {
  const owner = holder && parseOwner(holder.text);
  return owner !== undefined && sameOwner(owner, currentOwner());
}

/**
 * Tries to take the lock of path until it is held (the generator's return) or options.timeoutMs have
 * passed (it throws); yields between tries, for the caller to wait as it can (a timer, or blocking).
 * With refuseNested, a lock this very process holds is refused: waiting for ourselves would never end.
 */
function* triesToLock(path: string, options: LockOptions, refuseNested: boolean): Generator<void, string> {
  const file = lockFileOf(path);
  let waited = false;
  for (const until = Date.now() + options.timeoutMs; ;) {
    const attempt = tryLock(file);
    if (attempt.held) return attempt.line;
    if (refuseNested && isNested(attempt.holder)) throw new Error(`${file} is already held by this process (a nested lock)`);
    if (Date.now() >= until) throw timeoutError(path, options, attempt.holder);
    if (!waited) options.onWait?.();
    waited = true;
    yield;
  }
}

/** Takes the lock of path, waiting up to options.timeoutMs for its holder. Hold it briefly, or release it from an exit handler too. */
export async function acquireLock(path: string, options: LockOptions): Promise<FileLock> {
  const file = lockFileOf(path);
  const tries = triesToLock(path, options, false);
  let step = tries.next();
  while (!step.done) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    step = tries.next();
  }
  const line = step.value;
  // An older version's waiter takes a lock untouched for 20 s as abandoned.
  const refresh = setInterval(() => {
    try {
      const now = new Date();
      utimesSync(file, now, now);
    } catch {
      // released
    }
  }, REFRESH_MS);
  refresh.unref();
  let released = false;
  // Ctrl-C or SIGTERM while it is held: Vitest exits without unwinding, so the lock goes with the exit cleanups.
  let unregister = () => {};
  const releaseSync = () => {
    if (released) return;
    released = true;
    unregister();
    clearInterval(refresh);
    unlock(file, line);
  };
  unregister = onExitSync(releaseSync, { last: true });
  return { release: async () => releaseSync(), releaseSync };
}

/** Runs fn holding the lock of path (see acquireLock). */
export async function withLock<T>(path: string, fn: () => Promise<T> | T, options: LockOptions): Promise<T> {
  const lock = await acquireLock(path, options);
  try {
    return await fn();
  } finally {
    lock.releaseSync();
  }
}

const sleep = new Int32Array(new SharedArrayBuffer(4));

/**
 * Runs fn holding the lock of path, synchronously: for steps that also run from exit and signal
 * handlers (leaving the private dockerd), where nothing asynchronous finishes. A lock this very
 * process holds is refused (waiting for ourselves would never end).
 */
export function withLockSync<T>(path: string, fn: () => T, options: LockOptions): T {
  const tries = triesToLock(path, options, true);
  let step = tries.next();
  while (!step.done) {
    Atomics.wait(sleep, 0, 0, 50);
    step = tries.next();
  }
  try {
    return fn();
  } finally {
    unlock(lockFileOf(path), step.value);
  }
}
