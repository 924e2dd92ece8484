import { afterEach, describe, expect, it } from 'vitest';
import { startEarlyProvisioning, takeEarlyProvisioning } from '../../src/runtime/global-setup.js';
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
