import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { chown, mkdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import * as fault from './inject.js';

/*
 * Faults on the native platform: the workload itself hangs, the host's work directory fills up, a
 * Ctrl-C mid-benchmark, and a stranger's stale-looking directory and process beside the run.
 */

const open = fault.faultCases();

describe('native', () => {
  it('a workload that hangs is stopped at its time limit; the benchmarks before it are kept', async () => {
    const c = await open();
    const run = await fault.runBench(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '600', FAULT_HOLD_TIMEOUT_MS: '3000' });
    expect(run.exitCode).not.toBe(0);
    expect(fault.failure(run, 'hold')).toMatch(/hold failed: `.*hold-[0-9a-f]+ 600` timed out after \d+ ms/);
    expect(run.results!.results.find((r) => r.benchmark === 'hold')!.error).toMatch(/fix: .*raise the workload's timeoutMs/);
    expect(fault.kept(run)).toMatchObject({ 'native/cpu': 'passed:2', 'native/hold': 'failed:0' });
    expect(run.csv).toEqual(['native-cpu.csv']);
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: 'a workload hangs (native, limit 3 s)',
      outcome: 'VIRTBENCH_WORKLOAD_FAILED: "timed out after 3 s" and the fix; exit 1',
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: `run ended ${run.seconds.toFixed(0)} s after start; next run passed in ${next.seconds.toFixed(0)} s`,
    });
  });

  it("the host's work directory fills up: fio fails with the cause and the fix, nothing is left on the full disk", async () => {
    const c = await open();
    // A 12 MiB ext4 file system as the work root: room for the run's programs, not for the 16 MiB fio file.
    const image = `${c.workRoot}.img`;
    await execa('truncate', ['-s', '12M', image]);
    await execa('mkfs.ext4', ['-q', '-F', image]);
    await execa('mount', ['-o', 'loop', image, c.workRoot]);
    try {
      await rm(join(c.workRoot, 'lost+found'), { recursive: true });
      const run = await fault.runBench(c, ['--project', 'native', 'disk']);
      expect(run.exitCode).not.toBe(0);
      const error = run.results!.results.find((r) => r.benchmark === 'disk-random')!.error!;
      expect(error).toMatch(/No space left on device/);
      expect(error).toMatch(/fix: .*disk .* is full/);
      expect(fault.leftovers(c)).toEqual([]);
      fault.record({
        fault: "disk full in the host's work directory (native fio)",
        outcome: 'VIRTBENCH_WORKLOAD_FAILED with fio\'s "No space left on device" and the fix; exit 1',
        kept: 'the results.json with the failure',
        leaked: 'nothing (the full file system is empty again)',
        recovery: `run ended after ${run.seconds.toFixed(0)} s`,
      });
    } finally {
      await execa('umount', [c.workRoot]);
      await rm(image, { force: true });
    }
    await fault.recovers(c, ['--project', 'native', 'disk'], { FAULT_HOLD_SECONDS: '0.1' });
  });

  it("a stranger floods the run's turnstile socket and another holds a connection open: the run goes on and passes", async () => {
    const c = await open();
    const run = fault.startBench(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '5' });
    // The turnstile's abstract socket, as any local user finds it: in /proc/net/unix.
    const turnstile = () =>
      readFileSync('/proc/net/unix', 'utf8')
        .split('\n')
        .map((line) => line.trim().split(/\s+/)[7] ?? '')
        .find((path) => path.startsWith('@virtbench-turns-'));
    const name = await fault.waitUntil('the turnstile socket', turnstile, 60_000, run);
    const at = Date.now();
    const silent = connect({ path: `\0${name.slice(1)}` });
    const flood = connect({ path: `\0${name.slice(1)}` });
    let closed = 0;
    for (const stranger of [silent, flood]) {
      stranger.on('error', () => {});
      stranger.on('close', () => (closed += 1));
    }
    // 8 MiB without a newline, before any secret.
    flood.write(Buffer.alloc(8 * 1024 * 1024, 'x'));
    const outcome = await run.done;
    expect(fault.kept(outcome)).toMatchObject({ 'native/cpu': 'passed:2', 'native/hold': 'passed:2' });
    expect(closed).toBe(2);
    fault.riddenOut(c, outcome, at, {
      fault: "a stranger floods the turnstile's socket (8 MiB, no secret) and another connects and stays silent",
      outcome: 'both connections dropped (a line over 1 KiB before the secret; no secret within 5 s), each logged; exit 0',
      kept: 'every result (results.json, CSV)',
    });
  });

  it('Ctrl-C during a benchmark stops it and its workload; what was measured is kept', async () => {
    const c = await open();
    const run = fault.startBench(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '600' });
    const { outcome, at } = await fault.interrupt(run, fault.finished(c, 'native-cpu.csv', run), 1_500);
    expect(fault.kept(outcome)).toMatchObject({ 'native/cpu': 'passed:2' });
    expect(outcome.csv).toContain('native-cpu.csv');
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: 'Ctrl-C during a benchmark (native)',
      outcome: `${fault.exitOf(outcome)}, the workload stopped`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at, next),
    });
  });

  it("a stranger's stale-looking directories and a process naming them are left alone", async () => {
    const c = await open();
    // Looks stale (its owner file names a dead pid), but: a bare prefix, a longer name, another user's.
    const dead = (await execa(process.execPath, ['-e', 'console.log(process.pid)'])).stdout;
    const planted = ['virtbench-native-', 'virtbench-native-abc123-x', 'virtbench-native-nobody'].map((n) => join(c.workRoot, n));
    for (const dir of planted) {
      await mkdir(dir);
      await writeFile(join(dir, 'owner.pid'), dead);
    }
    await chown(planted[2]!, 65534, 65534);
    await utimes(planted[2]!, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const tail = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', planted[0]!, join(planted[1]!, 'x')], { stdio: 'ignore' });
    try {
      const run = await fault.runBench(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '0.1' });
      expect(run.exitCode, run.output.slice(-3000)).toBe(0);
      for (const dir of planted) expect(existsSync(dir), dir).toBe(true);
      expect(await readFile(join(planted[0]!, 'owner.pid'), 'utf8')).toBe(dead);
      expect(tail.exitCode, 'the process naming the planted directories was stopped').toBeNull();
      expect(tail.signalCode).toBeNull();
      fault.record({
        fault: 'stale-looking directories and a process that are not ours, in the work root',
        outcome: 'run passed; all three directories and the process untouched',
        kept: 'everything',
        leaked: 'nothing',
        recovery: `run took ${run.seconds.toFixed(0)} s`,
      });
    } finally {
      tail.kill('SIGKILL');
      for (const dir of planted) await rm(dir, { recursive: true, force: true });
    }
    expect(fault.leftovers(c)).toEqual([]);
  });
});
