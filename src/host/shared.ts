/*
 * One resource per process, opened by its first user and closed by its last.
 * Kept on globalThis: Vitest loads each project's globalSetup through its own
 * module runner (and the plugin through the config bundle), so a module-level
 * variable exists once per copy of the module, while an engine or a server
 * must exist once per process.
 */

interface Entry<T> {
  pending: Promise<T>;
  /** Set once opened: for readers that must not wait (peekShared). */
  value?: T;
  users: number;
}

const slot = globalThis as { [key: symbol]: Entry<unknown> | undefined };

export interface Membership<T> {
  readonly value: T;
  /** Leaves once (later calls do nothing); true for the last user, who then closes the resource. */
  leave(): boolean;
}

/** Joins the resource under `key`, opening it first when nobody holds it; a failed open is forgotten, so the next caller retries. */
export async function joinShared<T>(key: string, open: () => Promise<T>): Promise<Membership<T>> {
  const symbol = Symbol.for(key);
  let entry = slot[symbol] as Entry<T> | undefined;
  if (!entry) {
    const created: Entry<T> = { pending: open(), users: 0 };
    slot[symbol] = entry = created;
  }
  const mine = entry;
  mine.users++;
  try {
    mine.value = await mine.pending;
  } catch (error) {
    mine.users--;
    if (slot[symbol] === mine) slot[symbol] = undefined;
    throw error;
  }
  let left = false;
  return {
    value: mine.value,
    leave() {
      if (left) return false;
      left = true;
      if (--mine.users > 0) return false;
      if (slot[symbol] === mine) slot[symbol] = undefined;
      return true;
    },
  };
}

/** The opened resource under `key`, if any: never opens or waits. */
export function peekShared<T>(key: string): T | undefined {
  return (slot[Symbol.for(key)] as Entry<T> | undefined)?.value;
}

/**
 * The one value under `key` in this process, made by its first caller: for what every module copy
 * must share without opening or closing it (a registry, a cache, a promise). `store` is for tests.
 */
export function processSingleton<T>(key: string, make: () => T, store: object = globalThis): T {
  const values = store as { [key: symbol]: unknown };
  const symbol = Symbol.for(key);
  if (!(symbol in values)) values[symbol] = make();
  return values[symbol] as T;
}

/**
 * One call of `run` for the concurrent callers under `key` in this process: a caller that comes while
 * it runs gets its promise (its value or its error); once it has settled, the next caller runs it again.
 * For work that must not run twice at once but whose result is not kept (finding or building an image).
 */
export function shareWhileRunning<T>(key: string, run: () => Promise<T>, store: object = globalThis): Promise<T> {
  const running = processSingleton('virtbench.shared.running', () => new Map<string, Promise<unknown>>(), store);
  const pending = running.get(key) as Promise<T> | undefined;
  if (pending) return pending;
  const started = (async () => {
    try {
      return await run();
    } finally {
      running.delete(key);
    }
  })();
  running.set(key, started);
  return started;
}
