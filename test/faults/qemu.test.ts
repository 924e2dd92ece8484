import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GUEST_SERVICE_PORT } from '../../src/platforms/qemu/qemu-argv.js';
import { removeStaleTapNetworks } from '../../src/platforms/qemu/tap.js';
import { tcgAvailability } from './availability.js';
import * as fault from './inject.js';

/*
 * Faults on a qemu-tcg guest, reached over ssh: QEMU killed, the harness's ssh connection dropped
 * inside the guest, the guest's disk full, the service port taken in the guest, and a Ctrl-C while
 * the guest boots. The injector logs into the guest as the harness does (the cached client key, the
 * pinned host key).
 */

const skip = tcgAvailability();
const open = fault.faultCases();

const steps = ['--project', 'qemu-tcg', 'steps'];

/** The environment of the run after a fault. */
const afterFault = { FAULT_HOLD_SECONDS: '0.1', FAULT_THEN: 'none' };

/** Runs a shell command in the running guest over an ssh connection of the injector's own. */
async function inGuest(c: fault.FaultCase, command: string): Promise<string> {
  const ssh = await fault.sshIntoGuest(c);
  try {
    const result = await ssh.run(command, { timeoutMs: 120_000 });
    return `${result.exitCode}: ${result.stdout}${result.stderr}`;
  } finally {
    ssh.close();
  }
}

