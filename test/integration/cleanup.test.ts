import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/harness/host/paths.js';
import { createWorkDir, removeStaleWorkDirs, removeWorkDir } from '../../src/harness/host/work-dir.js';
import { processesMentioning, workDirs } from './helpers.js';

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

  it('a directory whose owner died is stale and removed at the next start; a live owner keeps it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'virtbench-root-'));
    const stale = join(root, 'virtbench-unit-dead');
    const live = join(root, 'virtbench-unit-live');
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
      async () => (await processesMentioning('nginx: master process')).some((p) => p.includes('virtbench-native-')),
      60_000,
    );
    expect(started, 'nginx never started').toBe(true);
    await new Promise((r) => setTimeout(r, 1_000)); // downloads under way
    child.kill('SIGINT');
    const result = await child;
    expect(result.exitCode ?? result.signal, result.all).not.toBe(0);
    expect(await processesMentioning('virtbench-native-')).toEqual([]);
    expect((await workDirs('native')).filter((d) => !before.includes(d))).toEqual([]);
  });
});
