import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { cacheDir } from '../../src/host/paths.js';
import { readBinfmtHandler } from '../../src/platforms/docker/binfmt.js';
import { IDLE_PATH } from '../../src/platforms/docker/container-files.js';
import { acquireEngine, type Engine } from '../../src/platforms/docker/engine.js';
import { FACT_FIELDS } from '../../src/platforms/docker/facts.js';
import { createDockerPlatform } from '../../src/platforms/docker/index.js';
import { factsCodec, type Provisioned, type StartedPlatform } from '../../src/platforms/platform.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { readElfFacts, workloadSource } from '../../src/workloads/build.js';
import { workloads } from '../../src/workloads/index.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { expectOwnChecks, processesMentioning } from './helpers.js';

/*
 * docker-arm64 for real: virtbench's arm64 image (imported offline), one container for the whole file
 * under the engine, its processes run by qemu-aarch64-static through the kernel's binfmt handler.
 * Skipped with the reason where the machine has no engine or no such handler.
 */

const context = { cacheDir: cacheDir(), log: (line: string) => console.log(`[docker-arm64 test] ${line}`) };
const platform = createDockerPlatform('arm64');
const availability = await platform.availability();

describe(`docker-arm64: an arm64 container through binfmt${availability.available ? '' : ` (skipped: ${availability.reason})`}`, () => {
  // Our own share of the engine, so that a private dockerd outlives the platform's stop() and can be asked.
  let engine: Engine | undefined;
  const session: { provisioned?: Provisioned; started?: StartedPlatform; skip?: string } = {
    skip: availability.available ? undefined : availability.reason,
  };
  beforeAll(async () => {
    if (session.skip) return;
    try {
      engine = await acquireEngine(context);
      session.provisioned = await platform.provision(context);
    } catch (error) {
      // The engine could not be had here (not our code): skipped with its reason.
      if (!(error instanceof VirtbenchError && error.code === 'VIRTBENCH_MISSING_TOOL')) throw error;
      session.skip = error.message.split('\n')[0];
      return;
    }
    session.started = await platform.connect(session.provisioned.facts);
  }, 900_000);
  afterAll(async () => {
    await session.started?.close();
    await session.provisioned?.stop();
    await engine?.release();
  });
  const ready = (t: TestContext) => {
    if (session.skip) t.skip(session.skip);
    return session.started!;
  };

  test('cpu, mem, fork and fork-threads run in the arm64 container, their own checks holding under emulation', async (t) => {
    const started = ready(t);
    for (const name of ['cpu', 'mem', 'fork', 'fork-threads'] as const) {
      const prepared = await prepareWorkload(started, workloads[name], PROFILES.quick, { cacheDir: context.cacheDir });
      try {
        expectOwnChecks(name, await prepared.runOnce());
      } finally {
        await prepared.dispose();
      }
    }
    // What ran is the aarch64 build, and the image has no shell: only our programs are in it.
    const built = await started.buildProgram!(workloadSource('fork/forksum'), context.cacheDir);
    expect(await readElfFacts(built.path)).toEqual({ machine: 183, arch: 'aarch64', static: true });
    expect((await started.exec(['sh', '-c', 'true'])).exitCode).toBe(127);
    // Time limits hold without coreutils: our idle program, itself emulated, limits one that never ends (itself).
    expect(await started.exec([IDLE_PATH], { timeoutMs: 300 })).toMatchObject({ exitCode: 124, timedOut: true });
  });

  test('fio, nginx and the baked-in copy-up file are n/a with the reason', async (t) => {
    const started = ready(t);
    expect(started.unsupported?.(workloads['disk-random'])).toMatch(/not `fio`/);
    expect(started.unsupported?.(workloads.nginx)).toMatch(/not `nginx`/);
    expect(started.unsupported?.(workloads['disk-copyup'])).toMatch(/lacks the files disk-copyup times/);
    expect(started.unsupported?.(workloads.cpu)).toBeUndefined();
  });

  test("records the image's architecture, the binfmt handler and QEMU's version", async (t) => {
    const info = await ready(t).describe();
    expect(info).toMatchObject({
      image: expect.stringMatching(/^virtbench-arm64:[0-9a-f]{12}$/),
      imageArchitecture: 'linux/arm64',
      binfmtInterpreter: readBinfmtHandler()!.interpreter,
      binfmtFlags: expect.stringContaining('F'),
      qemu: expect.stringMatching(/^\d+\.\d+/),
      emulation: expect.stringMatching(/binfmt/),
    });
  });

  test('stop() leaves nothing running: the container is gone', async (t) => {
    ready(t);
    const facts = factsCodec('docker-arm64', FACT_FIELDS).decode(session.provisioned!.facts);
    const docker = engine!.docker;
    expect(facts.dockerHost).toBe(engine!.dockerHost);
    expect((await docker.getContainer(facts.containerId).inspect()).State.Running).toBe(true);
    await session.started!.close();
    await session.provisioned!.stop();
    await expect(docker.getContainer(facts.containerId).inspect()).rejects.toMatchObject({ statusCode: 404 });
    // Its shim and emulated processes too.
    expect(await processesMentioning(facts.containerId)).toEqual([]);
  });
});
