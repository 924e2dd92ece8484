import { describe, expect, it } from 'vitest';
import { createSessionCache, keptSessions, type SshSession } from '../../src/host/ssh.js';

/*
 * The ssh sessions a worker keeps (host/ssh.ts), with a fake connect: what a guest and a remote host
 * share, and the one rule for a lost connection.
 */

interface FakeSession extends SshSession {
  readonly id: number;
  /** The connection ends as when the other end is gone (QEMU killed, the remote off the network). */
  lose(): void;
  closes: number;
}

/** A connect that counts its calls and fails while `failing` is set; `delayMs` before it settles. */
function fakeConnect(delayMs = 10) {
  const state = {
    calls: 0,
    failing: undefined as Error | undefined,
    connect: async (): Promise<FakeSession> => {
      const id = ++state.calls;
      const failure = state.failing;
      await new Promise((r) => setTimeout(r, delayMs));
      if (failure) throw failure;
      let closed = false;
      const session: FakeSession = {
        id,
        closes: 0,
        get closed() {
          return closed;
        },
        close() {
          closed = true;
          session.closes++;
        },
        lose() {
          closed = true;
        },
        run: () => Promise.reject(new Error('not here')),
        setPeerPaused: () => {},
      };
      return session;
    },
  };
  return state;
}

const lost = () => new Error('cannot log in to the remote host lab1 over ssh at 198.51.100.10:22: connect EHOSTUNREACH');

describe('the kept ssh sessions (host/ssh.ts)', () => {
  it('gives the callers that come together one connect, and the open session to later ones', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect();
    const together = await Promise.all([1, 2, 3].map(() => cache.session('guest', fake.connect)));
    expect(fake.calls).toBe(1);
    expect(new Set(together).size).toBe(1);
    expect(await cache.session('guest', fake.connect)).toBe(together[0]);
    expect(fake.calls).toBe(1);
  });

  it('keeps one session per key', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect();
    const [a, b] = await Promise.all([cache.session('guest a', fake.connect), cache.session('guest b', fake.connect)]);
    expect(a).not.toBe(b);
    expect(fake.calls).toBe(2);
  });

  it('replaces a session that ended with one new connect, shared by the callers meanwhile', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect();
    const first = (await cache.session('guest', fake.connect)) as FakeSession;
    first.lose();
    const [second, again] = await Promise.all([cache.session('guest', fake.connect), cache.session('guest', fake.connect)]);
    expect(second).not.toBe(first);
    expect(again).toBe(second);
    expect(fake.calls).toBe(2);
    expect(second.closed).toBe(false);
  });

  it('remembers a connect that failed after a lost connection: later callers get the same error at once, without connecting', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect(50);
    const first = (await cache.session('remote', fake.connect)) as FakeSession;
    // The remote vanishes: the session ends, and the one new connect fails.
    first.lose();
    fake.failing = lost();
    const error = await cache.session('remote', fake.connect).catch((e: unknown) => e);
    expect(error).toBe(fake.failing);
    expect(fake.calls).toBe(2);
    // Back up or not, the later benchmarks of this worker fail with that cause, at once.
    fake.failing = undefined;
    const started = performance.now();
    expect(await cache.session('remote', fake.connect).catch((e: unknown) => e)).toBe(error);
    expect(performance.now() - started).toBeLessThan(40);
    expect(fake.calls).toBe(2);
    // Closing the platform does not forget it either; another key (a new provisioning) connects.
    cache.close('remote');
    expect(await cache.session('remote', fake.connect).catch((e: unknown) => e)).toBe(error);
    expect(await cache.session('remote, provisioned again', fake.connect)).toMatchObject({ closed: false });
    expect(fake.calls).toBe(3);
  });

  it('gives every caller of a failing first connect its one error, and remembers it', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect();
    fake.failing = lost();
    const results = await Promise.allSettled([cache.session('guest', fake.connect), cache.session('guest', fake.connect)]);
    expect(results.map((r) => (r as PromiseRejectedResult).reason)).toEqual([fake.failing, fake.failing]);
    expect(fake.calls).toBe(1);
    fake.failing = undefined;
    await expect(cache.session('guest', fake.connect)).rejects.toThrow(/EHOSTUNREACH/);
    expect(fake.calls).toBe(1);
  });

  it('closes and forgets the session of a closed platform: the next benchmark logs in again', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect();
    const first = (await cache.session('remote', fake.connect)) as FakeSession;
    cache.close('remote');
    expect(first.closes).toBe(1);
    const next = await cache.session('remote', fake.connect);
    expect(next).not.toBe(first);
    expect(fake.calls).toBe(2);
    cache.close('nothing kept here'); // nothing to close
  });

  it('closes a session that was still connecting when its platform closed, once it is open', async () => {
    const cache = createSessionCache();
    const fake = fakeConnect();
    const connecting = cache.session('remote', fake.connect);
    cache.close('remote');
    const session = (await connecting) as FakeSession;
    await new Promise((r) => setTimeout(r, 0));
    expect(session.closes).toBe(1);
    expect(await cache.session('remote', fake.connect)).not.toBe(session);
  });

  it('is one cache per process, whatever number of module copies ask for it', () => {
    expect(keptSessions()).toBe(keptSessions());
  });
});
