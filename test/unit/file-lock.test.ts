import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  createExclusive,
  holderLine,
  lockFileOf,
  readHolder,
  takeOverStale,
  tryLock,
  withLock,
  withLockSync,
} from '../../src/host/file-lock.js';
import { currentOwner, formatOwner, identify, parseOwner } from '../../src/host/owner.js';

const options = { timeoutMs: 1_000, what: 'testing' };

function lockPath(): string {
  return join(mkdtempSync(join(tmpdir(), 'virtbench-lock-')), 'x');
}

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** The holder line of a process that is gone: this process's identity with a dead pid. */
function deadHolderLine(): string {
  return `${formatOwner({ ...currentOwner(), pid: deadPid() })} token=dead\n`;
}

function liveChild(): number {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  onTestFinished(() => void child.kill('SIGKILL'));
  return child.pid!;
}

describe('withLockSync', () => {
  it('holds <path>.lock while fn runs, naming this process, and removes it after, also when fn throws', () => {
    const path = lockPath();
    const held = withLockSync(path, () => readFileSync(lockFileOf(path), 'utf8'), options);
    expect(parseOwner(held)).toEqual(currentOwner());
    expect(existsSync(lockFileOf(path))).toBe(false);
    expect(() =>
      withLockSync(
        path,
        () => {
          throw new Error('boom');
        },
        options,
      ),
    ).toThrow('boom');
    expect(existsSync(lockFileOf(path))).toBe(false);
  });

  it('waits for a live holder and names it and the fix when the wait runs out', () => {
    const path = lockPath();
    const holder = identify(liveChild())!;
    writeFileSync(lockFileOf(path), `${formatOwner(holder)} token=x\n`);
    let ran = false;
    const started = Date.now();
    expect(() => withLockSync(path, () => (ran = true), options)).toThrow(
      new RegExp(`virtbench process ${holder.pid} testing.*fix: `, 's'),
    );
    expect(ran).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(parseOwner(readFileSync(lockFileOf(path), 'utf8'))).toEqual(holder);
  });

  it('takes over the lock of a holder that died, of an older version (a bare pid), and of a pid reused since', () => {
    const path = lockPath();
    writeFileSync(lockFileOf(path), deadHolderLine());
    expect(withLockSync(path, () => 'ran', options)).toBe('ran');
    writeFileSync(lockFileOf(path), `${deadPid()}\n`);
    expect(withLockSync(path, () => 'ran', options)).toBe('ran');
    const reused = identify(liveChild())!;
    writeFileSync(lockFileOf(path), `${formatOwner({ ...reused, startTime: reused.startTime - 1 })} token=old\n`);
    expect(withLockSync(path, () => 'ran', options)).toBe('ran');
  });

  it('keeps the lock of a holder in another pid namespace (a run in a container), whatever its pid', () => {
    const path = lockPath();
    writeFileSync(lockFileOf(path), `${formatOwner({ ...currentOwner(), pidNamespace: 'pid:[1]', pid: deadPid() })} token=x\n`);
    expect(() => withLockSync(path, () => 'ran', { ...options, timeoutMs: 200 })).toThrow(/waited/);
  });

  it("respects an older version's lock directory while its holder keeps it fresh, and takes it over once stale", () => {
    const path = lockPath();
    mkdirSync(lockFileOf(path));
    expect(() => withLockSync(path, () => 'ran', { ...options, timeoutMs: 200 })).toThrow(/waited/);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFileOf(path), old, old);
    expect(withLockSync(path, () => 'ran', options)).toBe('ran');
  });

  it('refuses a lock this process holds already (waiting for ourselves would never end)', () => {
    const path = lockPath();
    expect(() => withLockSync(path, () => withLockSync(path, () => 'inner', options), options)).toThrow(/nested/);
  });
});

describe('two waiters that saw the same dead holder', () => {
  it('end with one holder when the first takes the lock before the second removes the dead one', () => {
    const file = lockFileOf(lockPath());
    writeFileSync(file, deadHolderLine());
    const seenByA = readHolder(file)!;
    const seenByB = readHolder(file)!;
    // A removes the dead holder's file and takes the lock.
    expect(takeOverStale(file, seenByA)).toBe(true);
    const lineA = holderLine();
    expect(createExclusive(file, lineA)).toBe(true);
    // B, acting on what it saw before, must not remove A's fresh lock.
    expect(takeOverStale(file, seenByB)).toBe(false);
    expect(createExclusive(file, holderLine())).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(lineA);
  });

  it('end with one holder when one takes over while the other is in the middle of its takeover', () => {
    const file = lockFileOf(lockPath());
    writeFileSync(file, deadHolderLine());
    const seen = readHolder(file)!;
    let other: ReturnType<typeof tryLock> | undefined;
    // B holds the takeover; A tries meanwhile, sees the same dead holder, and must not get in.
    expect(takeOverStale(file, seen, { beforeRecheck: () => (other = tryLock(file)) })).toBe(true);
    expect(other?.held).toBe(false);
    const lineB = holderLine();
    expect(createExclusive(file, lineB)).toBe(true);
    expect(tryLock(file).held).toBe(false);
    expect(readFileSync(file, 'utf8')).toBe(lineB);
  });

  it('take over a takeover lock whose holder was killed in the middle', () => {
    const file = lockFileOf(lockPath());
    writeFileSync(file, deadHolderLine());
    writeFileSync(`${file}.takeover`, deadHolderLine());
    expect(tryLock(file).held).toBe(true);
  });
});

describe('withLock', () => {
  it('runs the holders of one lock one after another', async () => {
    const path = lockPath();
    let inside = 0;
    let most = 0;
    const hold = () =>
      withLock(
        path,
        async () => {
          most = Math.max(most, ++inside);
          await new Promise((resolve) => setTimeout(resolve, 150));
          inside--;
        },
        { ...options, timeoutMs: 5_000 },
      );
    await Promise.all([hold(), hold(), hold()]);
    expect(most).toBe(1);
    expect(existsSync(lockFileOf(path))).toBe(false);
  });
});
