import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { hostname, release } from 'node:os';
import type Dockerode from 'dockerode';

/*
 * Where the Docker engine runs, as this machine sees it. An engine on another
 * machine (DOCKER_HOST=tcp://lab1:2375, or a unix socket forwarded from one)
 * changes three things: its containers' page cache is not this kernel's (the
 * flush is reported as not done), their PIDs are not this machine's, and a
 * port it publishes is reachable at its address, not at 127.0.0.1.
 */

export interface EngineLocation {
  /** The engine runs on this kernel: same host name and kernel release. */
  local: boolean;
  /** Where the engine publishes a port and this machine connects to it; '' when this machine cannot reach it. */
  publishAddress: string;
  /** For the report: "this machine", "lab1 (192.0.2.7) over tcp". */
  describe: string;
}

const LOOPBACK_NAMES = ['localhost', 'ip6-localhost'];

function isLoopback(host: string): boolean {
  return LOOPBACK_NAMES.includes(host) || host.startsWith('127.') || host === '::1' || host === '[::1]';
}

/**
 * The rule, from facts: the engine's own name and kernel against this machine's, and how DOCKER_HOST
 * reaches it. `address` is DOCKER_HOST's host resolved to an address (tcp), for publishing there.
 */
export function engineLocation(
  dockerHost: string,
  engine: { name: string; kernel: string },
  here: { name: string; kernel: string },
  address?: string,
): EngineLocation {
  const local = engine.name === here.name && engine.kernel === here.kernel;
  const url = new URL(dockerHost);
  if (url.protocol === 'unix:' || isLoopback(url.hostname)) {
    return local
      ? { local, publishAddress: '127.0.0.1', describe: 'this machine' }
      : // A socket forwarded from another machine (ssh -L): its 127.0.0.1 is not ours, and its address is unknown here.
        { local, publishAddress: '', describe: `${engine.name} (kernel ${engine.kernel}), through ${dockerHost}` };
  }
  return {
    local,
    publishAddress: address ?? url.hostname,
    describe: `${engine.name} (${address ?? url.hostname}) over ${url.protocol.slice(0, -1)}`,
  };
}

/** Asks the engine who it is and resolves DOCKER_HOST's host: where it runs, and where its published ports are. */
export async function locateEngine(docker: Dockerode, dockerHost: string): Promise<EngineLocation> {
  const info = await docker.info();
  const url = new URL(dockerHost);
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const address = url.protocol === 'unix:' || isLoopback(host) ? undefined : isIP(host) ? host : (await lookup(host)).address;
  return engineLocation(
    dockerHost,
    { name: String(info.Name), kernel: String(info.KernelVersion) },
    { name: hostname(), kernel: release() },
    address,
  );
}
