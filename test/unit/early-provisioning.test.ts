import { afterEach, describe, expect, it } from 'vitest';
import { startEarlyProvisioning, takeEarlyProvisioning } from '../../src/runtime/global-setup.js';
import { shareWhileRunning } from '../../src/host/shared.js';
import { isPlatformUnavailable, type Platform, type Provisioned } from '../../src/platforms/platform.js';
import type { ProvidedSession } from '../../src/runtime/session.js';

const STORE = Symbol.for('virtbench.early-provisioning');
afterEach(() => {
  delete (globalThis as Record<symbol, unknown>)[STORE];
});

const tick = () => new Promise((r) => setTimeout(r, 10));

const session = (platform: string, runPlatforms: string[]): ProvidedSession => ({
  platform,
  profile: 'quick',
  cacheDir: '/nonexistent',
  requested: false,
  settings: {},
  runPlatforms,
});

/** A platform whose provisioning is recorded; `early` guests boot, `down` ones are unavailable. */
function fakes(started: string[], stopped: string[]) {
  return (name: string): Platform => ({
    name,
    provisionEarly: name !== 'native',
    availability: async () => (name === 'down' ? { available: false, reason: 'no KVM here' } : { available: true }),
    async provision(context) {
      started.push(`${name} peers=${(context.peers ?? []).join(',')}`);
      await new Promise((r) => setTimeout(r, 50));
      return { facts: {}, stop: async () => void stopped.push(name), stopSync: () => void stopped.push(name) } satisfies Provisioned;
    },
    connect: () => Promise.reject(new Error('not here')),
  });
}

describe('early provisioning (the first globalSetup starts the guests of the run)', () => {
  it('starts, once, the platforms that boot a guest, with their peers; each is taken over by its own globalSetup', async () => {
    const started: string[] = [];
    const stopped: string[] = [];
    const run = ['native', 'guest', 'other', 'down'];
    startEarlyProvisioning(session('native', run), fakes(started, stopped));
    // A second globalSetup of the run starts nothing again.
    startEarlyProvisioning(session('guest', run), fakes(started, stopped));
    const guest = takeEarlyProvisioning('guest')!;
    expect(takeEarlyProvisioning('guest')).toBeUndefined(); // taken once
    expect(takeEarlyProvisioning('native')).toBeUndefined(); // provisions in its own globalSetup, as before
    const provisioned = await guest.result;
    expect(isPlatformUnavailable(provisioned)).toBe(false);
    expect(started.sort()).toEqual(['guest peers=native,other,down', 'other peers=native,guest,down']);
    expect(guest.finishedAt! - guest.startedAt).toBeGreaterThanOrEqual(40);

    // Unavailable here: its own globalSetup gets the reason, as from availability().
    const down = await takeEarlyProvisioning('down')!.result;
    expect(isPlatformUnavailable(down) && down.reason).toBe('no KVM here');
    await takeEarlyProvisioning('other')!.result;
    expect(stopped).toEqual([]); // nothing is stopped by being taken over
  });

  it('registers a stop at exit for a platform provisioned early, until its globalSetup takes it over', async () => {
    const started: string[] = [];
    const stopped: string[] = [];
    startEarlyProvisioning(session('native', ['native', 'guest']), fakes(started, stopped));
    const entry = takeEarlyProvisioning('guest')!;
    await entry.result;
    expect(typeof entry.unregister).toBe('function');
    // Taken over: globalSetup unregisters it and registers its own stop.
    expect(entry.unregister!()).toBe(true);
  });
});

describe('a step the platforms provisioned together share (the guest image): shareWhileRunning', () => {
  const store = () => ({});

  it('runs once for the callers that come while it runs, and again for one that comes after', async () => {
    const where = store();
    let runs = 0;
    const build = async () => {
      const run = ++runs;
      await tick();
      return `image ${run}`;
    };
    const together = await Promise.all([1, 2, 3].map(() => shareWhileRunning('image', build, where)));
    expect(together).toEqual(['image 1', 'image 1', 'image 1']);
    expect(runs).toBe(1);
    // Settled: the next caller looks again (a warm cache finds the image at once), nothing is kept.
    expect(await shareWhileRunning('image', build, where)).toBe('image 2');
    // Another key (another cache directory) is another run, at the same time.
    const [a, b] = await Promise.all([shareWhileRunning('image', build, where), shareWhileRunning('other', build, where)]);
    expect([a, b]).toEqual(['image 3', 'image 4']);
    expect(runs).toBe(4);
  });

  it('gives the callers that waited the same failure, and forgets it', async () => {
    const where = store();
    let runs = 0;
    const failing = async () => {
      const run = ++runs;
      await tick();
      throw new Error(`build ${run} failed`);
    };
    const results = await Promise.allSettled([shareWhileRunning('image', failing, where), shareWhileRunning('image', failing, where)]);
    expect(results.map((r) => (r as PromiseRejectedResult).reason.message)).toEqual(['build 1 failed', 'build 1 failed']);
    await expect(shareWhileRunning('image', failing, where)).rejects.toThrow('build 2 failed');
  });
});
