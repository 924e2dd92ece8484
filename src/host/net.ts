import { createServer } from 'node:net';

/** Where the host reaches a TCP port that a workload listens on inside the platform. */
export interface ServiceAddress {
  /** What the server inside the platform binds to, e.g. "127.0.0.1:18080" or "0.0.0.0:8080". */
  listen: string;
  /** Host and port the host connects to: a loopback address, a bridge's, or a remote host's. */
  host: string;
  port: number;
  /**
   * The one peer address the server accepts connections from (the host's end
   * of a bridge), when `listen` is reachable from more than the host; unset:
   * `listen` alone keeps others out (a loopback address).
   */
  allowFrom?: string;
  /**
   * The network namespace (`ip netns`) the host's client must run in to reach host:port; unset: the
   * host's own. A guest on a tap device in a private namespace is reachable only from there.
   */
  namespace?: string;
}

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
