import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { cacheDir, packageRoot } from '../../src/host/paths.js';
import { acquireEngine, engineAvailability, type Engine } from '../../src/platforms/docker/engine.js';
import { createDockerPlatform } from '../../src/platforms/docker/index.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { workloads } from '../../src/workloads/index.js';
import { startEngineRelay } from '../engine-relay.js';

/*
 * The docker platform on an engine reached over tcp at an address that is not loopback, as a remote
 * engine is (DOCKER_HOST=tcp://lab1:2375): the container's port is published on that address, never
 * 0.0.0.0 and not on 127.0.0.1 (which the client could not reach on another machine), and the host
 * downloads from there. The engine is this machine's private dockerd behind a TCP relay on the host's
 * end of a veth pair (scripts/simulated-remote.sh's fourth, 198.51.100.13), so nothing listens on a
 * real network; being this machine (same host name and kernel), its cache flush stays valid.
 */

const SCRIPT = join(packageRoot, 'scripts/simulated-remote.sh');
const env = { SIMULATED_REMOTE: '3' };
const DIR = '/run/virtbench-remote3';
const ADDRESS = '198.51.100.13';
const context = { cacheDir: cacheDir(), log: (line: string) => console.log(`[remote engine test] ${line}`) };

let cannot: string | undefined;
let engine: Engine | undefined;
let relay: Awaited<ReturnType<typeof startEngineRelay>> | undefined;
let port = 0;

beforeAll(async () => {
  const availability = await engineAvailability({});
  if (process.getuid?.() !== 0 || !existsSync('/usr/sbin/sshd')) cannot = 'needs root and openssh-server (scripts/simulated-remote.sh)';
  else if (!availability.available) cannot = availability.reason;
  if (cannot) return;
  await execa('bash', [SCRIPT, 'up', DIR], { env });
  // Our own share of the local engine, and a relay to its socket at the veth's address.
  engine = await acquireEngine(context, {});
  relay = await startEngineRelay(engine.dockerHost, ADDRESS);
  port = relay.port;
}, 600_000);

afterAll(async () => {
  relay?.stop();
  await engine?.release();
  if (!cannot) await execa('bash', [SCRIPT, 'down', DIR], { env });
});

describe('a Docker engine reached over tcp at a non-loopback address', () => {
  test('publishes nginx on that address only, and the host downloads from there', async (t: TestContext) => {
    if (cannot) t.skip(cannot);
    const platform = createDockerPlatform('layer', { env: { DOCKER_HOST: `tcp://${ADDRESS}:${port}` } });
    const provisioned = await platform.provision(context);
    try {
      expect(provisioned.facts).toMatchObject({ dockerHost: `tcp://${ADDRESS}:${port}`, publishAddress: ADDRESS, engineLocal: true });
      const inspect = await engine!.docker.getContainer(provisioned.facts.containerId as string).inspect();
      expect(inspect.HostConfig.PortBindings).toEqual({ '8080/tcp': [{ HostIp: ADDRESS, HostPort: '' }] });
      const started = await platform.connect(provisioned.facts);
      expect(await started.serviceAddress()).toMatchObject({ host: ADDRESS, port: provisioned.facts.hostPort });
      expect(await started.describe()).toMatchObject({
        engineHost: expect.stringMatching(new RegExp(`\\(${ADDRESS.replaceAll('.', '\\.')}\\) over tcp$`)),
      });
      const nginx = await prepareWorkload(started, workloads.nginx, PROFILES.quick, { cacheDir: cacheDir() });
      try {
        const figure = await nginx.runOnce();
        expect(Number(figure.extra.downloads)).toBeGreaterThanOrEqual(PROFILES.quick.nginx.parallel);
      } finally {
        await nginx.dispose();
      }
      await started.close();
    } finally {
      await provisioned.stop();
    }
  });

  test("the exit handlers' synchronous stop (Ctrl-C, SIGTERM) removes the container there", async (t: TestContext) => {
    if (cannot) t.skip(cannot);
    const platform = createDockerPlatform('layer', { env: { DOCKER_HOST: `tcp://${ADDRESS}:${port}` } });
    const provisioned = await platform.provision(context);
    const id = provisioned.facts.containerId as string;
    try {
      expect((await engine!.docker.getContainer(id).inspect()).State.Running).toBe(true);
      provisioned.stopSync();
      await expect(engine!.docker.getContainer(id).inspect()).rejects.toMatchObject({ statusCode: 404 });
    } finally {
      await provisioned.stop();
      await engine!.docker
        .getContainer(id)
        .remove({ force: true, v: true })
        .catch(() => {});
    }
  });
});
