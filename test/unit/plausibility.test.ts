import { describe, expect, it } from 'vitest';
import { BadOutputError, ImplausibleFigureError } from '../../src/errors.js';
import { parseFioJson } from '../../src/workloads/figure.js';
import type { StartedPlatform } from '../../src/platforms/platform.js';
import { checkedFigure } from '../../src/runtime/runner.js';
import { commandWorkload, implausibility, workloads } from '../../src/workloads/index.js';

/*
 * Recorded figures. The zeros are what qemu-tcg-qcow2 printed in a quick run
 * on the development VM, its guest resumed from SIGSTOP after about 30 s: the
 * guest's HPET clock stood still, and the run was reported as 0 s.
 */
const recorded = {
  forkZero: 'RESULT value=0.000000 unit=s seconds=0.000000 sum=2080 spawned=126 mode=processes',
  forkThreadsZero: 'RESULT value=0.000000 unit=s seconds=0.000000 sum=2080 spawned=126 mode=threads',
  copyupZero: 'RESULT value=0.000000 unit=s seconds=0.000000 file=0 bytes=67108864 links_before=64 links_after=64 source=workdir',
  forkStandardZero: 'RESULT value=0.000000 unit=s seconds=0.000000 sum=495550 spawned=1800 mode=processes',
  forkNative: 'RESULT value=0.116000 unit=s seconds=0.116000 sum=2080 spawned=126 mode=processes',
  forkTcg: 'RESULT value=0.161000 unit=s seconds=0.161000 sum=2080 spawned=126 mode=processes',
  memQuick: 'RESULT value=0.041800 unit=s seconds=0.041800 bytes=4194304 passes=1 checksum=15632272',
  cpuNative: 'RESULT value=5281234.0 unit=kFLOPS seconds=0.051000 n=100 lda=100 solves=15 residual=0.032',
};

const parse = (name: keyof typeof workloads, line: string) => {
  const workload = workloads[name];
  if (workload.kind !== 'command') throw new Error('command workloads only');
  return workload.parse(line);
};

