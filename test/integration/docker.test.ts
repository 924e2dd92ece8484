import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { hostname, release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test, vi, type TestContext } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { dockerClient } from '../../src/platforms/docker/docker-client.js';
import { acquireEngine, engineAvailability, podmanAvailability, type Engine } from '../../src/platforms/docker/engine.js';
import {
  formatOwner,
  OWNER_LABEL,
  ownedByThisProcess,
  ownerValue,
  parseOwner,
  PLATFORM_LABEL,
  SESSION_LABEL,
  thisProcess,
} from '../../src/platforms/docker/labels.js';
import { cacheDir, packageRoot } from '../../src/host/paths.js';
import { dropHostPageCache } from '../../src/host/page-cache.js';
import { waitFor } from '../../src/host/poll.js';
import type { Platform, Provisioned, StartedPlatform } from '../../src/platforms/platform.js';
import { createDockerPlatform, type DockerVariant } from '../../src/platforms/docker/index.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { WORKLOAD_NAMES, workloads, type WorkloadName } from '../../src/workloads/index.js';
import { expectQuietTurns, processesMentioning } from './helpers.js';

/*
 * Real containers, no fakes. When this machine cannot run Docker (no engine,
 * and no root or docker.io to start one), every test here is skipped with the
 * reason; CI installs docker.io and debootstrap and builds the image itself.
 */

const context = { cacheDir: cacheDir(), log: (line: string) => console.log(`[docker test] ${line}`) };
const profile = PROFILES.quick;
const availability = await engineAvailability();
const unavailable = availability.available ? undefined : availability.reason;
const podman = podmanAvailability();
const podmanUnavailable = podman.available ? undefined : podman.reason;

/** Provisioning problems of the machine (not of our code) skip; anything else fails. */
function machineProblem(error: unknown): string | undefined {
  if (error instanceof VirtbenchError && (error.code === 'VIRTBENCH_PLATFORM_UNAVAILABLE' || error.code === 'VIRTBENCH_MISSING_TOOL')) {
    return error.message.split('\n')[0];
  }
  return undefined;
}

interface Session {
  provisioned?: Provisioned;
  platform?: StartedPlatform;
  skip?: string;
}

/** One provisioned container per describe block, like one per project run. */
function useSession(variant: DockerVariant): Session {
  const session: Session = { skip: variant === 'podman' ? podmanUnavailable : unavailable };
  beforeAll(async () => {
    if (session.skip) return;
    const docker = createDockerPlatform(variant);
    try {
      session.provisioned = await docker.provision(context);
    } catch (error) {
      session.skip = machineProblem(error);
      if (!session.skip) throw error;
      return;
    }
    session.platform = await docker.connect(session.provisioned.facts);
  }, 900_000); // a cold image build (debootstrap + apt) takes 2-3 minutes on a busy machine
  afterAll(async () => {
    await session.platform?.close();
    await session.provisioned?.stop();
  });
  return session;
}

function ready(session: Session, t: TestContext): StartedPlatform {
  if (session.skip) t.skip(session.skip);
  return session.platform!;
}

/** Between turns the container is paused: its processes use no CPU until thawed (expectQuietTurns). */
async function quietTurns(session: Session, variant: DockerVariant, t: TestContext): Promise<void> {
  session.platform = await expectQuietTurns(ready(session, t), () => createDockerPlatform(variant).connect(session.provisioned!.facts));
}

