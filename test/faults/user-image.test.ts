import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import { acquireEngine, type Engine } from '../../src/platforms/docker/engine.js';
import { PLATFORM_LABEL } from '../../src/platforms/docker/labels.js';
import * as fault from './inject.js';

/*
 * The user's own container image (containerImages, here through VIRTBENCH_CONTAINER_IMAGES) under the
 * private dockerd: an image FROM scratch, without a shell, runs the fault fixture's benchmarks; a Ctrl-C
 * while virtbench builds the image, or while its container starts, leaves no container and no image
 * tagged by us. The images hold fixtures/faults/hold.c, built static here.
 */

const open = fault.faultCases();
let dir = '';

/** A build context with hold (static) and a Dockerfile FROM scratch; `slow`: a RUN step that holds 600 s. */
async function imagesFile(name: string, slow: boolean): Promise<Record<string, string>> {
  const context = join(dir, name);
  await execa('mkdir', ['-p', context]);
  await execa('gcc', ['-O2', '-static', '-o', join(context, 'hold'), join(packageRoot, 'fixtures', 'faults', 'hold.c')]);
  await writeFile(join(context, 'Dockerfile'), `FROM scratch\nCOPY hold /hold\n${slow ? 'RUN ["/hold", "600"]\n' : ''}`);
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify({ [name]: { dockerfile: join(context, 'Dockerfile'), under: ['docker'] } }));
  return { VIRTBENCH_CONTAINER_IMAGES: file };
}

/**
 * Containers of ours for a user image on the engine, and with `tags`, images tagged by us for it: none may
 * be left (a finished build's image is kept for the next run, as virtbench's own image is).
 */
async function traces(engine: Engine, name: string, tags: boolean): Promise<string[]> {
  const containers = await engine.docker.listContainers({ all: true, filters: { label: [`${PLATFORM_LABEL}=${name}-docker`] } });
  // The build's intermediate containers have no labels of ours: any container from a RUN of hold.
  const building = (await engine.docker.listContainers({ all: true })).filter((c) => c.Command.includes('/hold 600'));
  const tagged = tags
    ? (await engine.docker.listImages()).flatMap((i) => i.RepoTags ?? []).filter((t) => t.startsWith(`virtbench-user-${name}:`))
    : [];
  return [
    ...containers.map((c) => `container ${c.Id.slice(0, 12)}`),
    ...building.map((c) => `build container ${c.Id.slice(0, 12)}`),
    ...tagged.map((t) => `image ${t}`),
  ];
}

describe('a user image (docker, private dockerd)', () => {
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtbench-fault-user-image-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('an image without a shell (FROM scratch) runs its benchmarks, and leaves nothing', async () => {
    const c = await open();
    const env = await imagesFile('bare', false);
    const outcome = await fault.runBench(c, ['--project', 'bare-docker', 'steps'], { ...env, FAULT_HOLD_SECONDS: '0.1' });
    expect(outcome.exitCode, outcome.output.slice(-3000)).toBe(0);
    expect(fault.kept(outcome)).toMatchObject({ 'bare-docker/cpu': 'passed:2', 'bare-docker/hold': 'passed:2' });
    expect(outcome.results?.environment.platforms['bare-docker']).toMatchObject({ imageOs: 'unknown (no /etc/os-release)' });
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'a user image without a shell (FROM scratch: no sh, sleep or timeout)',
      outcome: 'cpu and hold ran in it (our idle program and timeout put in before start); exit 0',
      kept: 'both benchmarks (results.json, CSV)',
      leaked: 'nothing',
      recovery: `passed in ${outcome.seconds.toFixed(0)} s`,
    });
  });

  it.each([
    { when: "while virtbench builds the user's image", name: 'slowbuild', slow: true },
    { when: "as the user image's container starts", name: 'starting', slow: false },
  ])('Ctrl-C $when: no container, no image tagged by us', async ({ when, name, slow }) => {
    const c = await open();
    const env = await imagesFile(name, slow);
    // A share of the engine of our own keeps the private dockerd running after the run, so we can look.
    const engine = await acquireEngine({ cacheDir: c.cacheDir, log: () => {} }, {});
    let outcome: fault.BenchOutcome;
    let at: number;
    let left: string[];
    try {
      const run = fault.startBench(c, ['--project', `${name}-docker`, 'steps'], { ...env, FAULT_HOLD_SECONDS: '0.1' });
      const ready = slow
        ? fault.waitUntil(
            'the RUN step of the build',
            async () => (await traces(engine, name, false)).some((t) => t.startsWith('build')),
            120_000,
            run,
          )
        : fault.waitUntil(
            "the user image's container",
            async () =>
              (await engine.docker.listContainers({ all: true, filters: { label: [`${PLATFORM_LABEL}=${name}-docker`] } })).length > 0,
            120_000,
            run,
          );
      ({ outcome, at } = await fault.interrupt(run, ready, slow ? 1_000 : 0));
      // The engine ends a build whose client went away a moment later.
      await fault
        .waitUntil('no trace of the image left in the engine', async () => (await traces(engine, name, slow)).length === 0, 30_000)
        .catch(() => {});
      left = await traces(engine, name, slow);
    } finally {
      await engine.release();
    }
    expect(left).toEqual([]);
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: `Ctrl-C ${when}`,
      outcome: `${fault.exitOf(outcome)}; ${slow ? 'the build cancelled, its RUN container removed' : 'the container removed'}, dockerd stopped`,
      kept: 'nothing measured yet',
      leaked: slow
        ? 'nothing (no container, no image tagged virtbench-user-*)'
        : 'nothing (no container; the image, built before, kept for the next run as virtbench-user-*)',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at),
    });
  });
});
