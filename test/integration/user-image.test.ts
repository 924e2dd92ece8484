import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { cacheDir, packageRoot } from '../../src/host/paths.js';
import { findExecutable } from '../../src/host/process.js';
import {
  acquireEngine,
  acquirePodmanEngine,
  engineAvailability,
  podmanAvailability,
  type Engine,
} from '../../src/platforms/docker/engine.js';
import { tarOf } from '../../src/platforms/docker/archive.js';
import { createDockerPlatform, type DockerVariant } from '../../src/platforms/docker/index.js';
import { ownedByThisProcess } from '../../src/platforms/docker/labels.js';
import { userImagePlatforms, validateContainerImages, type ContainerImageOptions } from '../../src/platforms/docker/user-images.js';
import type { Provisioned, StartedPlatform } from '../../src/platforms/platform.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { workloads, type Workload } from '../../src/workloads/index.js';
import { app } from '../../fixtures/user-image/app.js';
import { PROFILES } from '../../src/workloads/profiles.js';

/*
 * The user's own image as a platform, for real: the fixture image (FROM scratch: no shell, sleep or
 * timeout), built offline from fixtures/user-image/image by virtbench, under docker and podman. Its app
 * is built here with the host's gcc -static into the build context. Skipped with the reason where the
 * machine cannot run the engine.
 */

const context = { cacheDir: cacheDir(), log: (line: string) => console.log(`[user-image test] ${line}`) };
const profile = PROFILES.quick;
const imageDir = join(packageRoot, 'fixtures', 'user-image', 'image');
const docker = await engineAvailability();
const podman = podmanAvailability();
const unavailable = {
  docker: docker.available ? undefined : docker.reason,
  podman: podman.available ? undefined : podman.reason,
};
const gccMissing = findExecutable('gcc') ? undefined : 'gcc is not installed (the fixture app is built with gcc -static)';

beforeAll(async () => {
  if (!gccMissing) await execa('gcc', ['-O2', '-static', '-o', join(imageDir, 'app'), join(imageDir, 'app.c')]);
});

function platformFor(name: string, entry: ContainerImageOptions, under: DockerVariant) {
  const [user] = userImagePlatforms(validateContainerImages({ [name]: entry }, []));
  return createDockerPlatform(under, { userImage: user });
}

async function runOnce(platform: StartedPlatform, workload: Workload) {
  const prepared = await prepareWorkload(platform, workload, profile, { cacheDir: context.cacheDir });
  try {
    return await prepared.runOnce();
  } finally {
    await prepared.dispose();
  }
}

/** Problems of the machine (not of our code) skip; anything else fails. */
function machineProblem(error: unknown): string | undefined {
  if (error instanceof VirtbenchError && error.code === 'VIRTBENCH_MISSING_TOOL') return error.message.split('\n')[0];
  if (error instanceof VirtbenchError && error.code === 'VIRTBENCH_PLATFORM_UNAVAILABLE' && !/wrong architecture/.test(error.message)) {
    return error.message.split('\n')[0];
  }
  return undefined;
}

async function ourContainers(engine: Engine): Promise<string[]> {
  return (await engine.docker.listContainers({ all: true, filters: { label: [ownedByThisProcess()] } })).map((c) => c.Id);
}