/** The HTTP status of a HEAD request, sent from localAddress when given. */
function headStatus(host: string, port: number, path: string, localAddress?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'HEAD', localAddress, timeout: 10_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${host}:${port} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

async function runOnce(platform: StartedPlatform, name: WorkloadName) {
  const prepared = await prepareWorkload(platform, workloads[name], profile, { cacheDir: context.cacheDir });
  try {
    return await prepared.runOnce();
  } finally {
    await prepared.dispose();
  }
}

/** Containers this process labelled, as the engine sees them (running or not). */
async function ourContainers(engine: Engine): Promise<string[]> {
  const list = await engine.docker.listContainers({ all: true, filters: { label: [ownedByThisProcess()] } });
  return list.map((c) => c.Id);
}

describe('docker (container layer, published port)', () => {
  const session = useSession('layer');

  for (const name of WORKLOAD_NAMES) {
    test(`runs ${name} in the container (quick profile)`, async (t) => {
      const figure = await runOnce(ready(session, t), name);
      expect(figure.value).toBeGreaterThan(0);
      expect(figure.unit).toBe(workloads[name].unit);
    });
  }

  test('the first write to a file of the image copies it up from the image layer, one name at a time', async (t) => {
    const platform = ready(session, t);
    const first = await runOnce(platform, 'disk-copyup');
    const second = await runOnce(platform, 'disk-copyup');
    // A hard link in the lower layer (64 names), copied up alone: the upper file has one name.
    expect(first.extra).toMatchObject({ source: 'image', links_before: 64, links_after: 1, bytes: 64 * 1024 * 1024 });
    expect(second.extra.file).toBe(Number(first.extra.file) + 1);
    expect(second.extra).toMatchObject({ links_before: 64, links_after: 1 });
  });

  test('describes the engine, storage and network', async (t) => {
    const info = await ready(session, t).describe();
    expect(info).toMatchObject({ storageDriver: 'overlay2' });
    expect(String(info.workDir)).toContain('container layer');
    expect(String(info.network)).toMatch(/^bridge; 127\.0\.0\.1:\d+ published to 8080$/);
    expect(String(info.imageId)).toMatch(/^[0-9a-f]{12}$/);
  });

  test('serves on the container port, reached through 127.0.0.1 only', async (t) => {
    const address = await ready(session, t).serviceAddress();
    const facts = session.provisioned!.facts;
    expect(address).toMatchObject({ listen: `${facts.containerAddress}:8080`, host: '127.0.0.1', allowFrom: facts.bridgeGateway });
    expect(String(facts.bridgeGateway)).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(address.port).toBe(facts.hostPort);
  });

  test("nginx in the container answers the host's end of the bridge only, not another source on the bridge", async (t) => {
    const platform = ready(session, t);
    if (process.getuid?.() !== 0) t.skip('adding a second address to the bridge needs root');
    const facts = session.provisioned!.facts;
    const [containerAddress, gateway] = [String(facts.containerAddress), String(facts.bridgeGateway)];
    // The interface that holds the gateway is the bridge (virtbench0 or docker0); a second address there is another source.
    const addresses = (await execa('ip', ['-4', '-o', 'addr', 'show'])).stdout.split('\n');
    const bridge = addresses.find((line) => line.includes(` inet ${gateway}/`))?.split(/\s+/)[1];
    expect(bridge, `no interface holds ${gateway}`).toBeTruthy();
    const stranger = gateway.replace(/\.\d+$/, '.250');
    expect(
      addresses.some((line) => line.includes(` inet ${stranger}/`)),
      `${stranger} is taken`,
    ).toBe(false);
    const prepared = await prepareWorkload(platform, workloads.nginx, profile, { cacheDir: context.cacheDir });
    await execa('ip', ['addr', 'add', `${stranger}/32`, 'dev', bridge!]);
    try {
      const path = '/payload.bin';
      expect(await headStatus('127.0.0.1', Number(facts.hostPort), path)).toBe(200); // through the published port
      expect(await headStatus(containerAddress, 8080, path, gateway)).toBe(200);
      expect(await headStatus(containerAddress, 8080, path, stranger)).toBe(403);
    } finally {
      await execa('ip', ['addr', 'del', `${stranger}/32`, 'dev', bridge!], { reject: false });
      await prepared.dispose();
    }
  });

  test('flushes the page cache from the host when the engine runs on this kernel', async (t) => {
    const platform = ready(session, t);
    const local = String(session.provisioned!.facts.dockerHost).startsWith('unix://') && (await platform.describe()).kernel === release();
    expect(await platform.flushCaches()).toBe(local && (await dropHostPageCache()));
  });

  test("quiet turns: frozen between turns, the container's processes use no CPU; thawed they run; close() works frozen", async (t) => {
    await quietTurns(session, 'layer', t);
  });

  test('exec reports exit codes, a missing program, cwd and time limits like a child process', async (t) => {
    const platform = ready(session, t);
    expect(await platform.exec(['pwd'])).toMatchObject({ exitCode: 0, stdout: '/bench\n', timedOut: false });
    expect(await platform.exec(['ls', '/nonexistent'])).toMatchObject({ exitCode: 2 });
    expect((await platform.exec(['no-such-program'])).exitCode).toBe(127);
    expect((await platform.exec(['no-such-program'], { timeoutMs: 5_000 })).exitCode).toBe(127);
    expect(await platform.exec(['sleep', '5'], { timeoutMs: 300 })).toMatchObject({ exitCode: 124, timedOut: true });
  });
});

describe('docker-volume (work directory on a volume)', () => {
  const session = useSession('volume');

  test('runs disk-random on the volume', async (t) => {
    const platform = ready(session, t);
    expect(String((await platform.describe()).workDir)).toContain('docker volume');
    const mounts = await platform.exec(['grep', ' /bench ', '/proc/self/mounts']);
    expect(mounts.stdout).not.toContain('overlay');
    expect((await runOnce(platform, 'disk-random')).value).toBeGreaterThan(0);
  });
});

describe('docker-hostnet (host network)', () => {
  const session = useSession('hostnet');

  test('runs nginx on a loopback port of the host network', async (t) => {
    const platform = ready(session, t);
    const address = await platform.serviceAddress();
    expect(address.listen).toBe(`127.0.0.1:${address.port}`);
    expect(address.allowFrom).toBeUndefined(); // loopback keeps every other host out
    expect((await runOnce(platform, 'nginx')).value).toBeGreaterThan(0);
  });
});

describe('docker-gvisor (runsc, ptrace)', () => {
  const session = useSession('gvisor');

  test("quiet turns: runsc pauses the sandbox's kernel, which then uses no CPU until thawed", async (t) => {
    await quietTurns(session, 'gvisor', t);
  });

  test("runs the container under gVisor's kernel, says so, and measures fork and nginx there", async (t) => {
    const platform = ready(session, t);
    expect(await platform.describe()).toMatchObject({ runtime: 'runsc', gvisorPlatform: 'ptrace' });
    // gVisor answers uname itself, with its own kernel version rather than the host's.
    expect((await platform.exec(['uname', '-r'])).stdout.trim()).not.toBe(release());
    expect((await platform.exec(['dmesg'])).stdout).toMatch(/gVisor/);
    // Its page cache is its own: the host cannot flush it, and the results say so.
    expect(await platform.flushCaches()).toBe(false);
    expect(platform.unsupported?.(workloads['disk-copyup'])).toMatch(/copy-up/);
    expect((await runOnce(platform, 'fork')).value).toBeGreaterThan(0);
    expect((await runOnce(platform, 'nginx')).value).toBeGreaterThan(0);
  });
});

describe('docker-crun (crun instead of runc)', () => {
  const session = useSession('crun');

  test('runs the container under crun, says so, and measures cpu, fork and nginx there', async (t) => {
    const platform = ready(session, t);
    const info = await platform.describe();
    expect(info).toMatchObject({ runtime: 'crun', runtimePath: expect.stringMatching(/crun$/) });
    const facts = session.provisioned!.facts;
    const inspect = await dockerClient(String(facts.dockerHost)).getContainer(String(facts.containerId)).inspect();
    expect(inspect.HostConfig.Runtime).toBe('crun');
    for (const name of ['cpu', 'fork', 'nginx'] as const) expect((await runOnce(platform, name)).value).toBeGreaterThan(0);
  });

  test('quiet turns: crun pauses the container through the freezer, which then uses no CPU until thawed', async (t) => {
    await quietTurns(session, 'crun', t);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('podman (private podman service, CNI bridge of ours)', () => {
  const session = useSession('podman');

  test('quiet turns: the container paused through the podman service uses no CPU until thawed', async (t) => {
    await quietTurns(session, 'podman', t);
  });

  test('runs the benchmark image through Podman, says so, and serves nginx on the container address to the host only', async (t) => {
    const platform = ready(session, t);
    expect(await platform.describe()).toMatchObject({ engine: expect.stringMatching(/^Podman 4\./), engineSource: 'private podman' });
    const facts = session.provisioned!.facts;
    const address = await platform.serviceAddress();
    expect(address).toMatchObject({ listen: `${facts.containerAddress}:8080`, host: facts.containerAddress, port: 8080 });
    expect(address.allowFrom).toBe(facts.bridgeGateway);
    // On our bridge, with no route of the host's going there but the bridge's own.
    expect(readdirSync('/sys/class/net')).toContain('virtbench1');
    for (const name of ['cpu', 'fork', 'disk-random', 'nginx'] as const) expect((await runOnce(platform, name)).value).toBeGreaterThan(0);
    // The host's page cache is the container's: the flush is done.
    expect(await platform.flushCaches()).toBe(true);
  });
});

/** A platform provisioned for one test; skipped with the reason where the machine cannot run it. */
async function provisionOrSkip(platform: Platform, t: TestContext): Promise<Provisioned> {
  if (unavailable) t.skip(unavailable);
  return platform.provision(context).catch((error: unknown) => {
    const problem = machineProblem(error);
    if (problem) t.skip(problem);
    throw error;
  });
}

/** Processes of gVisor (sandbox, gofer) on this machine. */
function runscProcesses(): string[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .flatMap((pid) => {
      try {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        return argv[0]?.includes('runsc') ? [`${pid} ${argv[0]}`] : [];
      } catch {
        return [];
      }
    });
}

describe('cleanup', () => {
  // A share of the engine of our own keeps a private dockerd running while we look.
  let engine: Engine | undefined;
  let skip = unavailable;
  beforeAll(async () => {
    if (skip) return;
    engine = await acquireEngine(context).catch((error) => {
      skip = machineProblem(error);
      if (!skip) throw error;
      return undefined;
    });
  });
  afterAll(async () => engine?.release());

  test('no container is left after a benchmark that throws', async (t) => {
    if (skip) t.skip(skip);
    const docker = createDockerPlatform('layer');
    const provisioned = await docker.provision(context);
    const failingBench = async () => {
      try {
        const platform = await docker.connect(provisioned.facts);
        await platform.exec(['true']);
        throw new Error('benchmark failed');
      } finally {
        await provisioned.stop(); // what globalSetup's teardown does
      }
    };
    await expect(failingBench()).rejects.toThrow('benchmark failed');
    expect(await ourContainers(engine!)).toEqual([]);
  });

  test('stopping docker-gvisor, frozen between turns, leaves no gVisor process behind, at once', async (t) => {
    const gvisor = createDockerPlatform('gvisor');
    const provisioned = await provisionOrSkip(gvisor, t);
    expect(runscProcesses().length).toBeGreaterThan(0);
    await (
      await gvisor.connect(provisioned.facts)
    ).freeze!();
    const started = performance.now();
    await provisioned.stop();
    // Removed paused, the sandbox took the engine 10 s; unpaused first, a second or so.
    expect(performance.now() - started).toBeLessThan(6_000);
    await vi.waitFor(() => expect(runscProcesses()).toEqual([]), { timeout: 10_000 });
  });

  // The engine never ends an exec whose container its runtime lost (the exit event finds "no such
  // container"); seen when gVisor's sandbox died mid-benchmark, and the run hung there.
  test("an exec whose container's sandbox dies fails as a lost container instead of waiting forever", async (t) => {
    const gvisor = createDockerPlatform('gvisor');
    const provisioned = await provisionOrSkip(gvisor, t);
    try {
      const platform = await gvisor.connect(provisioned.facts);
      const started = performance.now();
      const exec = platform.exec(['sleep', '600']);
      await sleep(1_500);
      const sandbox = runscProcesses().find((p) => p.endsWith('runsc-sandbox'));
      expect(sandbox, runscProcesses().join('\n')).toBeDefined();
      process.kill(Number(sandbox!.split(' ')[0]), 'SIGKILL');
      await expect(exec).rejects.toMatchObject({
        code: 'VIRTBENCH_GUEST_LOST',
        message: expect.stringMatching(/stopped while running `sleep 600`/),
      });
      expect(performance.now() - started).toBeLessThan(20_000);
    } finally {
      await provisioned.stop();
    }
    await vi.waitFor(() => expect(runscProcesses()).toEqual([]), { timeout: 10_000 });
  });

  test('stopping podman leaves no service, conmon, container process, mount, bridge or run directory', async (t) => {
    if (podmanUnavailable) t.skip(podmanUnavailable);
    const forwarding = readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8');
    const hostPaths = ['/var/lib/cni', '/var/lib/containers', '/run/runc', '/run/crun'].filter((p) => existsSync(p));
    const provisioned = await createDockerPlatform('podman').provision(context);
    expect((await processesMentioning('/run/virtbench-podman')).length).toBeGreaterThan(0);
    await provisioned.stop();
    expect(await processesMentioning('/run/virtbench-podman')).toEqual([]);
    expect(readFileSync('/proc/self/mounts', 'utf8')).not.toMatch(/virtbench-podman|\/podman\/storage\//);
    expect(readdirSync('/sys/class/net')).not.toContain('virtbench1');
    expect(readdirSync('/run')).not.toContain('virtbench-podman');
    // Nothing of the host's network or directories changed: no podman bridge, forwarding as it was, no new state directories.
    expect(readdirSync('/sys/class/net')).not.toContain('cni-podman0');
    expect(readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8')).toBe(forwarding);
    expect(['/var/lib/cni', '/var/lib/containers', '/run/runc', '/run/crun'].filter((p) => existsSync(p))).toEqual(hostPaths);
  });

  test('stopSync removes the container synchronously, frozen or not (the Ctrl-C path)', async (t) => {
    if (skip) t.skip(skip);
    const volumePlatform = createDockerPlatform('volume');
    const provisioned = await volumePlatform.provision(context);
    expect(await ourContainers(engine!)).toHaveLength(1);
    // Frozen between turns, as a Ctrl-C may find it.
    await (
      await volumePlatform.connect(provisioned.facts)
    ).freeze!();
    const inspect = await engine!.docker.getContainer(String(provisioned.facts.containerId)).inspect();
    const volume = inspect.Mounts.find((m) => m.Destination === '/bench')!.Name!;
    provisioned.stopSync();
    expect(await ourContainers(engine!)).toEqual([]);
    await expect(engine!.docker.getVolume(volume).inspect()).rejects.toMatchObject({ statusCode: 404 });
  });

  test('containers left by a dead run are removed at the next start; those of owners it cannot see are kept', async (t) => {
    if (skip) t.skip(skip);
    const image = (await engine!.docker.listImages({ filters: { reference: ['virtbench-bench'] } }))[0]!.RepoTags![0]!;
    const deadPid = 2 ** 22 + 1; // above pid_max's default: never alive
    const labelled = (session: string, owner: string) =>
      engine!.docker.createContainer({
        Image: image,
        Cmd: ['sleep', 'infinity'],
        Labels: { [SESSION_LABEL]: session, [OWNER_LABEL]: owner, [PLATFORM_LABEL]: 'docker' },
      });
    const me = parseOwner(ownerValue())!;
    const stale = await labelled('stale', formatOwner({ ...me, pid: deadPid }));
    // A job in another pid namespace (a host-network container shares the hostname), and a label of an older version.
    const otherNamespace = await labelled('other-namespace', formatOwner({ ...me, pidNamespace: 'pid:[1]', pid: deadPid }));
    const oldFormat = await labelled('old-format', `${hostname()}:${deadPid}`);
    try {
      const provisioned = await createDockerPlatform('layer').provision(context);
      try {
        await expect(stale.inspect()).rejects.toMatchObject({ statusCode: 404 });
        expect((await otherNamespace.inspect()).Id).toBe(otherNamespace.id);
        expect((await oldFormat.inspect()).Id).toBe(oldFormat.id);
      } finally {
        await provisioned.stop();
      }
    } finally {
      for (const kept of [otherNamespace, oldFormat]) await kept.remove({ force: true, v: true }).catch(() => {});
    }
  });
  test('Ctrl-C during `vitest bench --project docker` removes the container', async (t) => {
    if (skip) t.skip(skip);
    // A config of its own: the repository's may not list the docker platforms.
    await mkdir(join(packageRoot, '.cache'), { recursive: true });
    const config = join(packageRoot, '.cache', `docker-ctrl-c-${process.pid}.config.ts`);
    await writeFile(
      config,
      `import { virtbench } from '../src/index.js';\nexport default { plugins: [virtbench({ platforms: ['docker'] })] };\n`,
    );
    try {
      const child = execa(
        process.execPath,
        [
          join(packageRoot, 'node_modules/vitest/vitest.mjs'),
          'bench',
          '--config',
          config,
          '--root',
          packageRoot,
          '--project',
          'docker',
          'nginx',
        ],
        {
          cwd: packageRoot,
          // standard profile: 512 MiB file and 10 s runs, so there is time to interrupt mid-benchmark
          env: { VIRTBENCH_PROFILE: 'standard', VIRTBENCH_REPORT_DIR: await mkdtemp(join(tmpdir(), 'virtbench-report-')), CI: 'true' },
          reject: false,
          all: true,
        },
      );
      let exited = false;
      void child.then(() => (exited = true));
      const serving = async () => (await processesMentioning('nginx: master process')).some((p) => p.includes('/bench/nginx'));
      let started = false;
      await waitFor(async () => (started = await serving()) || exited, { timeoutMs: 180_000, intervalMs: 200 });
      expect(started, 'nginx never started in the container').toBe(true);
      await new Promise((r) => setTimeout(r, 1_000)); // downloads under way
      child.kill('SIGINT');
      const result = await child;
      expect(result.exitCode ?? result.signal, result.all).not.toBe(0);
      // Our own share of the engine kept a private dockerd running, so we can look.
      const labelled = await engine!.docker.listContainers({ all: true, filters: { label: [OWNER_LABEL] } });
      const here = thisProcess();
      const left = labelled.filter((c) => {
        const owner = parseOwner(c.Labels[OWNER_LABEL]);
        return owner !== undefined && owner.pid === child.pid && owner.bootId === here.bootId && owner.pidNamespace === here.pidNamespace;
      });
      expect(left).toEqual([]);
      expect(await serving()).toBe(false);
    } finally {
      await rm(config, { force: true });
    }
  });
});

describe('a dead or missing engine', () => {
  const env = { ...process.env, DOCKER_HOST: 'unix:///tmp/virtbench-nobody-listens.sock' };

  test('is reported as unavailable, with the cause and the fix', async () => {
    const result = await createDockerPlatform('layer', { env }).availability();
    expect(result.available).toBe(false);
    const reason = (result as { reason: string }).reason;
    expect(reason).toContain('DOCKER_HOST=unix:///tmp/virtbench-nobody-listens.sock');
    expect(reason).toContain('ENOENT');
    expect(reason).toMatch(/fix: start that engine, or unset DOCKER_HOST/);
  });

  test('makes provision fail with VIRTBENCH_PLATFORM_UNAVAILABLE', async () => {
    const provisioning = createDockerPlatform('layer', { env }).provision(context);
    await expect(provisioning).rejects.toBeInstanceOf(VirtbenchError);
    await expect(provisioning).rejects.toMatchObject({
      code: 'VIRTBENCH_PLATFORM_UNAVAILABLE',
      message: expect.stringContaining('no Docker engine answers'),
    });
  });
});
