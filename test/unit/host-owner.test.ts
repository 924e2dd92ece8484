import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, existsSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { currentOwner, formatOwner, identify, isAlive, ownerOfTag, ownerTag, thisProcess, type ThisProcess } from '../../src/host/owner.js';
import { processNamedBy, terminateSync } from '../../src/host/process.js';
import { removeStaleWorkDirs, removeWorkDir } from '../../src/host/work-dir.js';
import { userIsLive } from '../../src/platforms/docker/private-dockerd.js';
import { serviceProcess } from '../../src/platforms/docker/private-podman.js';
import { buildOwner } from '../../src/platforms/docker/image.js';
import { liveLeases } from '../../src/platforms/qemu/guest-users.js';

function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

/** A child that lives until the test ends; ignoreTerm: it survives SIGTERM. */
function liveChild(ignoreTerm = false): { pid: number; exited: () => boolean } {
  const child = spawn('sh', ['-c', ignoreTerm ? 'trap "" TERM; exec sleep 30' : 'exec sleep 30'], { stdio: 'ignore' });
  let exited = false;
  child.once('exit', () => (exited = true));
  onTestFinished(() => void child.kill('SIGKILL'));
  return { pid: child.pid!, exited: () => exited || child.exitCode !== null || child.signalCode !== null };
}

async function settle(ms = 300): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

describe('an owner: pid, start time, boot and pid namespace', () => {
  it('is alive only while that very process exists', async () => {
    const me = currentOwner();
    expect(isAlive(me)).toBe(true);
    expect(isAlive({ ...me, pid: deadPid() })).toBe(false);
    // Its pid taken by a process that started at another time: not the owner.
    expect(isAlive({ ...me, startTime: me.startTime - 1 })).toBe(false);
    // A start time older versions did not record: judged by the pid.
    expect(isAlive({ ...me, startTime: 0 })).toBe(true);
  });

  it('counts as alive in another pid namespace, or on another machine; as gone from an earlier boot of this one', () => {
    const me = currentOwner();
    expect(isAlive({ ...me, pidNamespace: 'pid:[1]', pid: deadPid() })).toBe(true);
    const otherBoot = '11111111-2222-3333-4444-555555555555';
    expect(isAlive({ ...me, bootId: otherBoot })).toBe(false);
    expect(isAlive({ ...me, bootId: otherBoot, host: 'another-machine' })).toBe(true);
  });
});

describe('signals go only to the process that was meant', () => {
  it('terminateSync sends no SIGKILL once the pid has become another process after the SIGTERM', async () => {
    const child = liveChild(true);
    await settle();
    const here = thisProcess();
    let looks = 0;
    // The pid's start time as /proc shows it: the child's for the first two looks, then another process's (the pid reused).
    const where: ThisProcess = {
      ...here,
      startTimeOf: (pid) => {
        const real = here.startTimeOf(pid);
        return ++looks <= 2 || typeof real !== 'number' ? real : real + 1;
      },
    };
    terminateSync(child.pid, 300, where);
    await settle();
    expect(child.exited()).toBe(false);
  });

  it('terminateSync signals nothing when the recorded start time is not the live process of that pid', async () => {
    const child = liveChild();
    await settle();
    const now = identify(child.pid)!;
    terminateSync({ ...now, startTime: now.startTime - 1 }, 300);
    await settle();
    expect(child.exited()).toBe(false);
    terminateSync(now, 2_000);
    await settle();
    expect(child.exited()).toBe(true);
  });

  it("the podman service's pid file: a live process with another start time is not the service, and is not killed", async () => {
    const child = liveChild();
    await settle();
    const dir = mkdtempSync(join(tmpdir(), 'virtbench-pidfile-'));
    const pidFile = join(dir, 'service.pid');
    const now = identify(child.pid)!;
    writeFileSync(pidFile, `${formatOwner({ ...now, startTime: now.startTime - 1 })}\n`);
    expect(serviceProcess(pidFile, 'sleep')).toBeUndefined();
    terminateSync(serviceProcess(pidFile, 'sleep'), 300);
    await settle();
    expect(child.exited()).toBe(false);
    // The very process, named on its command line: that one is the service.
    writeFileSync(pidFile, `${formatOwner(now)}\n`);
    expect(serviceProcess(pidFile, 'sleep')).toEqual(now);
    // An older version's bare pid: the command line must name the marker.
    writeFileSync(pidFile, `${child.pid}`);
    expect(processNamedBy(pidFile, 'sleep')?.pid).toBe(child.pid);
    expect(processNamedBy(pidFile, '/run/virtbench-podman')).toBeUndefined();
  });

  it("the private dockerd's users: a reused pid is not a user, an older version's empty file is judged by its pid", async () => {
    const child = liveChild();
    await settle();
    const now = identify(child.pid)!;
    expect(userIsLive(String(child.pid), `${formatOwner({ ...now, startTime: now.startTime - 1 })}\n`)).toBe(false);
    expect(userIsLive(String(child.pid), `${formatOwner(now)}\n`)).toBe(true);
    expect(userIsLive(String(child.pid), '')).toBe(true);
    expect(userIsLive(String(deadPid()), '')).toBe(false);
  });
});

