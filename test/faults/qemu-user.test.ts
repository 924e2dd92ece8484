import { describe, expect, it } from 'vitest';
import { qemuUserMissing } from '../../src/platforms/qemu-user/index.js';
import * as fault from './inject.js';

/*
 * Faults on qemu-user-arm64: the workloads run as qemu-aarch64 processes (forked ones too), which a
 * Ctrl-C must stop with the run's work directory.
 */

const open = fault.faultCases();
const skip = qemuUserMissing() ?? '';
const steps = ['--project', 'qemu-user-arm64', 'steps'];

/** The emulators of this case's run (each names its program in the case's work root). */
const emulators = (c: fault.FaultCase) =>
  fault.processes().filter((p) => p.argv[0]?.endsWith('qemu-aarch64') && p.argv.some((a) => a.startsWith(c.workRoot + '/')));

describe.skipIf(skip)(`qemu-user-arm64${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('Ctrl-C while qemu-aarch64 runs a benchmark: the emulator and the work directory are gone, what was measured is kept', async () => {
    const c = await open();
    const run = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
    await fault.finished(c, 'qemu-user-arm64-cpu.csv', run);
    // The Ctrl-C comes while the emulator runs the aarch64 hold, not between benchmarks.
    const running = await fault.waitUntil(
      'qemu-aarch64 running hold',
      () => emulators(c).find((p) => p.argv.some((a) => /\/hold-[0-9a-f]+$/.test(a))),
      60_000,
      run,
    );
    expect(running.argv.slice(0, 3)).toEqual(['qemu-aarch64', '-cpu', 'max']);
    const { outcome, at } = await fault.interrupt(run, Promise.resolve(), 500);
    expect(fault.kept(outcome)).toMatchObject({ 'qemu-user-arm64/cpu': 'passed:2' });
    expect(outcome.csv).toContain('qemu-user-arm64-cpu.csv');
    expect(emulators(c)).toEqual([]);
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: 'Ctrl-C while qemu-aarch64 runs a benchmark (qemu-user-arm64)',
      outcome: `${fault.exitOf(outcome)}, the emulator stopped`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing (no qemu-aarch64, no work directory)',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at, next),
    });
  });

  it('Ctrl-C while forksum forks under qemu-aarch64: every emulator of the process tree is gone', async () => {
    const c = await open();
    // The quick profile's fork: 126 processes a sample, a few seconds under emulation (the standard
    // profile's 1800 make hundreds of emulators at once, which a 2-core machine shares with everything else).
    const run = fault.startBench(c, ['--project', 'qemu-user-arm64', 'then'], { FAULT_HOLD_SECONDS: '0.1', FAULT_THEN: 'fork' });
    const forking = () => emulators(c).filter((p) => p.argv.some((a) => /\/forksum-[0-9a-f]+$/.test(a)));
    const tree = await fault.waitUntil(
      'forksum forking under qemu-aarch64 (3 emulators or more)',
      () => (forking().length >= 3 ? forking() : undefined),
      120_000,
      run,
    );
    const { outcome, at } = await fault.interrupt(run, Promise.resolve(), 0);
    expect(fault.kept(outcome)['qemu-user-arm64/hold']).toMatch(/^passed:/);
    expect(emulators(c)).toEqual([]);
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, ['--project', 'qemu-user-arm64', 'then'], { FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: 'Ctrl-C while forksum forks under qemu-aarch64 (qemu-user-arm64)',
      outcome: `${fault.exitOf(outcome)}; ${tree.length}+ emulators of the tree stopped`,
      kept: 'hold (results.json, CSV)',
      leaked: 'nothing (no qemu-aarch64, no work directory)',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at, next),
    });
  });
});
