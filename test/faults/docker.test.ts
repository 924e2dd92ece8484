import { rm } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { dockerClient } from '../../src/platforms/docker/docker-client.js';
import { PRIVATE_DOCKER_HOST } from '../../src/platforms/docker/private-dockerd.js';
import { PODMAN_HOST } from '../../src/platforms/docker/private-podman.js';
import { isAlive } from '../../src/host/process.js';
import { acquireEngine } from '../../src/platforms/docker/engine.js';
import { startEngineRelay } from '../engine-relay.js';
import { roundOrder } from '../../src/turnstile/round-order.js';
import * as fault from './inject.js';

/*
 * Faults on the docker platform, with the private dockerd virtbench starts itself: the benchmark
 * container killed, the dockerd stopped, the dockerd too slow to answer while a second run starts,
 * and a Ctrl-C mid-benchmark.
 */

const open = fault.faultCases();

const steps = ['--project', 'docker', 'steps'];

describe('docker (private dockerd)', () => {
  it('the benchmark container killed mid-benchmark: that benchmark fails clearly, the run cleans up', async () => {
    const c = await open();
    const run = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
    await fault.finished(c, 'docker-cpu.csv', run);
    const id = await fault.waitUntil('the benchmark container', () => fault.benchContainer(), 30_000, run);
    await fault.sleep(1_500);
    const at = Date.now();
    await dockerClient(PRIVATE_DOCKER_HOST).getContainer(id).kill();
    const outcome = await run.done;
    expect(outcome.exitCode).not.toBe(0);
    expect(fault.failure(outcome, 'hold')).toMatch(/container/i);
    // The kill is the news, not that the dead container could not be paused after it (quiet turns).
    expect(fault.failure(outcome, 'hold')).not.toMatch(/could not pause/);
    expect(fault.kept(outcome)).toMatchObject({ 'docker/cpu': 'passed:2', 'docker/hold': 'failed:0' });
    expect(outcome.csv).toEqual(['docker-cpu.csv']);
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: 'benchmark container killed mid-benchmark (docker kill)',
      outcome: `${fault.failure(outcome, 'hold').slice(0, 110)}; exit ${outcome.exitCode}`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('the kill', outcome, at, next),
    });
  });

  // SIGKILL: dockerd gets no chance to unmount what it mounted (its data root bound on itself, on this private /).
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'the private dockerd stopped mid-run (%s): the benchmark fails naming the engine, the next run starts a new one',
    async (signal) => {
      const c = await open();
      const run = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
      await fault.finished(c, 'docker-cpu.csv', run);
      await fault.waitUntil('the benchmark container', () => fault.benchContainer(), 30_000, run);
      await fault.sleep(1_500);
      const pid = fault.privateDockerdPid()!;
      expect(pid).toBeGreaterThan(0);
      const at = Date.now();
      process.kill(pid, signal);
      const outcome = await run.done;
      expect(outcome.exitCode).not.toBe(0);
      expect(fault.failure(outcome, 'hold')).not.toBe('');
      expect(fault.kept(outcome)).toMatchObject({ 'docker/cpu': 'passed:2', 'docker/hold': 'failed:0' });
      expect(outcome.csv).toEqual(['docker-cpu.csv']);
      // A killed engine cannot remove its container; only its record stays in the data root (no process,
      // mount or network), and the next start prunes it (recovers() checks that nothing is left then).
      const left = fault.leftovers(c);
      if (signal === 'SIGKILL') expect(left.filter((entry) => !/^container \w+ in the data root$/.test(entry))).toEqual([]);
      else expect(left).toEqual([]);
      const next = await fault.recovers(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
      fault.record({
        fault: `private dockerd stopped mid-run (${signal})`,
        outcome: `${fault.failure(outcome, 'hold').slice(0, 110)}; exit ${outcome.exitCode}`,
        kept: 'cpu (results.json, CSV)',
        leaked:
          signal === 'SIGKILL'
            ? "nothing running or mounted; the container's record, pruned by the next start"
            : 'nothing (containerd, shims, bridge, mounts and run directory gone)',
        recovery: `exited ${((outcome.endedAt - at) / 1000).toFixed(1)} s after the stop; next run (new dockerd) passed in ${next.seconds.toFixed(0)} s`,
      });
    },
  );

  it('a second run that starts while the private dockerd is too busy to answer joins it instead of tearing it down', async () => {
    const c = await open();
    const first = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '35' });
    await fault.finished(c, 'docker-cpu.csv', first);
    const pid = fault.privateDockerdPid()!;
    // Frozen for 25 s: longer than the second run's pings before it decides (5 s each), as on a loaded host.
    process.kill(pid, 'SIGSTOP');
    let second: Promise<fault.BenchOutcome>;
    try {
      second = fault.runBench(c, steps, { FAULT_HOLD_SECONDS: '0.1' }, `${c.reportDir}-second`);
      await fault.sleep(25_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const [a, b] = await Promise.all([first.done, second]);
    await rm(`${c.reportDir}-second`, { recursive: true, force: true });
    expect(b.exitCode, b.output.slice(-3000)).toBe(0);
    expect(b.output).toMatch(/runs but does not answer yet; waiting/);
    expect(a.exitCode, a.output.slice(-3000)).toBe(0);
    expect(isAlive(pid) || fault.privateDockerdPid() === undefined).toBe(true);
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'private dockerd frozen 25 s (SIGSTOP) while a second run starts',
      outcome: 'the second run waited for the live daemon and joined it; both runs passed',
      kept: 'both runs complete',
      leaked: 'nothing',
      recovery: `second run passed in ${b.seconds.toFixed(0)} s`,
    });
  });

  it.each([
    { platform: 'docker', engine: undefined, stopped: 'container removed, dockerd stopped' },
    { platform: 'podman', engine: PODMAN_HOST, stopped: 'container removed, podman service stopped, bridge removed' },
  ])('Ctrl-C during a benchmark on $platform: $stopped', async ({ platform, engine, stopped }) => {
    const c = await open();
    const args = ['--project', platform, 'steps'];
    const run = fault.startBench(c, args, { FAULT_HOLD_SECONDS: '600' });
    const container = fault
      .finished(c, `${platform}-cpu.csv`, run)
      .then(() => fault.waitUntil('the benchmark container', () => fault.benchContainer(platform, engine), 30_000, run));
    const { outcome, at } = await fault.interrupt(run, container, 1_500);
    expect(fault.kept(outcome)).toMatchObject({ [`${platform}/cpu`]: 'passed:2' });
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, args, { FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: `Ctrl-C during a benchmark (${platform})`,
      outcome: `${fault.exitOf(outcome)}; ${stopped}`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at, next),
    });
  });

  it('Ctrl-C while the docker container is paused (quiet turns: native holds its turn) removes it', async () => {
    const c = await open();
    // A round order in which native takes the first turn, and holds it: docker waits frozen meanwhile.
    let seed = 0;
    while (roundOrder(['docker', 'native'], seed, 0)[0] !== 'native') seed++;
    const args = ['--project', 'native', '--project', 'docker', 'steps'];
    const run = fault.startBench(c, args, { FAULT_HOLD_SECONDS: '600', VIRTBENCH_ROUND_SEED: String(seed) });
    const paused = fault.finished(c, 'docker-cpu.csv', run).then(() =>
      fault.waitUntil(
        'the docker container paused while native holds its turn',
        async () => {
          const id = await fault.benchContainer();
          const info = id
            ? await dockerClient(PRIVATE_DOCKER_HOST)
                .getContainer(id)
                .inspect()
                .catch(() => undefined)
            : undefined;
          return info?.State.Paused ? id : undefined;
        },
        60_000,
        run,
      ),
    );
    const { outcome, at } = await fault.interrupt(run, paused, 1_000);
    expect(fault.kept(outcome)).toMatchObject({ 'native/cpu': 'passed:2', 'docker/cpu': 'passed:2' });
    expect(await fault.benchContainer()).toBeUndefined();
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'Ctrl-C while the docker container is paused between its turns (native holds its turn)',
      outcome: `${fault.exitOf(outcome)}; the paused container unpaused and removed, dockerd stopped`,
      kept: 'cpu of both (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at),
    });
  });

  it('Ctrl-C during a benchmark on a Docker engine reached over tcp removes the container there', async () => {
    const c = await open();
    // The engine: this machine's private dockerd, held by the test, reached over tcp through a relay.
    const engine = await acquireEngine({ cacheDir: c.cacheDir, log: () => {} }, {});
    const relay = await startEngineRelay(engine.dockerHost, '127.0.0.1');
    let outcome: fault.BenchOutcome;
    let at: number;
    try {
      const run = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '600', DOCKER_HOST: `tcp://127.0.0.1:${relay.port}` });
      const container = fault
        .finished(c, 'docker-cpu.csv', run)
        .then(() => fault.waitUntil('the benchmark container', () => fault.benchContainer(), 30_000, run));
      ({ outcome, at } = await fault.interrupt(run, container, 1_500));
      expect(fault.kept(outcome)).toMatchObject({ 'docker/cpu': 'passed:2' });
      expect(await fault.benchContainer()).toBeUndefined();
    } finally {
      relay.stop();
      await engine.release();
    }
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'Ctrl-C during a benchmark on an engine reached over tcp (DOCKER_HOST=tcp://...)',
      outcome: `${fault.exitOf(outcome)}; the container removed on that engine`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at),
    });
  });
});