describe('removing a work directory', () => {
  const root = process.getuid?.() === 0;

  it.skipIf(!root)('lets go of a file system mounted inside it rather than emptying it, and follows no link out', () => {
    const outside = mkdtempSync(join(tmpdir(), 'virtbench-outside-'));
    writeFileSync(join(outside, 'keep'), "not the run's");
    const dir = mkdtempSync(join(tmpdir(), 'virtbench-remove-'));
    // As a workload (or nginx's workers, owning a directory inside) might leave it: a bind mount and a link to outside.
    mkdirSync(join(dir, 'temp', 'body'), { recursive: true });
    spawnSync('mount', ['--bind', outside, join(dir, 'temp', 'body')]);
    onTestFinished(() => void spawnSync('umount', ['-l', join(dir, 'temp', 'body')]));
    symlinkSync(outside, join(dir, 'temp', 'link'));
    removeWorkDir(dir);
    expect(existsSync(dir)).toBe(false);
    expect(existsSync(join(outside, 'keep'))).toBe(true);
  });
});

describe('stale work directories', () => {
  function workDir(root: string, name: string, owner: string): string {
    const dir = join(root, `virtbench-ownertest-${name}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'owner.pid'), owner);
    return dir;
  }

  it("keeps one whose owner runs in another pid namespace (a container's run), removes those of a dead or reused pid", async () => {
    const root = mkdtempSync(join(tmpdir(), 'virtbench-workroot-'));
    const child = liveChild();
    await settle();
    const me = currentOwner();
    const otherNamespace = workDir(root, 'aaaaaa', `${formatOwner({ ...me, pidNamespace: 'pid:[4026532999]', pid: deadPid() })}\n`);
    const dead = workDir(root, 'bbbbbb', `${formatOwner({ ...me, pid: deadPid() })}\n`);
    const now = identify(child.pid)!;
    const reused = workDir(root, 'cccccc', `${formatOwner({ ...now, startTime: now.startTime - 1 })}\n`);
    const live = workDir(root, 'dddddd', `${formatOwner(now)}\n`);
    const olderVersion = workDir(root, 'eeeeee', `${deadPid()}\n`);
    const removed = await removeStaleWorkDirs('ownertest', root);
    expect(removed.sort()).toEqual([dead, reused, olderVersion].sort());
    expect(existsSync(otherNamespace)).toBe(true);
    expect(existsSync(live)).toBe(true);
    expect(child.exited()).toBe(false);
  });
});

describe('an owner in a file name (ownerTag): build directories, partial tarballs, guest leases', () => {
  it('names the owner as the owner line does, and is judged the same way: a reused pid or another namespace included', () => {
    const me = currentOwner();
    expect(ownerOfTag(ownerTag(me))).toEqual({ bootId: me.bootId, pidNamespace: me.pidNamespace, pid: me.pid, startTime: me.startTime });
    expect(ownerOfTag('junk')).toBeUndefined();
    const reused = ownerTag({ ...me, startTime: me.startTime - 1 });
    expect(isAlive(ownerOfTag(reused)!)).toBe(false);
    const container = ownerTag({ ...me, pid: deadPid(), pidNamespace: 'pid:[4026532999]' });
    expect(isAlive(ownerOfTag(container)!)).toBe(true);
    const earlierBoot = ownerTag({ ...me, bootId: '00000000-0000-4000-8000-000000000000' });
    expect(isAlive(ownerOfTag(earlierBoot)!)).toBe(false);
  });

  it("keeps a guest's lease while its worker runs, not once its pid is another process's", () => {
    const me = currentOwner();
    const mine = `${ownerTag(me)}-0a1b2c`;
    const reused = `${ownerTag({ ...me, startTime: me.startTime - 1 })}-3d4e5f`;
    const gone = `${ownerTag({ ...me, pid: deadPid() })}-6a7b8c`;
    expect(liveLeases([mine, reused, gone, 'junk'])).toEqual([mine]);
  });

  it("finds the run of a docker build directory or partial tarball, and an older version's by its bare pid", () => {
    const me = currentOwner();
    expect(buildOwner(`build-${ownerTag(me)}-1733390000000`)).toMatchObject({ pid: me.pid, startTime: me.startTime });
    expect(buildOwner(`debian-bookworm-0123abcd.tar.${ownerTag(me)}.partial`)).toMatchObject({ pid: me.pid, startTime: me.startTime });
    expect(buildOwner('build-4242-1733390000000')).toMatchObject({ pid: 4242, startTime: 0 });
    expect(buildOwner('debian-bookworm-0123abcd.tar')).toBeUndefined();
    const reused = buildOwner(`build-${ownerTag({ ...me, startTime: me.startTime - 1 })}-1733390000000`)!;
    expect(isAlive(reused)).toBe(false);
  });
});
