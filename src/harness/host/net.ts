import { createServer } from 'node:net';
import type { ServiceAddress } from '../platform.js';

/** Asks the kernel for a free TCP port on 127.0.0.1. Another process may take it before we bind: callers retry. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A server in the host's own network namespace: it binds a free loopback port, and the host connects there. */
export async function loopbackServiceAddress(): Promise<ServiceAddress> {
  const port = await freeLoopbackPort();
  return { listen: `127.0.0.1:${port}`, host: '127.0.0.1', port };
}
