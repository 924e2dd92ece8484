import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import type { ExecResult } from '../../src/host/exec-result.js';
import { findExecutable } from '../../src/host/process.js';
import { createWorkDir, removeWorkDir } from '../../src/host/work-dir.js';
import { createNativePlatform } from '../../src/platforms/native/index.js';
import { makePrivate } from '../../src/platforms/qemu/guest-image.js';
import { liveLeases, useGuest } from '../../src/platforms/qemu/guest-users.js';
import { currentOwner, formatOwner, ownerTag } from '../../src/host/owner.js';
import { runTool } from '../../src/platforms/qemu/host-tools.js';
import { GUEST_CHECK_TIMEOUT_MS, checkProvisionedGuest } from '../../src/platforms/qemu/index.js';
import { prepareDisks, signalOwnChild } from '../../src/platforms/qemu/qemu-guest.js';
import { connectGuest, guestLoginError, type SshSession } from '../../src/platforms/qemu/ssh.js';
import { createTap, removeStaleTapNetworks, removeTapNetwork, tapNetworkFor } from '../../src/platforms/qemu/tap.js';
import { createUnikernelPlatform } from '../../src/platforms/unikernel/index.js';

/*
 * The guests' safety rules, checked without booting one: signals reach only
 * our own QEMU, every provisioning step is bounded and says which one ran
 * out of time, a guest is paused only when its last user leaves, and disks,
 * keys and work directories are this user's alone.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'virtbench-safety-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const modeOf = async (path: string) => (await stat(path)).mode & 0o777;

/** A long-running child whose command line names path, as QEMU names its work directory. */
function childNaming(path: string): { child: ChildProcess; exited: Promise<string> } {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', path], { stdio: 'ignore' });
  cleanups.push(() => child.kill('SIGKILL'));
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? `exit ${code}`)));
  return { child, exited };
}

describe('signals to a saved pid', () => {
  it("signals a child whose command line names the run's directory", async () => {
    const dir = await tempDir();
    const { child, exited } = childNaming(join(dir, 'qemu.pid'));
    await new Promise((r) => child.once('spawn', r));
    expect(signalOwnChild(child, dir)).toBe(true);
    expect(await exited).toBe('SIGKILL');
  });

  it('never signals a process whose command line names something else (a reused pid), nor a reaped child', async () => {
    const dir = await tempDir();
    const { child: stranger } = childNaming(`${dir}2/qemu.pid`); // a longer name is not dir
    await new Promise((r) => stranger.once('spawn', r));
    expect(signalOwnChild(stranger, dir)).toBe(false);
    await new Promise((r) => setTimeout(r, 100));
    expect(stranger.exitCode).toBeNull();
    expect(stranger.signalCode).toBeNull();

    // Reaped: its pid may be anyone's now, here this very process's.
    let signalled = false;
    const reaped = { pid: process.pid, exitCode: 0, signalCode: null, kill: () => (signalled = true) };
    expect(signalOwnChild(reaped, dir)).toBe(false);
    expect(signalled).toBe(false);
  });
});

