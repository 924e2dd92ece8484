import { afterEach, describe, expect, it } from 'vitest';
import { startEarlyProvisioning, takeEarlyProvisioning } from '../../src/runtime/global-setup.js';
import { shareWhileRunning } from '../../src/host/shared.js';
import { isPlatformUnavailable, type Platform, type Provisioned } from '../../src/platforms/platform.js';
import type { ProvidedSession } from '../../src/runtime/session.js';

const STORE = Symbol.for('virtbench.early-provisioning');
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[STORE];
});

const session = (platform: string, runPlatforms: string[]): ProvidedSession => ({
  platform,
  profile: 'quick',
  cacheDir: '/nonexistent',
  requested: false,
  settings: {},
  runPlatforms,
});

const tick = () => new Promise((r) => setTimeout(r, 10));

/** A platform whose provisioning is recorded; `early` guests boot, `down` ones are unavailable. */
function fakes(started: string[], stopped: string[], provisionMs = 50) {
  return (name: string): Platform => ({
    name,
    provisionEarly: name !== 'native',
    availability: async () => (name === 'down' ? { available: false, reason: 'no KVM here' } : { available: true }),
    async provision(context) {
      started.push(`${name} ${Object.keys(context).sort().join(',')}`);
      await new Promise((r) => setTimeout(r, provisionMs));
      return { facts: {}, stop: async () => void stopped.push(name), stopSync: () => void stopped.push(name) } satisfies Provisioned;
    },
    connect: () => Promise.reject(new Error('not here')),
  });
}

/** onExitSync's stand-in: the registered stops, and "the process exits" (run them all). */
function exitRegistry() {
  const handlers = new Set<() => void>();
  return {
    onExit: (fn: () => void) => (handlers.add(fn), () => handlers.delete(fn)),
    exit: () => [...handlers].forEach((fn) => fn()),
    get size() {
      return handlers.size;
    },
  };
}