describe.skipIf(skip)(`qemu-tcg${skip ? ` (skipped: ${skip})` : ''}`, () => {
  /** Kills the guest or its connection while hold runs: returns when, for the recovery column. */
  const killQemu = async (c: fault.FaultCase) => {
    const at = Date.now();
    process.kill(fault.guestQemu(c)!.pid, 'SIGKILL');
    return at;
  };
  const dropConnection = async (c: fault.FaultCase) => {
    // Every dropbear process but those this shell descends from (the listener, our own session): the
    // harness's connection, killed from inside. The kill runs detached a moment after this command
    // returns: the harness tears the guest down as soon as its connection drops, and an injector
    // still waiting for its own output would lose the guest too (it did, once in CI).
    const scheduled = await inGuest(
      c,
      'mine=" "; p=$$; while [ "$p" -gt 1 ]; do mine="$mine$p "; p=$(awk \'{print $4}\' /proc/$p/stat); done; ' +
        'victims=""; for d in $(pidof dropbear); do case "$mine" in *" $d "*) ;; *) victims="$victims $d" ;; esac; done; ' +
        '[ -n "$victims" ] || { echo "no harness session"; exit 1; }; ' +
        '(sleep 0.5; kill -9 $victims) </dev/null >/dev/null 2>&1 & echo scheduled',
    );
    expect(scheduled).toMatch(/^0: scheduled/);
    return Date.now() + 500;
  };

  it.each([
    {
      what: 'QEMU killed (SIGKILL) mid-benchmark: the benchmark fails as a lost guest, the run cleans up',
      inject: killQemu,
      named: /lost the guest/,
      row: 'guest killed (SIGKILL to QEMU) mid-benchmark',
      after: 'the kill',
    },
    {
      what: "the harness's ssh connection dropped inside the guest: the benchmark fails naming the lost connection",
      inject: dropConnection,
      named: /lost the guest|ssh connection/,
      row: "the harness's ssh connection dropped (its dropbear session killed in the guest)",
      after: 'the drop',
    },
  ])('$what', async ({ inject, named, row, after }) => {
    const c = await open();
    const run = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '600' });
    await fault.finished(c, 'qemu-tcg-cpu.csv', run);
    await fault.sleep(2_000);
    const at = await inject(c);
    const outcome = await run.done;
    expect(outcome.exitCode).not.toBe(0);
    expect(fault.failure(outcome, 'hold')).toMatch(named);
    expect(fault.kept(outcome)).toMatchObject({ 'qemu-tcg/cpu': 'passed:2', 'qemu-tcg/hold': 'failed:0' });
    expect(outcome.csv).toEqual(['qemu-tcg-cpu.csv']);
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, steps, afterFault);
    fault.record({
      fault: row,
      outcome: `${fault.failure(outcome, 'hold').slice(0, 120)}; exit ${outcome.exitCode}`,
      kept: 'cpu (results.json, CSV)',
      leaked: 'nothing',
      recovery: fault.recoveryAfter(after, outcome, at, next),
    });
  });

  it("another run's tap sweep (another work root) leaves this run's guest network alone: nginx over the tap runs", async () => {
    const c = await open();
    const run = fault.startBench(c, ['--project', 'qemu-tcg-tap', 'then'], { FAULT_HOLD_SECONDS: '15', FAULT_THEN: 'nginx' });
    // The guest's private namespace is named after its work directory, in this case's work root.
    const mine = () =>
      existsSync('/run/netns')
        ? readdirSync('/run/netns').find((n) => n.startsWith('virtbench-qemu-') && existsSync(join(c.workRoot, n)))
        : undefined;
    const namespace = await fault.waitUntil("the guest's tap namespace", mine, 180_000, run);
    const at = Date.now();
    // What a second run, with a work root of its own, does as its own tap guest boots.
    removeStaleTapNetworks();
    expect(existsSync(`/run/netns/${namespace}`)).toBe(true);
    const outcome = await run.done;
    expect(fault.kept(outcome)).toMatchObject({ 'qemu-tcg-tap/hold': 'passed:2', 'qemu-tcg-tap/nginx': 'passed:2' });
    fault.riddenOut(c, outcome, at, {
      fault: "a second run's tap sweep, with another work root, while a tap guest runs",
      outcome: "the guest's namespace and tap kept (only networks whose recorded maker is gone are removed); nginx over the tap passed",
      kept: 'hold and nginx (results.json, CSV)',
    });
  });

  it("the guest's disk full: fio fails with the cause and the fix", async () => {
    const c = await open();
    const run = fault.startBench(c, ['--project', 'qemu-tcg', 'then'], { FAULT_HOLD_SECONDS: '15', FAULT_THEN: 'disk-random' });
    await fault.waitUntil('the guest', () => fault.guestQemu(c), 120_000, run);
    // While hold runs: fill the benchmark disk, on which the guest's work directory lies.
    await fault.waitUntil('a login into the guest', () => inGuest(c, 'true').catch(() => undefined), 120_000, run);
    // All but 1 MiB of it, where fio's file needs 16 MiB.
    const filled = await inGuest(
      c,
      "free=$(df -k /mnt/bench | awk 'NR==2 {print $4}'); fallocate -l $(( (free - 1024) * 1024 )) /mnt/bench/fill && df -k /mnt/bench | awk 'NR==2 {print \"free\", $4}'",
    );
    expect(Number(/free (\d+)/.exec(filled)?.[1]), filled).toBeLessThan(4096);
    const outcome = await run.done;
    expect(outcome.exitCode).not.toBe(0);
    const error = outcome.results!.results.find((r) => r.benchmark === 'disk-random')!.error!;
    expect(error).toMatch(/No space left on device/);
    expect(error).toMatch(/fix: .*is full/);
    expect(fault.kept(outcome)).toMatchObject({ 'qemu-tcg/hold': 'passed:2', 'qemu-tcg/disk-random': 'failed:0' });
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, steps, afterFault);
    fault.record({
      fault: 'disk full in the guest (its benchmark disk filled from outside before fio, with fallocate)',
      outcome: 'VIRTBENCH_WORKLOAD_FAILED with fio\'s "No space left on device" and the fix; exit 1',
      kept: 'hold (results.json, CSV)',
      leaked: 'nothing (the guest and its disks are gone)',
      recovery: `run ended after ${outcome.seconds.toFixed(0)} s; next run passed in ${next.seconds.toFixed(0)} s`,
    });
  });

  it('the service port taken in the guest: nginx fails naming the port and the fix', async () => {
    const c = await open();
    const run = fault.startBench(c, ['--project', 'qemu-tcg', 'then'], { FAULT_HOLD_SECONDS: '15', FAULT_THEN: 'nginx' });
    await fault.waitUntil('the guest', () => fault.guestQemu(c), 120_000, run);
    await fault.waitUntil('a login into the guest', () => inGuest(c, 'true').catch(() => undefined), 120_000, run);
    // busybox nc as a persistent server on the port (-ll), detached from the injector's session.
    const listening = `:${GUEST_SERVICE_PORT.toString(16).toUpperCase()} [0-9A-F]+:0000 0A`;
    const taken = await inGuest(
      c,
      `setsid busybox nc -ll -p ${GUEST_SERVICE_PORT} -e /bin/true </dev/null >/dev/null 2>&1 & sleep 1; cat /proc/net/tcp /proc/net/tcp6 | grep -cE '${listening}'`,
    );
    expect(taken, 'nothing listens on the port').toMatch(/^0: 1/);
    const outcome = await run.done;
    expect(outcome.exitCode).not.toBe(0);
    const error = outcome.results!.results.find((r) => r.benchmark === 'nginx')!.error!;
    expect(error).toMatch(new RegExp(`port .*${GUEST_SERVICE_PORT}.* is taken`));
    expect(error).toMatch(/fix: /);
    expect(fault.kept(outcome)).toMatchObject({ 'qemu-tcg/hold': 'passed:2', 'qemu-tcg/nginx': 'failed:0' });
    expect(fault.leftovers(c)).toEqual([]);
    const next = await fault.recovers(c, steps, afterFault);
    fault.record({
      fault: `service port ${GUEST_SERVICE_PORT} taken in the guest before nginx starts`,
      outcome: `${error.split('\n')[0]!.slice(0, 120)}; exit ${outcome.exitCode}`,
      kept: 'hold (results.json, CSV)',
      leaked: 'nothing',
      recovery: `run ended after ${outcome.seconds.toFixed(0)} s; next run passed in ${next.seconds.toFixed(0)} s`,
    });
  });

  // On qemu-tcg-tap the tap device is in the host's namespace until the guest is up: the exit handler removes it.
  it.each(['qemu-tcg', 'qemu-tcg-tap'])(
    'Ctrl-C while the guest boots (%s) stops QEMU and removes its directory and network',
    async (platform) => {
      const c = await open();
      const args = ['--project', platform, 'steps'];
      const run = fault.startBench(c, args, { FAULT_HOLD_SECONDS: '0.1' });
      const booting = fault
        .waitUntil('QEMU booting the guest', () => fault.guestQemu(c), 120_000, run)
        .then(async () => {
          await fault.sleep(2_000);
          // The case is worth its name only while the tap is there to leak.
          if (platform.endsWith('-tap')) expect(fault.leftovers(c).filter((l) => l.startsWith('network link vbt'))).toHaveLength(1);
        });
      const { outcome, at } = await fault.interrupt(run, booting, 0);
      expect(fault.leftovers(c), outcome.output.slice(-3000)).toEqual([]);
      const next = await fault.recovers(c, args, afterFault);
      fault.record({
        fault: `Ctrl-C while the guest boots (${platform})`,
        outcome: `${fault.exitOf(outcome)}; QEMU stopped${platform.endsWith('-tap') ? ', tap device removed' : ''}`,
        kept: 'nothing had been measured',
        leaked: 'nothing',
        recovery: fault.recoveryAfter('Ctrl-C', outcome, at, next),
      });
    },
  );
});
