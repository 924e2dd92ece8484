import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import { BadOptionError } from '../../errors.js';
import { runSync } from '../../host/command.js';

/*
 * One way to reach an engine from a DOCKER_HOST-style URL, used by the main
 * process, the workers (which get only the URL) and the synchronous
 * last-resort cleanup (which cannot wait for promises).
 */

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export interface EngineAddress {
  socketPath?: string;
  host?: string;
  port?: number;
  protocol?: 'http' | 'https';
  /** Directory with ca.pem, cert.pem, key.pem when DOCKER_TLS_VERIFY=1. */
  certDir?: string;
}

/** unix:///path and tcp://host:port (TLS from DOCKER_TLS_VERIFY/DOCKER_CERT_PATH); nothing else. */
export function parseDockerHost(dockerHost: string, env: NodeJS.ProcessEnv = process.env): EngineAddress {
  let url: URL;
  try {
    url = new URL(dockerHost);
  } catch (cause) {
    throw new BadOptionError(`DOCKER_HOST "${dockerHost}" is not a URL (expected unix:///path or tcp://host:port)`, {
      platform: 'docker',
      cause,
    });
  }
  if (url.protocol === 'unix:') return { socketPath: url.pathname };
  if (url.protocol === 'tcp:' || url.protocol === 'http:' || url.protocol === 'https:') {
    const tls = url.protocol === 'https:' || env.DOCKER_TLS_VERIFY === '1';
    return {
      host: url.hostname,
      port: Number(url.port) || (tls ? 2376 : 2375),
      protocol: tls ? 'https' : 'http',
      ...(tls && env.DOCKER_CERT_PATH ? { certDir: env.DOCKER_CERT_PATH } : {}),
    };
  }
  throw new BadOptionError(
    `DOCKER_HOST "${dockerHost}" uses ${url.protocol}, which virtbench does not support; use unix:// or tcp://` +
      (url.protocol === 'ssh:'
        ? '\nfix: reach that engine as tcp://<host>:2376 with TLS (DOCKER_TLS_VERIFY=1), or run virtbench on that machine and merge the results files (npx virtbench merge)'
        : ''),
    {
      platform: 'docker',
    },
  );
}

export function dockerClient(dockerHost: string, options: { timeoutMs?: number } = {}): Dockerode {
  const { certDir, ...address } = parseDockerHost(dockerHost);
  const tls = certDir
    ? {
        ca: readFileSync(join(certDir, 'ca.pem')),
        cert: readFileSync(join(certDir, 'cert.pem')),
        key: readFileSync(join(certDir, 'key.pem')),
      }
    : {};
  return new Dockerode({ ...address, ...tls, ...(options.timeoutMs ? { timeout: options.timeoutMs } : {}) });
}

/** Whether an engine answers /_ping; the failure text otherwise. */
export async function pingEngine(dockerHost: string): Promise<{ ok: true } | { ok: false; error: string }> {
  try {
    await dockerClient(dockerHost, { timeoutMs: 5_000 }).ping();
    return { ok: true };
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    return { ok: false, error: e.code ? `${e.code}` : e.message };
  }
}

// Runs in a child Node process: plain http(s) over the socket, one request after another.
const SYNC_REQUESTS = `
const spec = JSON.parse(process.argv[1]);
const fs = require('node:fs');
// Dockerode's protocol is 'http' or 'https'; Node's request takes 'http:': the module chosen by it implies it.
const { protocol, certDir, ...address } = spec.address;
const mod = require(protocol === 'https' ? 'node:https' : 'node:http');
const tls = certDir ? Object.fromEntries(['ca', 'cert', 'key'].map((k) => [k, fs.readFileSync(certDir + '/' + k + '.pem')])) : {};
const one = (method, path) => new Promise((done) => {
  const req = mod.request({ ...address, ...tls, method, path, timeout: 20000 }, (res) => {
    let body = '';
    res.on('data', (chunk) => (body += chunk));
    res.on('end', () => done(body));
  });
  req.on('error', () => done(''));
  req.on('timeout', () => req.destroy());
  req.end();
});
// Unpaused first: a container paused between turns under gVisor took the engine 10 s to remove.
const remove = async (id) => {
  await one('POST', '/containers/' + encodeURIComponent(id) + '/unpause');
  await one('DELETE', '/containers/' + encodeURIComponent(id) + '?force=true&v=true');
};
(async () => {
  for (const id of spec.ids) await remove(id);
  if (spec.label) {
    const filters = encodeURIComponent(JSON.stringify({ label: [spec.label] }));
    let list = [];
    try { list = JSON.parse(await one('GET', '/containers/json?all=true&filters=' + filters)); } catch {}
    for (const c of list) await remove(c.Id);
  }
})();
`;

/**
 * Force-removes containers (with their anonymous volumes), by id and/or by
 * label, and waits for it: for exit and signal handlers, where nothing
 * asynchronous gets to run. Best effort; a dead engine costs one failed connect.
 */
export function removeContainersSync(dockerHost: string, ids: readonly string[], label?: string): void {
  if (ids.length === 0 && !label) return;
  const address = parseDockerHost(dockerHost);
  runSync([process.execPath, '-e', SYNC_REQUESTS, JSON.stringify({ address, ids, label })], { timeoutMs: 60_000 });
}