describe.each([
  { under: 'layer' as const, engine: 'docker' as const, platform: 'myapp-docker' },
  { under: 'podman' as const, engine: 'podman' as const, platform: 'myapp-podman' },
])('a user image built from a Dockerfile, FROM scratch, under $engine', ({ under, engine, platform: name }) => {
  const session: { provisioned?: Provisioned; platform?: StartedPlatform; skip?: string } = {
    skip: gccMissing ?? unavailable[engine],
  };
  beforeAll(async () => {
    if (session.skip) return;
    const platform = platformFor('myapp', { dockerfile: join(imageDir, 'Dockerfile'), under: [engine] }, under);
    expect(platform.name).toBe(name);
    try {
      session.provisioned = await platform.provision(context);
    } catch (error) {
      session.skip = machineProblem(error);
      if (!session.skip) throw error;
      return;
    }
    session.platform = await platform.connect(session.provisioned.facts);
  }, 600_000);
  afterAll(async () => {
    await session.platform?.close();
    await session.provisioned?.stop();
  });
  const ready = (t: TestContext) => {
    if (session.skip) t.skip(session.skip);
    return session.platform!;
  };

  test("runs cpu, mem, fork and the image's own program in an image without a shell", async (t) => {
    const platform = ready(t);
    // No shell, no sleep: the container runs our idle program, and exec finds no sh.
    expect((await platform.exec(['sh', '-c', 'true'])).exitCode).toBe(127);
    for (const workload of [workloads.cpu, workloads.mem, workloads.fork, app]) {
      const figure = await runOnce(platform, workload);
      expect(figure.value, workload.name).toBeGreaterThan(0);
    }
    // Time limits hold without coreutils' timeout: ours, in the container.
    expect(await platform.exec(['/app', '4000000000'], { timeoutMs: 300 })).toMatchObject({ exitCode: 124, timedOut: true });
  });

  test('says fio, nginx and the baked-in copy-up file are not in the image (n/a), found without a shell', async (t) => {
    const platform = ready(t);
    expect(platform.unsupported?.(workloads['disk-random'])).toMatch(/has no `fio` on its PATH .*fix: install it in the image/);
    expect(platform.unsupported?.(workloads.nginx)).toMatch(/has no `nginx` on its PATH/);
    expect(platform.unsupported?.(workloads['disk-copyup'])).toMatch(/is not virtbench's/);
    expect(platform.unsupported?.(workloads.cpu)).toBeUndefined();
    expect(await platform.findCommand?.('/app')).toBe('/app');
    expect(await platform.findCommand?.('sh')).toBeUndefined();
  });

  test("records the image's id, OS and architecture", async (t) => {
    const info = await ready(t).describe();
    expect(info).toMatchObject({
      userImage: 'myapp',
      image: expect.stringMatching(/^virtbench-user-myapp:[0-9a-f]{12}$/),
      imageId: expect.stringMatching(/^[0-9a-f]{12}$/),
      imageOs: 'virtbench user-image fixture 1 (FROM scratch)',
      imageArchitecture: 'linux/amd64',
    });
  });
});

describe('bad input', () => {
  let engine: Engine | undefined;
  let skip = gccMissing ?? unavailable.docker;
  const made: string[] = [];
  beforeAll(async () => {
    if (skip) return;
    engine = await acquireEngine(context).catch((error: unknown) => {
      skip = machineProblem(error);
      if (!skip) throw error;
      return undefined;
    });
  });
  afterAll(async () => {
    for (const tag of made)
      await engine?.docker
        .getImage(tag)
        .remove({ force: true })
        .catch(() => {});
    await engine?.release();
  });

  test('an image that does not exist in the engine: the cause, and the fix', async (t) => {
    if (skip) t.skip(skip);
    const platform = platformFor('ghost', { image: 'virtbench-no-such-image:1', under: ['docker'] }, 'layer');
    await expect(platform.provision(context)).rejects.toMatchObject({
      code: 'VIRTBENCH_BAD_OPTION',
      message: expect.stringMatching(
        /the image virtbench-no-such-image:1 does not exist in the Docker engine .*\nfix: load it into that engine/,
      ),
    });
    expect(await ourContainers(engine!)).toEqual([]);
  });

  test("a Dockerfile that does not build: its output's tail in the error, and no image of ours tagged", async (t) => {
    if (skip) t.skip(skip);
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-bad-dockerfile-'));
    try {
      await writeFile(join(dir, 'Dockerfile'), 'FROM scratch\nCOPY not-in-the-context /x\n');
      const platform = platformFor('broken', { dockerfile: join(dir, 'Dockerfile'), under: ['docker'] }, 'layer');
      const failure = await platform.provision(context).then(
        () => undefined,
        (error: unknown) => error as VirtbenchError,
      );
      expect(failure?.code).toBe('VIRTBENCH_BUILD_FAILED');
      expect(failure?.message).toMatch(/building .*Dockerfile failed: .*not-in-the-context/s);
      expect(failure?.message).toMatch(/its output ends with:\n.*Step 1\/2 : FROM scratch/s);
      expect(failure?.message).toMatch(/\nfix: make the Dockerfile build offline/);
      const tags = (await engine!.docker.listImages()).flatMap((i) => i.RepoTags ?? []);
      expect(tags.filter((tag) => tag.startsWith('virtbench-user-broken:'))).toEqual([]);
      expect(await ourContainers(engine!)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('an image of another architecture the engine cannot run: "wrong architecture", and the fix', async (t) => {
    if (skip) t.skip(skip);
    // A docker-save archive of a linux/wasm image, made here: one layer with a file. No binfmt handler runs
    // wasm (qemu-user-static registers arm64 and a score of others, which would run such an image).
    const layer = await tarOf([{ name: 'app', data: Buffer.from('not really wasm code'), mode: 0o755 }]);
    const config = Buffer.from(
      JSON.stringify({
        architecture: 'wasm',
        os: 'linux',
        config: { Cmd: ['/app'] },
        rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer).digest('hex')}`] },
      }),
    );
    const tag = 'virtbench-test-wasm:1';
    const manifest = Buffer.from(JSON.stringify([{ Config: 'config.json', RepoTags: [tag], Layers: ['layer.tar'] }]));
    const archive = await tarOf([
      { name: 'manifest.json', data: manifest },
      { name: 'config.json', data: config },
      { name: 'layer.tar', data: layer },
    ]);
    made.push(tag);
    const loading = await engine!.docker.loadImage(archive as unknown as NodeJS.ReadableStream);
    await new Promise((resolve, reject) =>
      engine!.docker.modem.followProgress(loading, (error) => (error ? reject(error) : resolve(undefined))),
    );
    const platform = platformFor('foreign', { image: tag, under: ['docker'] }, 'layer');
    await expect(platform.provision(context)).rejects.toMatchObject({
      code: 'VIRTBENCH_PLATFORM_UNAVAILABLE',
      message: expect.stringMatching(/wrong architecture: the image virtbench-test-wasm:1 is linux\/wasm, .*linux\/amd64.*fix: /),
    });
    expect(await ourContainers(engine!)).toEqual([]);
  });
});

describe('podman: nothing of the user image left running', () => {
  test('after stop, the podman service holds no container of ours', async (t) => {
    if (gccMissing ?? unavailable.podman) t.skip((gccMissing ?? unavailable.podman)!);
    const platform = platformFor('myapp', { dockerfile: join(imageDir, 'Dockerfile'), under: ['podman'] }, 'podman');
    const provisioned = await platform.provision(context);
    const engine = await acquirePodmanEngine(context);
    try {
      await provisioned.stop();
      expect(await ourContainers(engine)).toEqual([]);
    } finally {
      await engine.release();
    }
  });
});
