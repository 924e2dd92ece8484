import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { dirname } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BadOutputError, ImplausibleFigureError, VirtbenchError, WorkloadFailedError } from '../../src/errors.js';
import type { ServiceAddress } from '../../src/platforms/platform.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { commandWorkload, workloads, type CommandWorkload, type ServedWorkload } from '../../src/workloads/index.js';
import { answer, fail, hang, loseConnection, MockPlatform } from '../mock-platform.js';

/*
 * The runner driven through a mock platform: what it asks the platform to run, how it reads the
 * answer, and what it makes of a failure, a hang and a lost connection. Nothing runs or compiles.
 */

const profile = PROFILES.quick;
const options = { cacheDir: '/nonexistent/virtbench-cache' };

/** A timed program of ours, as a user's bench file describes it. */
const timed = (overrides: Partial<CommandWorkload> = {}): CommandWorkload =>
  commandWorkload({
    name: 'spin',
    title: 'spin',
    unit: 's',
    better: 'lower',
    program: { source: '/src/spin.c' },
    args: (p, workDir) => [String(p.fork.end), `${workDir}/scratch`],
    timeoutMs: () => 5_000,
    ...overrides,
  });

const TOOL_PROBE = ['sh', '-c', 'command -v "$1"', 'sh'];

describe('runner: a command workload', () => {
  it("builds the program the platform's way, copies it in executable, and runs it with the workload's args", async () => {
    const platform = new MockPlatform({ script: [answer({ stdout: 'RESULT value=0.5 unit=s seconds=0.5' })] });
    const run = await prepareWorkload(platform, timed(), profile, options);
    expect(platform.builds).toEqual(['/src/spin.c']);
    expect(platform.copies.map(({ hostPath, name, executable }) => ({ hostPath, name, executable }))).toEqual([
      { hostPath: '/src/spin.c', name: 'spin-mock', executable: true },
    ]);
    expect(platform.calls).toEqual([]);
    await run.runOnce();
    expect(platform.calls).toEqual([{ argv: ['/mock/work/spin-mock', '64', '/mock/work/scratch'], options: { timeoutMs: 5_000 } }]);
  });

  it("runs a built-in workload's argv as its description builds it (cpu: LINPACK's size from the profile)", async () => {
    const platform = new MockPlatform({
      script: [answer({ stdout: 'RESULT value=5281234.0 unit=kFLOPS seconds=0.051 n=100 lda=100 solves=15 residual=0.032' })],
    });
    const run = await prepareWorkload(platform, workloads.cpu, profile, options);
    await run.runOnce();
    expect(platform.argvs).toEqual([['/mock/work/linpack-mock', '100', '100', '0.05']]);
    expect(platform.calls[0]!.options).toEqual({ timeoutMs: 120_000 + 0.05 * 60_000 });
  });

  it('looks a tool up with `command -v` once, then runs it by name with the work directory in its args', async () => {
    const platform = new MockPlatform({ script: [answer({ stdout: '/usr/bin/fio\n' })] });
    const run = await prepareWorkload(platform, workloads['disk-random'], profile, options);
    expect(platform.argvs).toEqual([[...TOOL_PROBE, 'fio']]);
    expect(platform.copies).toEqual([]);
    platform.script(answer({ stdout: 'not json' }));
    await expect(run.runOnce()).rejects.toMatchObject({ code: 'VIRTBENCH_BAD_OUTPUT', platform: 'mock' });
    const [program, ...args] = platform.argvs[1]!;
    expect(program).toBe('fio');
    expect(args).toContain('--filename=/mock/work/fio-randwrite.dat');
    expect(args).toContain(`--size=${profile.disk.fileMiB}M`);
  });

  it('a missing tool fails at prepare with its install fix, and nothing runs', async () => {
    const platform = new MockPlatform({ script: [answer({ exitCode: 127 })] });
    const failure = prepareWorkload(platform, workloads['disk-random'], profile, options);
    await expect(failure).rejects.toMatchObject({ code: 'VIRTBENCH_MISSING_TOOL', platform: 'mock' });
    await expect(failure).rejects.toThrow(/disk-random needs `fio`, .*not found on the PATH.*fix: apt-get install fio/);
    expect(platform.calls).toHaveLength(1);
  });

  it('copies a script in executable and runs it by its path there', async () => {
    const platform = new MockPlatform({ script: [answer({ stdout: 'RESULT value=2 unit=s seconds=2' })] });
    const script = new URL(import.meta.url).pathname; // any file the mock can read
    const run = await prepareWorkload(platform, timed({ program: { script } }), profile, options);
    await run.runOnce();
    expect(platform.builds).toEqual([]);
    expect(platform.copies.map((c) => [c.name, c.executable])).toEqual([['runner.test.ts', true]]);
    expect(platform.argvs).toEqual([['/mock/work/runner.test.ts', '64', '/mock/work/scratch']]);
  });

  it('parses the last RESULT line into the figure, every run anew, with the same argv', async () => {
    const platform = new MockPlatform({
      script: [
        answer({ stdout: 'warming up\nRESULT value=9 unit=s seconds=9\nRESULT value=0.25 unit=s seconds=0.25 sum=2080 mode=threads\n' }),
        answer({ stdout: 'RESULT value=0.3 unit=s seconds=0.31' }),
      ],
    });
    const run = await prepareWorkload(platform, timed(), profile, options);
    expect(await run.runOnce()).toEqual({ value: 0.25, unit: 's', seconds: 0.25, extra: { sum: 2080, mode: 'threads' } });
    expect(await run.runOnce()).toEqual({ value: 0.3, unit: 's', seconds: 0.31, extra: {} });
    expect(platform.argvs[0]).toEqual(platform.argvs[1]);
    expect(platform.remaining).toBe(0);
  });

  it('a non-zero exit is the workload failure: the command, the exit code and the tail of stderr, on the platform', async () => {
    const stderr = Array.from({ length: 20 }, (_, i) => `diagnostic line ${i + 1}`).join('\n');
    const platform = new MockPlatform({ script: [answer({ exitCode: 3, stderr, stdout: 'RESULT value=1 unit=s seconds=1' })] });
    const run = await prepareWorkload(platform, timed(), profile, options);
    const error = await run.runOnce().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadFailedError);
    const failed = error as WorkloadFailedError;
    expect(failed.code).toBe('VIRTBENCH_WORKLOAD_FAILED');
    expect(failed.platform).toBe('mock');
    expect(failed.message).toMatch(
      /^\[mock\] spin failed: `\/mock\/work\/spin-mock 64 \/mock\/work\/scratch` exited with code 3\nstderr:\n/,
    );
    expect(failed.message).toContain('diagnostic line 20');
    expect(failed.message).toContain('diagnostic line 6\n');
    expect(failed.message).not.toContain('diagnostic line 5\n');
    expect(failed.result?.exitCode).toBe(3);
  });

  it('a failure that names a full disk carries the fix for it', async () => {
    const platform = new MockPlatform({ script: [answer({ exitCode: 1, stderr: 'write: No space left on device' })] });
    const run = await prepareWorkload(platform, timed(), profile, options);
    await expect(run.runOnce()).rejects.toThrow(/No space left on device\n.*fix: the disk spin writes to is full/s);
  });

  it('output without a RESULT line is the bad-output error with what was printed, on the platform', async () => {
    const platform = new MockPlatform({ script: [answer({ stdout: 'Segmentation fault?\n\u0000\u0007garbage' })] });
    const run = await prepareWorkload(platform, timed(), profile, options);
    const error = await run.runOnce().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VirtbenchError);
    expect(error).toMatchObject({ code: 'VIRTBENCH_BAD_OUTPUT', platform: 'mock' });
    expect((error as Error).message).toMatch(/^\[mock\] spin: no "RESULT \.\.\." line in the output\noutput was:\nSegmentation fault\?/);
  });

  it('a RESULT line whose figure is no measurement is the bad-output error with the fix', async () => {
    const platform = new MockPlatform({
      script: [answer({ stdout: 'RESULT value=0 unit=s seconds=1' }), answer({ stdout: 'RESULT value=1 unit=s seconds=zero' })],
    });
    const run = await prepareWorkload(platform, timed(), profile, options);
    await expect(run.runOnce()).rejects.toThrow(
      /^\[mock\] spin: RESULT line has no valid value: value=0 is 0.*\nfix: print the figure as a finite number above 0/s,
    );
    await expect(run.runOnce()).rejects.toThrow(/seconds=zero is not a number.*\nfix: print as seconds= the time/s);
  });

  it("a figure a workload's own parse made is checked too: no measurement, and one that cannot be true", async () => {
    const figure = { value: 0, unit: 's', seconds: 1, extra: {} };
    const platform = new MockPlatform({ script: [answer({ stdout: 'mine' }), answer({ stdout: 'mine' })] });
    let parsed = figure;
    const workload = timed({ parse: () => parsed, implausible: (f) => (f.value < 0.01 ? 'faster than light' : undefined) });
    const run = await prepareWorkload(platform, workload, profile, options);
    await expect(run.runOnce()).rejects.toThrow(BadOutputError);
    parsed = { ...figure, value: 0.001 };
    await expect(run.runOnce()).rejects.toThrow(ImplausibleFigureError);
  });

  it("a hang is stopped at the workload's time limit: the timeout failure with the fix", async () => {
    const platform = new MockPlatform({ script: [hang()] });
    const run = await prepareWorkload(platform, timed({ timeoutMs: () => 50 }), profile, options);
    const error = await run.runOnce().catch((e: unknown) => e);
    expect(platform.calls[0]!.options).toEqual({ timeoutMs: 50 });
    expect(error).toBeInstanceOf(WorkloadFailedError);
    expect((error as Error).message).toMatch(/spin failed: `.*spin-mock 64 .*` timed out after \d+ ms/);
    expect((error as Error).message).toMatch(/\nfix: spin was stopped at its time limit.*raise the workload's timeoutMs/);
    expect(platform.pending).toBe(0);
  });

  it("a lost connection fails the run with the platform's own error, not as the workload's failure or output", async () => {
    const platform = new MockPlatform({ script: [answer({ stdout: 'RESULT value=1 unit=s seconds=1' }), loseConnection()] });
    const run = await prepareWorkload(platform, timed(), profile, options);
    await run.runOnce();
    const error = await run.runOnce().catch((e: unknown) => e);
    expect(error).not.toBeInstanceOf(WorkloadFailedError);
    expect(error).toMatchObject({ code: 'VIRTBENCH_GUEST_LOST', platform: 'mock' });
    expect((error as Error).message).toMatch(/lost the mock platform while running `\/mock\/work\/spin-mock 64/);
    // Nothing behind the runner's back: the next run asks again, and finds the connection still gone.
    await expect(run.runOnce()).rejects.toMatchObject({ code: 'VIRTBENCH_GUEST_LOST' });
    expect(platform.calls).toHaveLength(3);
  });

  it('a hang ended by the platform (aborted, closed) rejects the run with that reason', async () => {
    const platform = new MockPlatform({ script: [hang(), hang()] });
    const run = await prepareWorkload(platform, timed({ timeoutMs: () => 60_000 }), profile, options);
    const first = run.runOnce();
    expect(platform.pending).toBe(1);
    const reason = new Error('interrupted');
    platform.abort(reason);
    await expect(first).rejects.toBe(reason);
    const second = run.runOnce();
    await platform.close();
    await expect(second).rejects.toThrow(/^mock platform mock: closed$/);
    expect(platform.pending).toBe(0);
  });

  it('an exec the platform cannot start fails the run with its error', async () => {
    const cannot = new Error('spawn E2BIG');
    const platform = new MockPlatform({ script: [fail(cannot)] });
    const run = await prepareWorkload(platform, timed(), profile, options);
    await expect(run.runOnce()).rejects.toBe(cannot);
  });
});

describe('runner: a served workload', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise((resolve) => (server ? server.close(resolve) : resolve(undefined)));
    server = undefined;
  });

  /** A real listener on loopback, where the runner waits for the service to accept. */
  async function listening(): Promise<ServiceAddress> {
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return { listen: `127.0.0.1:${port}`, host: '127.0.0.1', port };
  }

  const served = (overrides: Partial<ServedWorkload> = {}): ServedWorkload => ({
    kind: 'served',
    name: 'echo',
    title: 'echo',
    unit: 's',
    better: 'lower',
    tool: { command: 'echod', install: 'apt-get install echod' },
    configName: 'echo.conf',
    config: ({ dir, listen }) => `root ${dir}\nlisten ${listen}\n`,
    prepare: ({ dir }) => [['mkdir', '-p', dir]],
    start: ({ dir }) => ['echod', '-c', `${dir}/echo.conf`],
    stop: ({ dir }) => ['echod', '-c', `${dir}/echo.conf`, '-s', 'stop'],
    measure: async () => ({ value: 0.2, unit: 's', seconds: 0.2, extra: {} }),
    sampleMs: (f) => f.value * 1000,
    timeoutMs: () => 10_000,
    ...overrides,
  });

  it('prepares once, writes the config, starts the server, measures from the host, and stops it on dispose', async () => {
    const address = await listening();
    const platform = new MockPlatform({ addresses: [address], script: [answer(), answer(), answer()] });
    const run = await prepareWorkload(platform, served(), profile, options);
    expect(platform.argvs).toEqual([
      [...TOOL_PROBE, 'echod'],
      ['mkdir', '-p', '/mock/work/echo'],
      ['echod', '-c', '/mock/work/echo/echo.conf'],
    ]);
    expect(platform.copies.map(({ name, executable, content }) => ({ name, executable, content }))).toEqual([
      { name: 'echo/echo.conf', executable: false, content: `root /mock/work/echo\nlisten ${address.listen}\n` },
    ]);
    expect(await run.runOnce()).toEqual({ value: 0.2, unit: 's', seconds: 0.2, extra: {} });
    expect(platform.calls).toHaveLength(3);
    platform.script(answer());
    await run.dispose();
    expect(platform.argvs.at(-1)).toEqual(['echod', '-c', '/mock/work/echo/echo.conf', '-s', 'stop']);
    expect(platform.remaining).toBe(0);
  });

  it('removes the config it rendered on the host once copied in, and when the copy fails', async () => {
    const address = await listening();
    const platform = new MockPlatform({ addresses: [address], script: [answer(), answer(), answer()] });
    await prepareWorkload(platform, served(), profile, options);
    const copied = platform.copies[0]!.hostPath;
    expect(existsSync(dirname(copied))).toBe(false);

    const refused = new MockPlatform({ addresses: [address], script: [answer(), answer()], copyInError: new Error('disk full') });
    await expect(prepareWorkload(refused, served(), profile, options)).rejects.toThrow('disk full');
    expect(refused.copies).toHaveLength(1);
    expect(existsSync(dirname(refused.copies[0]!.hostPath))).toBe(false);
  });

  it('a port lost in a race is tried again at a new address, without preparing again; a port taken every time is named', async () => {
    const address = await listening();
    const taken = { ...address, listen: '127.0.0.1:1', port: 1 };
    const inUse = answer({ exitCode: 1, stderr: 'bind() to 127.0.0.1:1 failed (98: Address already in use)' });
    const platform = new MockPlatform({ addresses: [taken, address], script: [answer(), answer(), inUse, answer()] });
    await prepareWorkload(platform, served(), profile, options);
    expect(platform.argvs.filter((argv) => argv[0] === 'mkdir')).toHaveLength(1);
    expect(platform.copies.map((c) => c.content)).toEqual([
      'root /mock/work/echo\nlisten 127.0.0.1:1\n',
      `root /mock/work/echo\nlisten ${address.listen}\n`,
    ]);

    const always = new MockPlatform({ addresses: [taken], script: [answer(), answer(), inUse, inUse, inUse] });
    const error = await prepareWorkload(always, served(), profile, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadFailedError);
    expect((error as Error).message).toMatch(/fix: the service port 127\.0\.0\.1:1 is taken on mock by another program \(3 attempts\)/);
    expect(always.remaining).toBe(0);
  });

  it('a start that fails for another reason is the workload failure at once', async () => {
    const address = await listening();
    const platform = new MockPlatform({
      addresses: [address],
      script: [answer(), answer(), answer({ exitCode: 1, stderr: 'echod: unknown directive "listen"' })],
    });
    const error = await prepareWorkload(platform, served(), profile, options).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WorkloadFailedError);
    expect((error as Error).message).toMatch(
      /echo failed: `echod -c \/mock\/work\/echo\/echo\.conf` exited with code 1\nstderr:\nechod: unknown directive/,
    );
    expect(platform.calls).toHaveLength(3);
  });

  it('a figure the host side measured is checked like any other', async () => {
    const address = await listening();
    const platform = new MockPlatform({ addresses: [address], script: [answer(), answer(), answer()] });
    const run = await prepareWorkload(
      platform,
      served({ measure: async () => ({ value: 0.2, unit: 's', seconds: 0, extra: {} }) }),
      profile,
      options,
    );
    await expect(run.runOnce()).rejects.toThrow(/no usable figure: seconds=0/);
  });
});
