import { describe, expect, it } from 'vitest';
import { arm64Availability } from '../../src/platforms/docker/arm64.js';
import { readBinfmtHandler } from '../../src/platforms/docker/binfmt.js';
import * as fault from './inject.js';

/*
 * Faults on docker-arm64: the container's processes are QEMU emulators the kernel starts through the
 * binfmt handler; a Ctrl-C must remove the container with every one of them.
 */

const open = fault.faultCases();
const availability = arm64Availability();
const skip = availability.available ? '' : availability.reason;
const steps = ['--project', 'docker-arm64', 'steps'];

/** The emulated processes running our aarch64 hold (argv[0]: the binfmt interpreter). */
const emulatedHolds = (interpreter: string) =>
  fault.processes().filter((p) => p.argv[0] === interpreter && p.argv.some((a) => /\/hold-[0-9a-f]+$/.test(a)));

describe.skipIf(skip)(`docker-arm64${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('Ctrl-C while the arm64 container runs a benchmark under emulation: the container and its emulators are gone', async () => {
    const c = await open();
    const interpreter = readBinfmtHandler()!.interpreter;
    const run = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
    await fault.finished(c, 'docker-arm64-cpu.csv', run);
    // The Ctrl-C comes while the emulator runs the aarch64 hold in the container, not between benchmarks.
    await fault.waitUntil('the aarch64 hold running through binfmt', () => emulatedHolds(interpreter)[0], 60_000, run);
    const { outcome, at } = await fault.interrupt(run, Promise.resolve(), 500);
    expect(fault.kept(outcome)).toMatchObject({ 'docker-arm64/cpu': 'passed:2' });
    expect(outcome.csv).toContain('docker-arm64-cpu.csv');
    expect(await fault.benchContainer('docker-arm64')).toBeUndefined();
    expect(emulatedHolds(interpreter)).toEqual([]);
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'Ctrl-C while the arm64 container runs a benchmark under binfmt emulation (docker-arm64)',
      outcome: `${fault.exitOf(outcome)}; the container and its emulated processes gone, dockerd stopped`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at),
    });
  });
});
