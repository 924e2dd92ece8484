import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { dockerClient } from '../../src/platforms/docker/docker-client.js';
import { PRIVATE_DOCKER_HOST } from '../../src/platforms/docker/private-dockerd.js';
import { PODMAN_HOST } from '../../src/platforms/docker/private-podman.js';
import { isAlive } from '../../src/host/process.js';
import {
  benchContainer,
  failure,
  finished,
  kept,
  leftovers,
  newCase,
  privateDockerdPid,
  record,
  recovers,
  removeCase,
  runBench,
  sleep,
  startBench,
  stopRunning,
  waitUntil,
  type BenchOutcome,
  type FaultCase,
} from './inject.js';

/*
 * Faults on the docker platform, with the private dockerd virtbench starts itself: the benchmark
 * container killed, the dockerd stopped, the dockerd too slow to answer while a second run starts,
 * and a Ctrl-C mid-benchmark.
 */

const cases: FaultCase[] = [];
afterEach(async () => {
  await stopRunning();
  for (const c of cases.splice(0)) await removeCase(c);
});

async function open(): Promise<FaultCase> {
  const c = await newCase();
  cases.push(c);
  return c;
}

const steps = ['--project', 'docker', 'steps'];

describe('docker (private dockerd)', () => {
  it('the benchmark container killed mid-benchmark: that benchmark fails clearly, the run cleans up', async () => {
    const c = await open();
    const run = startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
    await finished(c, 'docker-cpu.csv', run);
    const id = await waitUntil('the benchmark container', () => benchContainer(), 30_000, run);
    await sleep(1_500);
    const at = Date.now();
    await dockerClient(PRIVATE_DOCKER_HOST).getContainer(id).kill();
    const outcome = await run.done;
    expect(outcome.exitCode).not.toBe(0);
    expect(failure(outcome, 'hold')).toMatch(/container/i);
    expect(kept(outcome)).toMatchObject({ 'docker/cpu': 'passed:2', 'docker/hold': 'failed:0' });
    expect(outcome.csv).toEqual(['docker-cpu.csv']);
    expect(leftovers(c)).toEqual([]);
    const next = await recovers(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
    record({
      fault: 'benchmark container killed mid-benchmark (docker kill)',
      outcome: `${failure(outcome, 'hold').slice(0, 110)}; exit ${outcome.exitCode}`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: `exited ${((outcome.endedAt - at) / 1000).toFixed(1)} s after the kill; next run passed in ${next.seconds.toFixed(0)} s`,
    });
  });

  // SIGKILL: dockerd gets no chance to unmount what it mounted (its data root bound on itself, on this private /).
  it.each(['SIGTERM', 'SIGKILL'] as const)(
    'the private dockerd stopped mid-run (%s): the benchmark fails naming the engine, the next run starts a new one',
    async (signal) => {
      const c = await open();
      const run = startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
      await finished(c, 'docker-cpu.csv', run);
      await waitUntil('the benchmark container', () => benchContainer(), 30_000, run);
      await sleep(1_500);
      const pid = privateDockerdPid()!;
      expect(pid).toBeGreaterThan(0);
      const at = Date.now();
      process.kill(pid, signal);
      const outcome = await run.done;
      expect(outcome.exitCode).not.toBe(0);
      expect(failure(outcome, 'hold')).not.toBe('');
      expect(kept(outcome)).toMatchObject({ 'docker/cpu': 'passed:2', 'docker/hold': 'failed:0' });
      expect(outcome.csv).toEqual(['docker-cpu.csv']);
      // A killed engine cannot remove its container; only its record stays in the data root (no process,
      // mount or network), and the next start prunes it (recovers() checks that nothing is left then).
      const left = leftovers(c);
      if (signal === 'SIGKILL') expect(left.filter((entry) => !/^container \w+ in the data root$/.test(entry))).toEqual([]);
      else expect(left).toEqual([]);
      const next = await recovers(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
      record({
        fault: `private dockerd stopped mid-run (${signal})`,
        outcome: `${failure(outcome, 'hold').slice(0, 110)}; exit ${outcome.exitCode}`,
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
    const first = startBench(c, steps, { FAULT_HOLD_SECONDS: '35' });
    await finished(c, 'docker-cpu.csv', first);
    const pid = privateDockerdPid()!;
    // Frozen for 25 s: longer than the second run's pings before it decides (5 s each), as on a loaded host.
    process.kill(pid, 'SIGSTOP');
    let second: Promise<BenchOutcome>;
    try {
      second = runBench(c, steps, { FAULT_HOLD_SECONDS: '0.1' }, `${c.reportDir}-second`);
      await sleep(25_000);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const [a, b] = await Promise.all([first.done, second]);
    await rm(`${c.reportDir}-second`, { recursive: true, force: true });
    expect(b.exitCode, b.output.slice(-3000)).toBe(0);
    expect(b.output).toMatch(/runs but does not answer yet; waiting/);
    expect(a.exitCode, a.output.slice(-3000)).toBe(0);
    expect(isAlive(pid) || privateDockerdPid() === undefined).toBe(true);
    expect(leftovers(c)).toEqual([]);
    record({
      fault: 'private dockerd frozen 25 s (SIGSTOP) while a second run starts',
      outcome: 'the second run waited for the live daemon and joined it; both runs passed',
      kept: 'both runs complete',
      leaked: 'nothing',
      recovery: `second run passed in ${b.seconds.toFixed(0)} s`,
    });
  });

  it('Ctrl-C during a benchmark removes the container and stops the private dockerd', async () => {
    const c = await open();
    const run = startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
    await finished(c, 'docker-cpu.csv', run);
    await waitUntil('the benchmark container', () => benchContainer(), 30_000, run);
    await sleep(1_500);
    const at = Date.now();
    run.child.kill('SIGINT');
    const outcome = await run.done;
    expect(outcome.exitCode === 0 && !outcome.signal).toBe(false);
    expect(kept(outcome)).toMatchObject({ 'docker/cpu': 'passed:2' });
    expect(leftovers(c)).toEqual([]);
    const next = await recovers(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
    record({
      fault: 'Ctrl-C during a benchmark (docker)',
      outcome: `exit ${outcome.exitCode}${outcome.signal ? ` (${outcome.signal})` : ''}; container removed, dockerd stopped`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: `exited ${((outcome.endedAt - at) / 1000).toFixed(1)} s after Ctrl-C; next run passed in ${next.seconds.toFixed(0)} s`,
    });
  });

  it('Ctrl-C during a benchmark on podman removes the container, stops the podman service and removes its bridge', async () => {
    const c = await open();
    const podman = ['--project', 'podman', 'steps'];
    const run = startBench(c, podman, { FAULT_HOLD_SECONDS: '600' });
    await finished(c, 'podman-cpu.csv', run);
    await waitUntil('the benchmark container', () => benchContainer('podman', PODMAN_HOST), 30_000, run);
    await sleep(1_500);
    const at = Date.now();
    run.child.kill('SIGINT');
    const outcome = await run.done;
    expect(outcome.exitCode === 0 && !outcome.signal).toBe(false);
    expect(kept(outcome)).toMatchObject({ 'podman/cpu': 'passed:2' });
    expect(leftovers(c)).toEqual([]);
    const next = await recovers(c, podman, { FAULT_HOLD_SECONDS: '0.1' });
    record({
      fault: 'Ctrl-C during a benchmark (podman)',
      outcome: `exit ${outcome.exitCode}${outcome.signal ? ` (${outcome.signal})` : ''}; container removed, podman service stopped, bridge removed`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: `exited ${((outcome.endedAt - at) / 1000).toFixed(1)} s after Ctrl-C; next run passed in ${next.seconds.toFixed(0)} s`,
    });
  });
});