describe('timeouts of the provisioning steps', () => {
  it('a host tool that runs out of time fails naming the step, its limit and a fix', async () => {
    const started = Date.now();
    const failure = runTool(['sleep', '30'], {
      what: 'building the guest image: a stuck step',
      code: 'VIRTBENCH_BUILD_FAILED',
      timeoutMs: 300,
    });
    await expect(failure).rejects.toMatchObject({
      code: 'VIRTBENCH_BUILD_FAILED',
      message: expect.stringMatching(
        /^building the guest image: a stuck step did not finish within 0.3 s and was killed: `sleep 30` timed out[^]*\nfix: /,
      ),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
    await expect(
      runTool(['sleep', '30'], { what: 'x', code: 'VIRTBENCH_BOOT_FAILED', timeoutMs: 200, timeoutFix: 'check the mirror' }),
    ).rejects.toThrow(/\nfix: check the mirror$/);
  });

  it('a failing host tool still fails as before', async () => {
    await expect(runTool(['false'], { what: 'a failing step', code: 'VIRTBENCH_BUILD_FAILED', timeoutMs: 10_000 })).rejects.toThrow(
      /^a failing step failed: `false` exited with code 1/,
    );
  });

  const result = (over: Partial<ExecResult>): ExecResult => ({
    command: ['check'],
    exitCode: 0,
    stdout: '',
    stderr: '',
    wallMs: 1,
    timedOut: false,
    ...over,
  });
  const fakeSsh = (answer: ExecResult, seen: { timeoutMs?: number }[]): Pick<SshSession, 'run'> => ({
    run: async (_command, options = {}) => {
      seen.push(options);
      return answer;
    },
  });

  it('the provisioning check in the guest is bounded, and a timeout is named as one', async () => {
    const seen: { timeoutMs?: number }[] = [];
    const hung = fakeSsh(result({ exitCode: 137, timedOut: true }), seen);
    await expect(checkProvisionedGuest(hung, 'qemu-tcg')).rejects.toMatchObject({
      code: 'VIRTBENCH_BOOT_TIMEOUT',
      message: expect.stringMatching(/^\[qemu-tcg\] the provisioning check in the guest .* did not answer within 60 s\nfix: /),
    });
    expect(seen).toEqual([{ timeoutMs: GUEST_CHECK_TIMEOUT_MS }]);
    expect(GUEST_CHECK_TIMEOUT_MS).toBe(60_000);

    const unmounted = fakeSsh(result({ exitCode: 1 }), []);
    const console = () => '\nguest console (last lines):\nvirtbench-rc: cannot mount the benchmark disk /dev/vdb';
    await expect(checkProvisionedGuest(unmounted, 'qemu-tcg', console)).rejects.toMatchObject({
      code: 'VIRTBENCH_BOOT_FAILED',
      message: expect.stringMatching(/not mounted at \/mnt\/bench \(exit 1\)\nguest console .*\nvirtbench-rc: cannot mount .*\nfix: /),
    });
    const fine = fakeSsh(result({ stdout: 'hpet\nmodel name\t: QEMU Virtual CPU: max\n' }), []);
    expect(await checkProvisionedGuest(fine, 'qemu-tcg')).toEqual({ clocksource: 'hpet', cpu: 'QEMU Virtual CPU: max' });
  });

  it('an ssh login that hangs (a banner, then nothing) fails after readyTimeoutMs, named as a timeout', async () => {
    const sockets: Socket[] = [];
    const server: Server = createServer((socket) => {
      sockets.push(socket);
      socket.on('error', () => {});
      socket.write('SSH-2.0-silent\r\n'); // then never a key exchange
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const socket of sockets) socket.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const { port } = server.address() as AddressInfo;
    const started = Date.now();
    const privateKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    const login = connectGuest({ platform: 'qemu-tcg', host: '127.0.0.1', port, privateKey, hostKey: '', readyTimeoutMs: 500 });
    await expect(login).rejects.toMatchObject({
      code: 'VIRTBENCH_GUEST_LOST',
      message: expect.stringMatching(/over ssh at 127\.0\.0\.1:\d+ did not complete within 0.5 s .*\nfix: /),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('a login refused for another reason says so, with a fix', () => {
    const target = { platform: 'qemu-tcg', host: '127.0.0.1', port: 2222, privateKey: '', hostKey: '' };
    expect(guestLoginError(target, undefined, new Error('All configured authentication methods failed')).message).toMatch(
      /^\[qemu-tcg\] cannot log in to the guest over ssh at 127\.0\.0\.1:2222: All configured authentication methods failed\nfix: /,
    );
  });
});

describe('pausing a guest in use', () => {
  const control = (log: string[]) => ({
    resume: async () => void log.push('resume'),
    pause: async () => void log.push('pause'),
  });

  it('pauses only when the last worker using the guest leaves', async () => {
    const dir = await tempDir();
    const log: string[] = [];
    const first = await useGuest(dir, control(log));
    const second = await useGuest(dir, control(log));
    await first.release();
    expect(log).toEqual(['resume', 'resume']); // the second file still runs: no pause
    await second.release();
    await second.release(); // idempotent
    expect(log).toEqual(['resume', 'resume', 'pause']);
    expect(await readdir(join(dir, 'users'))).toEqual([]);
  });

  it('between turns (freeze) a worker pauses the guest only when no other live worker wants it running', async () => {
    const dir = await tempDir();
    const log: string[] = [];
    const first = await useGuest(dir, control(log));
    const second = await useGuest(dir, control(log));
    await first.want(false);
    expect(log).toEqual(['resume', 'resume']); // the second still wants it
    await second.want(false);
    expect(log).toEqual(['resume', 'resume', 'pause']);
    await second.want(true);
    expect(log).toEqual(['resume', 'resume', 'pause', 'resume']);
    // A worker that leaves while the other is between turns: nobody wants the guest.
    await second.release();
    expect(log).toEqual(['resume', 'resume', 'pause', 'resume', 'pause']);
    await first.release(); // released while frozen
    expect(await readdir(join(dir, 'users'))).toEqual([]);
  });

  it("a dead worker's lease does not keep the guest running", async () => {
    const dir = await tempDir();
    const log: string[] = [];
    await mkdir(join(dir, 'users'));
    await writeFile(join(dir, 'users', '999999999-abc'), ''); // beyond pid_max: surely dead
    const use = await useGuest(dir, control(log));
    await use.release();
    expect(log).toEqual(['resume', 'pause']);
    expect(await readdir(join(dir, 'users'))).toEqual([]);
    expect(liveLeases([`${ownerTag()}-a`, `${ownerTag({ ...currentOwner(), pid: 999_999_999 })}-b`, 'junk'])).toEqual([`${ownerTag()}-a`]);
  });

  it('names a guest whose work directory is gone', async () => {
    const dir = join(await tempDir(), 'gone');
    await expect(useGuest(dir, control([]), 'qemu-tcg')).rejects.toMatchObject({ code: 'VIRTBENCH_GUEST_LOST' });
  });
});

describe('permissions of work directories, disks and keys', () => {
  it('work directories are 0700, or 0711 where nginx workers must traverse them (native)', async () => {
    const root = await tempDir();
    const dir = await createWorkDir('unit', root);
    cleanups.push(() => removeWorkDir(dir));
    expect(await modeOf(dir)).toBe(0o700);
    const traversable = await createWorkDir('unit', root, { mode: 0o711 });
    cleanups.push(() => removeWorkDir(traversable));
    expect(await modeOf(traversable)).toBe(0o711);

    const previous = process.env.VIRTBENCH_WORK_DIR;
    process.env.VIRTBENCH_WORK_DIR = root;
    cleanups.push(() => (previous === undefined ? delete process.env.VIRTBENCH_WORK_DIR : (process.env.VIRTBENCH_WORK_DIR = previous)));
    const native = await createNativePlatform().provision({ cacheDir: root, log: () => {} });
    cleanups.push(() => native.stop());
    expect(await modeOf((native.facts as { workDir: string }).workDir)).toBe(0o711);
  });

  it('the guest image cache: directories 0700, every file of an image (rootfs.img, keys) 0600', async () => {
    const root = await tempDir();
    const image = join(root, 'guest-abc-def');
    await mkdir(image);
    await chmod(root, 0o755);
    for (const name of ['rootfs.img', 'client_key', 'client_key.pub', 'initramfs.cpio', 'vmlinuz', 'image.json']) {
      await writeFile(join(image, name), 'x', { mode: 0o644 });
    }
    await makePrivate(root, image);
    expect(await modeOf(root)).toBe(0o700);
    expect(await modeOf(image)).toBe(0o700);
    for (const name of await readdir(image)) expect([name, await modeOf(join(image, name))]).toEqual([name, 0o600]);
  });

  const diskTools = ['qemu-img', 'mkfs.ext4'].every((tool) => findExecutable(tool) !== undefined);
  it.skipIf(!diskTools)("a guest's disks are 0600 (raw and qcow2)", async () => {
    const dir = await tempDir();
    const base = join(dir, 'rootfs.img');
    await writeFile(base, Buffer.alloc(1024 * 1024));
    for (const format of ['raw', 'qcow2'] as const) {
      const runDir = join(dir, format);
      await mkdir(runDir);
      const disks = await prepareDisks({ rootImage: base }, runDir, {
        platform: 'unit',
        disk: { format, bus: 'virtio' },
        dataDiskSize: '8M',
      });
      expect(await modeOf(disks.root)).toBe(0o600);
      expect(await modeOf(disks.data)).toBe(0o600);
    }
  });

  it("the unikernel's initramfs images are 0600", async () => {
    const workDir = await tempDir();
    const program = join(workDir, 'program');
    await writeFile(program, '#!/bin/sh\n', { mode: 0o755 });
    const facts = { workDir, accel: 'tcg', kernel: '/k', kernelRelease: '6.1', qemu: '8', probeBootToResultMs: 0 };
    const started = await createUnikernelPlatform().connect(facts);
    const cpio = await started.copyIn(program, 'linpack');
    expect(await modeOf(cpio)).toBe(0o600);
  });
});

describe("the tap sweep takes only what is provably its own (another run's work root notwithstanding)", () => {
  const root = process.getuid?.() === 0 && findExecutable('ip') && existsSync('/dev/net/tun');

  it.skipIf(!root)("removes the network of a run that is gone, keeps a live run's and one without a record", async () => {
    const owners = await tempDir();
    const suffix = randomBytes(3).toString('hex');
    const [live, dead, unrecorded] = ['live', 'dead', 'none'].map((what) => tapNetworkFor(`virtbench-qemu-sweep${what}${suffix}`));
    const all = [live!, dead!, unrecorded!];
    cleanups.push(() => all.forEach((network) => removeTapNetwork(network, owners)));
    for (const network of all) {
      createTap(network, 'qemu-tcg-tap', owners);
      execFileSync('ip', ['netns', 'add', network.namespace]);
    }
    // Another run, with its own work root, made `live`; the run that made `dead` was killed; `unrecorded` has no record.
    await writeFile(join(owners, dead!.namespace), `${formatOwner({ ...currentOwner(), pid: 999_999_999 })}\n`);
    await rm(join(owners, unrecorded!.namespace));
    removeStaleTapNetworks(owners);
    const present = (network: { tap: string; namespace: string }) => [
      existsSync(`/run/netns/${network.namespace}`),
      existsSync(`/sys/class/net/${network.tap}`),
    ];
    expect(all.map(present)).toEqual([
      [true, true],
      [false, false],
      [true, true],
    ]);
    expect((await readdir(owners)).sort()).toEqual([live!.namespace]);
  });
});