describe('plausibility of a figure', () => {
  it('refuses the silent zero of the TCG guests where the output is read, for every benchmark it hit', () => {
    for (const [name, line] of [
      ['fork', recorded.forkZero],
      ['fork-threads', recorded.forkThreadsZero],
      ['disk-copyup', recorded.copyupZero],
      ['fork', recorded.forkStandardZero],
    ] as const) {
      expect(() => parse(name, line), name).toThrow(BadOutputError);
      expect(() => parse(name, line), name).toThrow(/seconds=0\.000000: .*the clock it read did not advance.*\nfix: /s);
    }
  });

  it('gives every workload a floor: a value and seconds above 0, before its own bounds', () => {
    const zero = { value: 0, unit: 'kFLOPS', seconds: 2, extra: { solves: 15 } };
    for (const workload of Object.values(workloads)) {
      expect(implausibility(workload, { ...zero, unit: workload.unit }), workload.name).toMatch(/value=0 is 0/);
      expect(implausibility(workload, { ...zero, unit: workload.unit, value: 1, seconds: 0 }), workload.name).toMatch(/did not advance/);
    }
    // LINPACK times at least one solve (its sample is the time per solve); nginx's downloads move data.
    const cpu = parse('cpu', 'RESULT value=5281234.0 unit=kFLOPS seconds=0.051000 n=100 lda=100 solves=0 residual=0.032');
    expect(implausibility(workloads.cpu, cpu)).toMatch(/LINPACK timed 0 solves/);
    const nginx = { value: 0.5, unit: 's', seconds: 10, extra: { downloads: 40, parallel: 2, MBps: 0, client: 'httpget' } };
    expect(implausibility(workloads.nginx, nginx)).toMatch(/the downloads moved 0 MB\/s/);
  });

  it('accepts real figures, native and emulated', () => {
    expect(implausibility(workloads.fork, parse('fork', recorded.forkNative))).toBeUndefined();
    expect(implausibility(workloads.fork, parse('fork', recorded.forkTcg))).toBeUndefined();
    expect(implausibility(workloads.mem, parse('mem', recorded.memQuick))).toBeUndefined();
    expect(implausibility(workloads.cpu, parse('cpu', recorded.cpuNative))).toBeUndefined();
  });

  it('refuses work done faster than any machine does it, naming the work', () => {
    // A clock that moved, but far too little: 1800 processes in 100 ns.
    const fork = parse('fork', 'RESULT value=0.0000001 unit=s seconds=0.0000001 sum=495550 spawned=1800 mode=processes');
    expect(implausibility(workloads.fork, fork)).toMatch(/creating 1800 processes cannot take 1e-7 s/);
    const cpu = parse('cpu', 'RESULT value=90000000.0 unit=kFLOPS seconds=0.05 n=100 lda=100 solves=15 residual=0.032');
    expect(implausibility(workloads.cpu, cpu)).toMatch(/beyond any single core's peak/);
    const mem = parse('mem', 'RESULT value=0.000001 unit=s seconds=0.000001 bytes=33161216 passes=10 checksum=1');
    expect(implausibility(workloads.mem, mem)).toMatch(/331612160 strided memory updates/);
  });

  it("checks fio's IOPS against the writes it did", () => {
    const fio = (iops: number, ios: number) =>
      parseFioJson(
        JSON.stringify({
          'fio version': 'fio-3.33',
          jobs: [{ jobname: 'randwrite', error: 0, write: { iops, runtime: 1000, total_ios: ios, bw: 1 } }],
        }),
      );
    expect(implausibility(workloads['disk-random'], fio(3000, 3004))).toBeUndefined();
    expect(implausibility(workloads['disk-random'], fio(3000, 30))).toMatch(/did 30 writes in 1 s/);
    expect(implausibility(workloads['disk-random'], fio(5e7, 5e7))).toMatch(/beyond any device/);
  });

  it('refuses an nginx figure faster than loopback carries', () => {
    const figure = (MBps: number) => ({
      value: 0.5,
      unit: 's',
      seconds: 10,
      extra: { downloads: 40, parallel: 2, MBps, client: 'httpget' },
    });
    expect(implausibility(workloads.nginx, figure(2_150))).toBeUndefined(); // measured here: 2.2 GB/s with 2 lanes
    expect(implausibility(workloads.nginx, figure(900_000))).toMatch(/beyond what loopback TCP carries/);
  });

  it('fails the run with the evidence: the figure, the work and the output', () => {
    const platform = { name: 'qemu-tcg' } as StartedPlatform;
    const line = 'RESULT value=0.0000001 unit=s seconds=0.0000001 sum=495550 spawned=1800 mode=processes';
    let error: unknown;
    try {
      checkedFigure(platform, workloads.fork, parse('fork', line), line);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ImplausibleFigureError);
    expect((error as ImplausibleFigureError).code).toBe('VIRTBENCH_IMPLAUSIBLE_FIGURE');
    expect((error as Error).message).toMatch(/^\[qemu-tcg\] fork reported 1e-7 s, which cannot be true: .*\n.*spawned=1800.*\nfix: /s);
    expect(checkedFigure(platform, workloads.fork, parse('fork', recorded.forkTcg), recorded.forkTcg).value).toBe(0.161);
  });

  it("refuses a figure of 0 that a user's own parse made, which parseResultLine never saw", () => {
    const platform = { name: 'docker' } as StartedPlatform;
    const errors = commandWorkload({
      name: 'errors',
      title: 'errors counted',
      unit: 'errors',
      better: 'lower',
      program: { script: '/bin/true' },
      args: () => [],
      timeoutMs: () => 1_000,
      parse: (stdout) => ({ value: Number(/errors: (\S+)/.exec(stdout)?.[1]), unit: 'errors', seconds: 1, extra: {} }),
    });
    for (const [output, problem] of [
      ['errors: 0', /value=0 is 0/],
      ['errors: lots', /value=NaN is not a number/],
      ['no count at all', /value=NaN is not a number/],
    ] as const) {
      const error = (() => {
        try {
          checkedFigure(platform, errors, errors.parse(output), output);
        } catch (e) {
          return e as BadOutputError;
        }
        throw new Error(`accepted ${output}`);
      })();
      expect(error).toBeInstanceOf(BadOutputError);
      expect(error.code).toBe('VIRTBENCH_BAD_OUTPUT');
      expect(error.message).toMatch(/^\[docker\] errors: no usable figure: /);
      expect(error.message).toMatch(problem);
      expect(error.message).toMatch(/\nfix: .*belongs in an extra key=value/);
    }
  });
});
