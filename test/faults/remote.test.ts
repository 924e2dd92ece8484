import { existsSync, readdirSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import * as fault from './inject.js';

/*
 * Faults on a remote host (scripts/simulated-remote.sh: OpenSSH's sshd in a network namespace of its
 * own, the third simulated remote, 198.51.100.10): the remote vanishes mid-benchmark, and Ctrl-C while
 * a benchmark runs there. The remote's disk is this machine's, and its work directory is made in the
 * case's work root, so the inventory of leftovers covers it too.
 */

const SCRIPT = join(packageRoot, 'scripts/simulated-remote.sh');
const env = { SIMULATED_REMOTE: '2' };
const DIR = '/run/virtbench-remote2';
const skip =
  process.getuid?.() !== 0
    ? 'needs root (a network namespace and sshd)'
    : !existsSync('/usr/sbin/sshd')
      ? "needs OpenSSH's server (apt-get install openssh-server)"
      : undefined;

const simulated = (command: 'up' | 'down' | 'vanish') => execa('bash', [SCRIPT, command, DIR], { env });

beforeAll(async () => {
  if (!skip) await simulated('up');
});
afterAll(async () => {
  if (!skip) await simulated('down');
});

const newFaultCase = fault.faultCases();

/** A case whose remote lab1 makes its work directory in the case's work root. */
async function open(): Promise<{ c: fault.FaultCase; remotes: Record<string, string> }> {
  const c = await newFaultCase();
  // Beside the run's report (removed with the case); the run writes only results.json and CSV files there.
  const file = join(c.reportDir, 'remotes.json');
  await writeFile(
    file,
    JSON.stringify({
      lab1: {
        host: '198.51.100.10',
        username: 'root',
        privateKeyPath: `${DIR}/client_ed25519`,
        knownHostsPath: `${DIR}/known_hosts`,
        workRoot: c.workRoot,
      },
    }),
  );
  return { c, remotes: { VIRTBENCH_REMOTES: file } };
}

const steps = ['--project', 'lab1', 'steps'];

/** The hold workload running on the remote: its program is in the remote's work directory. */
const holdOnRemote = (c: fault.FaultCase) =>
  fault.processes().find((p) => p.argv[0]?.startsWith(`${c.workRoot}/virtbench-remote-`) && /hold-/.test(p.argv[0]));

describe.skipIf(skip)(`remote host${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('the remote vanishes mid-benchmark: the benchmark fails as a lost remote at once, the run ends naming what is left there', async () => {
    const { c, remotes } = await open();
    const run = fault.startBench(c, steps, { ...remotes, FAULT_HOLD_SECONDS: '600' });
    await fault.finished(c, 'lab1-cpu.csv', run);
    await fault.waitUntil('hold running on the remote', () => holdOnRemote(c), 60_000, run);
    const at = Date.now();
    await simulated('vanish');
    const outcome = await run.done;
    expect(outcome.exitCode).not.toBe(0);
    expect(fault.failure(outcome, 'hold')).toMatch(/lost the remote host lab1 \(root@198\.51\.100\.10:22\) while running `.*hold-/);
    expect(fault.kept(outcome)).toMatchObject({ 'lab1/cpu': 'passed:2', 'lab1/hold': 'failed:0' });
    expect(outcome.csv).toEqual(['lab1-cpu.csv']);
    // The work directory on a remote that is gone stays there: the run says which, and how to remove it.
    const [workDir] = readdirSync(c.workRoot);
    expect(outcome.output).toMatch(
      new RegExp(`could not remove ${c.workRoot}/${workDir} on 198\\.51\\.100\\.10: .*remove it there: sh -c`, 's'),
    );
    // The vanished remote's processes went with its namespace; its directory is removed here, as its owner would.
    await rm(join(c.workRoot, workDir!), { recursive: true });
    expect(fault.leftovers(c)).toEqual([]);
    await simulated('down');
    await simulated('up');
    const next = await fault.recovers(c, steps, { ...remotes, FAULT_HOLD_SECONDS: '0.1' });
    fault.record({
      fault: 'the remote host vanishes mid-benchmark (its namespace and sshd removed)',
      outcome: `${fault.failure(outcome, 'hold').slice(0, 110)}…; exit ${outcome.exitCode}; the end names the directory left there and the command that removes it`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'on this machine nothing; on the gone remote its work directory, named',
      recovery: fault.recoveryAfter('it vanished', outcome, at, next),
    });
  });

  it('Ctrl-C while a benchmark runs on the remote: the process there is stopped and its work directory removed', async () => {
    const { c, remotes } = await open();
    const run = fault.startBench(c, steps, { ...remotes, FAULT_HOLD_SECONDS: '600' });
    const holding = fault
      .finished(c, 'lab1-cpu.csv', run)
      .then(() => fault.waitUntil('hold running on the remote', () => holdOnRemote(c), 60_000, run));
    const { outcome, at } = await fault.interrupt(run, holding, 500);
    expect(fault.kept(outcome)).toMatchObject({ 'lab1/cpu': 'passed:2' });
    expect(holdOnRemote(c)).toBeUndefined();
    expect(fault.leftovers(c), outcome.output.slice(-3000)).toEqual([]);
    fault.record({
      fault: 'Ctrl-C during a benchmark on a remote host',
      outcome: `${fault.exitOf(outcome)}; the workload there killed, its work directory removed (OpenSSH's ssh from the exit handler)`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at),
    });
  });
});
