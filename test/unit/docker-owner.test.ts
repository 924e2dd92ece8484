import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  formatOwner,
  ownedByThisProcess,
  ownerIsGone,
  ownerValue,
  parseOwner,
  startTimeFromStat,
  thisProcess,
  type Owner,
  type ThisProcess,
} from '../../src/platforms/docker/labels.js';

const BOOT = '0f5c1e2a-7b3d-4c8e-9a1f-2d6b8e4c0a13';
const NAMESPACE = 'pid:[4026531836]';
const LIVE_PID = 4242;
const LIVE_START = 123456;

/** Here: one live process (LIVE_PID, started at LIVE_START) and one alive but hidden by /proc; every other pid is dead. */
const here: ThisProcess = {
  bootId: BOOT,
  pidNamespace: NAMESPACE,
  startTimeOf: (pid) => (pid === LIVE_PID ? LIVE_START : pid === 77 ? 'unreadable' : 'dead'),
};

const owner = (fields: Partial<Owner> = {}): string =>
  formatOwner({ bootId: BOOT, pidNamespace: NAMESPACE, pid: LIVE_PID, startTime: LIVE_START, ...fields });

describe('whose containers a run may remove as left by a dead run', () => {
  it('removes those of a dead process of this boot and pid namespace', () => {
    expect(ownerIsGone(owner({ pid: 9999 }), here)).toBe(true);
  });

  it('keeps those of a live process that started when the label says', () => {
    expect(ownerIsGone(owner(), here)).toBe(false);
  });

  it('removes those whose pid now belongs to a process started at another time (a reused pid)', () => {
    expect(ownerIsGone(owner({ startTime: LIVE_START - 1 }), here)).toBe(true);
  });

  it('keeps those of a live process whose start time /proc hides (hidepid)', () => {
    expect(ownerIsGone(owner({ pid: 77 }), here)).toBe(false);
  });

  it('keeps those of another pid namespace, even when their pid looks dead from here (host-network jobs)', () => {
    expect(ownerIsGone(owner({ pidNamespace: 'pid:[4026532999]', pid: 9999 }), here)).toBe(false);
  });

  it('keeps those of another boot (another kernel on the same engine)', () => {
    expect(ownerIsGone(owner({ bootId: '11111111-2222-3333-4444-555555555555', pid: 9999 }), here)).toBe(false);
  });

  it('keeps those with no label, a label of an older version or one it cannot read', () => {
    for (const label of [
      undefined,
      '',
      'buildhost:9999', // the old "host:pid": owned by some process we cannot identify
      `boot=${BOOT} pidns=${NAMESPACE} pid=9999`,
      `boot=${BOOT} pidns=${NAMESPACE} pid=0 start=1`,
      `boot=${BOOT} pidns=4026531836 pid=9999 start=1`,
      `boot=unknown pidns=unknown pid=9999 start=1`,
      `${owner({ pid: 9999 })} extra`,
    ]) {
      expect(ownerIsGone(label, here), String(label)).toBe(false);
    }
  });

  it('reads back the owner it wrote', () => {
    expect(parseOwner(owner())).toEqual({ bootId: BOOT, pidNamespace: NAMESPACE, pid: LIVE_PID, startTime: LIVE_START });
  });
});

/** Fields 4 to 52 of a stat line, each holding its own number plus 100. */
const AFTER_STATE = Array.from({ length: 49 }, (_, i) => String(104 + i)).join(' ');

describe('process start times from /proc/<pid>/stat', () => {
  it('counts fields after the last parenthesis, so a command name with spaces and parentheses does not shift them', () => {
    // Fields 4, 5, ... hold 104, 105, ...: field 22, the start time, holds 122.
    expect(startTimeFromStat(`31891 (a) b (c)) S ${AFTER_STATE}`)).toBe(122);
  });

  it('takes a zombie for dead', () => {
    expect(startTimeFromStat(`31891 (sleep) Z ${AFTER_STATE}`)).toBeUndefined();
  });
});

describe('this process, as /proc shows it', () => {
  it('labels its containers with its boot, pid namespace, pid and start time, and filters by that exact value', () => {
    const self = thisProcess();
    expect(self.bootId).toMatch(/^[0-9a-f-]{36}$/);
    expect(self.pidNamespace).toMatch(/^pid:\[\d+\]$/);
    const mine = parseOwner(ownerValue());
    expect(mine).toEqual({ bootId: self.bootId, pidNamespace: self.pidNamespace, pid: process.pid, startTime: expect.any(Number) });
    expect(self.startTimeOf(process.pid)).toBe(mine!.startTime);
    expect(ownedByThisProcess()).toBe(`virtbench.owner=${ownerValue()}`);
    expect(ownerIsGone(ownerValue(), self)).toBe(false);
  });

  it("judges a child's containers kept while it lives and gone once it has exited", async () => {
    const self = thisProcess();
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    await once(child, 'spawn');
    const startTime = self.startTimeOf(child.pid!);
    expect(startTime).toEqual(expect.any(Number));
    const label = formatOwner({ bootId: self.bootId, pidNamespace: self.pidNamespace, pid: child.pid!, startTime: startTime as number });
    expect(ownerIsGone(label, self)).toBe(false);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(ownerIsGone(label, self)).toBe(true);
  });

  it('takes a pid above pid_max for dead', () => {
    expect(thisProcess().startTimeOf(2 ** 22 + 1)).toBe('dead');
  });
});
