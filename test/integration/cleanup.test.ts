import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it, onTestFinished } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import { argNames, createWorkDir, removeStaleWorkDirs, removeWorkDir, workRoot } from '../../src/host/work-dir.js';
import { processesMentioning, processesOfThisFile, workDirs } from './helpers.js';

/** A long-running process whose command line names dir, as a daemon started there would. */
function daemonIn(dir: string) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', dir], { stdio: 'ignore', detached: true });
  child.unref();
  return child;
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function waitUntil(check: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  for (const until = Date.now() + ms; Date.now() < until; await new Promise((r) => setTimeout(r, 50))) if (await check()) return true;
  return check();
}

describe('work directories', () => {
  it('removing one stops every process working in it (daemons, leftovers), and no other process', async () => {
    const root = await mkdtemp(join(tmpdir(), 'virtbench-root-'));
    const dir = await createWorkDir('unit', root);
    const daemon = daemonIn(dir);
    const leftover = daemonIn(join(dir, 'nginx', 'html', 'payload.bin')); // like a dd a killed worker left
    const stranger = daemonIn(root); // its command line does not name dir
    await mkdir(join(dir, 'nginx'));
    await writeFile(join(dir, 'nginx', 'nginx.pid'), `${daemon.pid}\n`);
    await writeFile(join(dir, 'other.pid'), `${stranger.pid}\n`); // a pid file alone proves nothing

    removeWorkDir(dir);
    expect(existsSync(dir)).toBe(false);
    expect(await waitUntil(() => !alive(daemon.pid!) && !alive(leftover.pid!), 3_000)).toBe(true);
    expect(alive(stranger.pid!)).toBe(true);
    process.kill(stranger.pid!, 'SIGKILL');
  });

  it('a process started after the first scan, as a tree that forks on makes them, is stopped too', async () => {
    const root = await mkdtemp(join(tmpdir(), 'virtbench-root-'));
    const dir = await createWorkDir('unit', root);
    // Stopped, it starts another process naming dir before it goes: one the first scan could not see.
    const respawn = `process.on('SIGTERM', () => { require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', process.argv[1]], { stdio: 'ignore', detached: true }).unref(); process.exit(0); }); require('node:fs').writeFileSync(process.argv[1] + '/ready', ''); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ['-e', respawn, dir], { stdio: 'ignore', detached: true });
    parent.unref();
    // Once it handles SIGTERM.
    expect(await waitUntil(() => existsSync(join(dir, 'ready')), 5_000)).toBe(true);
    removeWorkDir(dir);
    expect(existsSync(dir)).toBe(false);
    const left = await processesMentioning(dir);
    for (const line of left) process.kill(Number(line.split(' ')[0]), 'SIGKILL');
    expect(left).toEqual([]);
    await rm(root, { recursive: true, force: true });
  });

  it('a directory whose owner died is stale and removed at the next start; a live owner keeps it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'virtbench-root-'));
    onTestFinished(() => rm(root, { recursive: true, force: true }));
    const stale = join(root, 'virtbench-unit-dead01');
    const live = join(root, 'virtbench-unit-live01');
    await mkdir(stale);
    await mkdir(live);
    const dead = await execa(process.execPath, ['-e', 'console.log(process.pid)']);
    await writeFile(join(stale, 'owner.pid'), dead.stdout);
    await writeFile(join(live, 'owner.pid'), `${process.pid}\n`);
    const daemon = daemonIn(stale);
    await writeFile(join(stale, 'x.pid'), `${daemon.pid}\n`);

    expect(await removeStaleWorkDirs('unit', root)).toEqual([stale]);
    expect(existsSync(live)).toBe(true);
    expect(await waitUntil(() => !alive(daemon.pid!), 3_000)).toBe(true);
  });

  it('sweeps only what is surely its own, and stops only processes that name that directory', async () => {
    const root = await mkdtemp(join(tmpdir(), 'virtbench-root-'));
    onTestFinished(() => rm(root, { recursive: true, force: true }));
    const dead = (await execa(process.execPath, ['-e', 'console.log(process.pid)'])).stdout;
    /** A directory that looks stale: its owner file names a dead process. */
    const staleLooking = async (name: string) => {
      const dir = join(root, name);
      await mkdir(dir);
      await writeFile(join(dir, 'owner.pid'), dead);
      return dir;
    };
    const live = await createWorkDir('unit', root); // a live run's
    // Planted by someone else: a bare prefix, another platform whose name starts alike, a symlink to
    // the live run's directory, and another user's directory; a fresh one a concurrent run has not
    // written its owner file into yet.
    const bare = await staleLooking('virtbench-unit-');
    const longer = await staleLooking('virtbench-unit-qcow2-abc123');
    await symlink(live, join(root, 'virtbench-unit-link01'));
    const foreign = await staleLooking('virtbench-unit-nobody');
    await chown(foreign, 65534, 65534);
    const fresh = join(root, 'virtbench-unit-fresh1');
    await mkdir(fresh);
    const old = join(root, 'virtbench-unit-old001');
    await mkdir(old);
    await utimes(old, new Date(Date.now() - 3_600_000), new Date(Date.now() - 3_600_000));
    const stale = await staleLooking('virtbench-unit-stale1');
    // Processes naming the bare prefix's path, the live directory, and a longer name than the stale one.
    const tail = daemonIn(bare);
    const liveUser = daemonIn(join(live, 'payload.bin'));
    const longerName = daemonIn(`${stale}2/x`);
    const inStale = daemonIn(`file=${stale}/disk.img,if=virtio`);
    onTestFinished(() => {
      for (const child of [tail, liveUser, longerName, inStale]) if (alive(child.pid!)) process.kill(child.pid!, 'SIGKILL');
    });

    expect((await removeStaleWorkDirs('unit', root)).sort()).toEqual([old, stale].sort());
    for (const kept of [live, bare, longer, foreign, fresh, join(root, 'virtbench-unit-link01')]) expect(existsSync(kept), kept).toBe(true);
    expect(await waitUntil(() => !alive(inStale.pid!), 3_000)).toBe(true);
    expect([tail, liveUser, longerName].map((c) => alive(c.pid!))).toEqual([true, true, true]);
  });

  it('an argument names a directory only as a whole path component', () => {
    const dir = '/var/tmp/virtbench-native-Ab12Cd';
    for (const arg of [dir, `${dir}/nginx.conf`, `file=${dir}/disk.img,if=virtio`, `-pidfile=${dir}/q.pid`, `${dir}:rw`]) {
      expect(argNames(arg, dir), arg).toBe(true);
    }
    for (const arg of ['/var/tmp/virtbench-native-', `${dir}2`, `${dir}.old/x`, `/x${dir}`, `tail -f ${dir.slice(0, -1)}`]) {
      expect(argNames(arg, dir), arg).toBe(false);
    }
  });
});

describe('Ctrl-C during vitest bench', () => {
  it('stops nginx and removes the work directory', async () => {
    const before = await workDirs('native');
    const child = execa(process.execPath, [join(packageRoot, 'node_modules/vitest/vitest.mjs'), 'bench', '--project', 'native', 'nginx'], {
      cwd: packageRoot,
      // standard profile: 512 MiB file and 10 s runs, so there is time to interrupt mid-benchmark
      env: { VIRTBENCH_PROFILE: 'standard', VIRTBENCH_REPORT_DIR: await mkdtemp(join(tmpdir(), 'virtbench-report-')), CI: 'true' },
      reject: false,
      all: true,
    });
    const started = await waitUntil(
      async () => (await processesMentioning('nginx: master process')).some((p) => p.includes(join(workRoot(), 'virtbench-native-'))),
      60_000,
    );
    expect(started, 'nginx never started').toBe(true);
    await new Promise((r) => setTimeout(r, 1_000)); // downloads under way
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode ?? result.signal, result.all).not.toBe(0);
    expect(await processesOfThisFile()).toEqual([]);
    expect((await workDirs('native')).filter((d) => !before.includes(d))).toEqual([]);
  });
});