describe('early provisioning (the first globalSetup starts the guests of the run)', () => {
  it('starts, once, the platforms that boot a guest; each is taken over by its own globalSetup', async () => {
    const started: string[] = [];
    const stopped: string[] = [];
    const run = ['native', 'guest', 'other', 'down'];
    startEarlyProvisioning(session('native', run), { create: fakes(started, stopped) });
    // A second globalSetup of the run starts nothing again.
    startEarlyProvisioning(session('guest', run), { create: fakes(started, stopped) });
    const guest = takeEarlyProvisioning('guest')!;
    expect(takeEarlyProvisioning('guest')).toBeUndefined(); // taken once
    expect(takeEarlyProvisioning('native')).toBeUndefined(); // provisions in its own globalSetup, as before
    const provisioned = await guest.result;
    expect(isPlatformUnavailable(provisioned)).toBe(false);
    // Each provisions its own, and learns nothing of the others: no platform boots another's guest.
    expect(started.sort()).toEqual(['guest cacheDir,log', 'other cacheDir,log']);
    expect(guest.finishedAt! - guest.startedAt).toBeGreaterThanOrEqual(40);

    // Unavailable here: its own globalSetup gets the reason, as from availability().
    const down = await takeEarlyProvisioning('down')!.result;
    expect(isPlatformUnavailable(down) && down.reason).toBe('no KVM here');
    await takeEarlyProvisioning('other')!.result;
    expect(stopped).toEqual([]); // nothing is stopped by being taken over
  });

  it('provisions them all at the same time, not one after another', async () => {
    const started: string[] = [];
    const run = ['native', 'a', 'b', 'c'];
    startEarlyProvisioning(session('native', run), { create: fakes(started, [], 200) });
    await tick();
    // All three are under way before the first has finished.
    expect(started).toHaveLength(3);
    const entries = ['a', 'b', 'c'].map((name) => takeEarlyProvisioning(name)!);
    await Promise.all(entries.map((e) => e.result));
    const spans = entries.map((e) => [e.startedAt, e.finishedAt!]);
    expect(Math.max(...spans.map(([s]) => s!))).toBeLessThan(Math.min(...spans.map(([, f]) => f!)));
  });

  it('stops at exit a platform provisioned early that no globalSetup took over, and not one taken over', async () => {
    const stopped: string[] = [];
    const exit = exitRegistry();
    startEarlyProvisioning(session('native', ['native', 'taken', 'orphan']), { create: fakes([], stopped), onExit: exit.onExit });
    const taken = takeEarlyProvisioning('taken')!;
    await taken.result;
    await tick(); // the orphan has provisioned too
    expect(exit.size).toBe(2);
    // Taken over: globalSetup unregisters it and registers its own stop.
    expect(taken.unregister!()).toBe(true);
    exit.exit();
    expect(stopped).toEqual(['orphan']);
  });

  it("reports a failed provisioning through the platform's own globalSetup, never as an unhandled rejection", async () => {
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => void unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const exit = exitRegistry();
      const broken = (name: string): Platform => ({
        ...fakes([], [])(name),
        provision: () => Promise.reject(new Error(`${name}: the image cannot be built`)),
      });
      startEarlyProvisioning(session('native', ['native', 'broken']), { create: broken, onExit: exit.onExit });
      // Nobody has taken it over yet: the failure waits for its own globalSetup.
      await tick();
      await tick();
      expect(unhandled).toEqual([]);
      expect(exit.size).toBe(0); // nothing to stop
      await expect(takeEarlyProvisioning('broken')!.result).rejects.toThrow('broken: the image cannot be built');
    } finally {
      process.off('unhandledRejection', record);
    }
  });

  it('leaves to its own globalSetup a platform that cannot even be made (a bad option)', async () => {
    const started: string[] = [];
    const create = (name: string): Platform => {
      if (name === 'bad') throw new Error('bad option');
      return fakes(started, [])(name);
    };
    expect(() => startEarlyProvisioning(session('native', ['native', 'bad', 'guest']), { create })).not.toThrow();
    expect(takeEarlyProvisioning('bad')).toBeUndefined();
    await takeEarlyProvisioning('guest')!.result;
    expect(started).toEqual(['guest cacheDir,log']);
  });
});

describe('a step the platforms provisioned together share (the guest image): shareWhileRunning', () => {
  /** A step that counts its runs, and a store of its own for shareWhileRunning; outcome(n) is the n-th run's. */
  function counted<T>(outcome: (run: number) => T) {
    const counter = { runs: 0, where: {} };
    const step = async () => {
      const run = ++counter.runs;
      await tick();
      return outcome(run);
    };
    return { counter, step };
  }

  it('runs once for the callers that come while it runs, and again for one that comes after', async () => {
    const { counter, step: build } = counted((run) => `image ${run}`);
    const { where } = counter;
    const together = await Promise.all([1, 2, 3].map(() => shareWhileRunning('image', build, where)));
    expect(together).toEqual(['image 1', 'image 1', 'image 1']);
    expect(counter.runs).toBe(1);
    // Settled: the next caller looks again (a warm cache finds the image at once), nothing is kept.
    expect(await shareWhileRunning('image', build, where)).toBe('image 2');
    // Another key (another cache directory) is another run, at the same time.
    const [a, b] = await Promise.all([shareWhileRunning('image', build, where), shareWhileRunning('other', build, where)]);
    expect([a, b]).toEqual(['image 3', 'image 4']);
    expect(counter.runs).toBe(4);
  });

  it('gives the callers that waited the same failure, and forgets it', async () => {
    const {
      counter: { where },
      step: failing,
    } = counted((run): never => {
      throw new Error(`build ${run} failed`);
    });
    const results = await Promise.allSettled([shareWhileRunning('image', failing, where), shareWhileRunning('image', failing, where)]);
    expect(results.map((r) => (r as PromiseRejectedResult).reason.message)).toEqual(['build 1 failed', 'build 1 failed']);
    await expect(shareWhileRunning('image', failing, where)).rejects.toThrow('build 2 failed');
  });
});
