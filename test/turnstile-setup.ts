import { afterEach } from 'vitest';
import { connectTurnstile } from '../src/turnstile/client.js';
import { startTurnstile, turnstileAddress, type TurnstileOptions } from '../src/turnstile/index.js';

/**
 * A test file's turnstiles: `setup(platforms)` starts one planned for one bench file, with its log
 * lines and a `connect(platform)` for clients; everything started is closed after each test.
 */
export function turnstileSetups(prefix: string, defaults: Partial<TurnstileOptions> = {}) {
  let count = 0;
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  async function setup(platforms: string[], options: Partial<TurnstileOptions> = {}, file = 'bench/cpu.bench.ts') {
    const lines: string[] = [];
    const server = await startTurnstile({
      address: turnstileAddress(`${prefix}-${process.pid}-${++count}`),
      log: (l) => lines.push(l),
      ...defaults,
      ...options,
    });
    cleanups.push(() => server.close());
    server.plan([[file, platforms]]);
    const connect = async (platform: string) => {
      const client = await connectTurnstile(server.address, platform);
      cleanups.push(() => client.close());
      return client;
    };
    return { server, connect, lines, file };
  }
  return { setup, cleanups };
}
