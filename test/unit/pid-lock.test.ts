import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { withPidLockSync } from '../../src/harness/host/file-lock.js';

const options = { timeoutMs: 1_000, what: 'testing' };

function lockPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'virtbench-lock-')), 'x.lock');
}

describe('withPidLockSync', () => {
  it('holds the lock while fn runs, naming this process, and removes it after, also when fn throws', () => {
    const path = lockPath();
    expect(withPidLockSync(path, options, () => readFileSync(path, 'utf8'))).toBe(`${process.pid}\n`);
    expect(existsSync(path)).toBe(false);
    expect(() =>
      withPidLockSync(path, options, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(existsSync(path)).toBe(false);
  });

  it('waits for a live holder and names it and the fix when the wait runs out', () => {
    const path = lockPath();
    const holder = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    onTestFinished(() => void holder.kill('SIGKILL'));
    writeFileSync(path, `${holder.pid}\n`);
    let ran = false;
    const started = Date.now();
    expect(() => withPidLockSync(path, options, () => (ran = true))).toThrow(
      new RegExp(`virtbench process ${holder.pid} testing.*fix: `, 's'),
    );
    expect(ran).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(readFileSync(path, 'utf8')).toBe(`${holder.pid}\n`);
  });

  it('takes over the lock of a holder that died (a run killed while holding it)', () => {
    const path = lockPath();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    writeFileSync(path, `${dead}\n`);
    expect(withPidLockSync(path, options, () => 'ran')).toBe('ran');
  });
});
