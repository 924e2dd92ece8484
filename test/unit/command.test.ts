import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/host/command.js';

// The plain path (no input, streaming or cancel signal): every exec of the native platform.
describe('runCommand without input or streaming', () => {
  it('returns the exit code, stdout and stderr of a failing command without throwing', async () => {
    const result = await runCommand(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(result).toMatchObject({
      command: ['sh', '-c', 'echo out; echo err >&2; exit 3'],
      exitCode: 3,
      stdout: 'out\n',
      stderr: 'err\n',
      timedOut: false,
    });
    expect(result.wallMs).toBeGreaterThan(0);
  });

  it('says a program that does not exist is not found (127)', async () => {
    expect(await runCommand(['virtbench-no-such-program', '-x'])).toMatchObject({
      exitCode: 127,
      stderr: 'virtbench-no-such-program: command not found',
    });
  });

  it('runs in cwd, with the given variables on top of the environment', async () => {
    const result = await runCommand(['sh', '-c', 'echo "$PWD $VIRTBENCH_T ${PATH:+path}"'], { cwd: '/tmp', env: { VIRTBENCH_T: 'x' } });
    expect(result.stdout).toBe('/tmp x path\n');
  });

  it('stops a command at its time limit with SIGTERM', async () => {
    const result = await runCommand(['sleep', '30'], { timeoutMs: 200 });
    expect(result).toMatchObject({ timedOut: true, exitCode: 128 + 15 });
    expect(result.wallMs).toBeLessThan(2_000);
  });

  it('kills one that ignores SIGTERM 2 s later', async () => {
    // The ignored SIGTERM survives the exec into sleep.
    const result = await runCommand(['sh', '-c', "trap '' TERM; exec sleep 30"], { timeoutMs: 200 });
    expect(result).toMatchObject({ timedOut: true, exitCode: 128 + 9 });
    expect(result.wallMs).toBeGreaterThan(2_000);
    expect(result.wallMs).toBeLessThan(10_000);
  });

  it('stops a command whose output passes maxBuffer, keeping that much and saying why', async () => {
    const result = await runCommand(['yes'], { maxBuffer: 1000, timeoutMs: 10_000 });
    expect(result.stdout).toHaveLength(1000);
    expect(result.stderr).toContain('output beyond 1000 bytes: the command was stopped');
    expect(result.exitCode).not.toBe(0);
    expect(result.timedOut).toBe(false);
  });

  it('names the signal that killed a command from outside', async () => {
    const result = await runCommand(['sh', '-c', 'kill -KILL $$']);
    expect(result.exitCode).toBe(128 + 9);
    expect(result.stderr).toContain('killed by SIGKILL');
  });
});
