import { existsSync } from 'node:fs';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import type { VirtbenchError } from '../../src/errors.js';
import { packageRoot, cacheDir } from '../../src/host/paths.js';
import { workRoot } from '../../src/host/work-dir.js';
import type { Platform } from '../../src/platforms/platform.js';
import { createPlatform } from '../../src/platforms/index.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { workloads } from '../../src/workloads/index.js';
import { processesMentioning } from './helpers.js';

/*
 * A remote host simulated on this machine (scripts/simulated-remote.sh): OpenSSH's sshd in a network
 * namespace of its own, 198.51.100.6 behind a veth pair. It shares this machine's file system, so the
 * remote's work directory is made in this test file's work root, whose emptiness at the end is checked.
 */

const SCRIPT = join(packageRoot, 'scripts/simulated-remote.sh');
// The second simulated remote: a developer's own (the first, 198.51.100.2) may be up meanwhile.
const env = { SIMULATED_REMOTE: '1' };
const DIR = '/run/virtbench-remote1';
const ADDRESS = '198.51.100.6';
const NAME = 'lab9';
const log: string[] = [];
const context = { cacheDir: cacheDir(), log: (line: string) => void log.push(line) };
let cannot: string | undefined;

function remote(overrides: Record<string, unknown> = {}): Platform {
  const lab = {
    host: ADDRESS,
    username: 'root',
    privateKeyPath: `${DIR}/client_ed25519`,
    knownHostsPath: `${DIR}/known_hosts`,
    workRoot: workRoot(),
    ...overrides,
  };
  return createPlatform(NAME, { remotes: { [NAME]: lab } });
}

async function simulated(command: 'up' | 'down' | 'vanish'): Promise<void> {
  await execa('bash', [SCRIPT, command, DIR], { env });
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) cannot = 'needs root (a network namespace and sshd)';
  else if (!existsSync('/usr/sbin/sshd'))
    cannot = "needs OpenSSH's server (apt-get install openssh-server, or npx virtbench setup --install --test as root)";
  else await simulated('up');
});

afterAll(async () => {
  if (!cannot) await simulated('down');
});

function skipUnlessUp(t: TestContext): void {
  if (cannot) t.skip(cannot);
}

async function remoteWorkDirs(): Promise<string[]> {
  return (await readdir(workRoot())).filter((e) => e.startsWith('virtbench-remote-'));
}

describe('a remote host over ssh2 (simulated: sshd in a network namespace)', () => {
  test('runs the workloads there, reports its environment, serves nginx from its address, and leaves nothing', async (t) => {
    skipUnlessUp(t);
    const platform = remote();
    expect(await platform.availability()).toEqual({ available: true });
    const provisioned = await platform.provision(context);
    let stopped = false;
    try {
      const [workDir] = await remoteWorkDirs();
      expect(workDir).toBeDefined();
      const started = await platform.connect(provisioned.facts);
      expect(started.workDir).toBe(join(workRoot(), workDir!));

      // The same machine: the same kernel, and the probe's facts.
      const uname = await started.exec(['uname', '-r']);
      expect(uname).toMatchObject({ exitCode: 0, stdout: (await execa('uname', ['-r'])).stdout + '\n' });
      expect(await started.exec(['sh', '-c', 'exit 3'])).toMatchObject({ exitCode: 3 });
      expect(await started.describe()).toMatchObject({
        kernel: uname.stdout.trim(),
        arch: 'x86_64',
        virtualization: expect.any(String),
        ssh: `root@${ADDRESS}:22`,
      });
      // Commands run in the work directory, and a runaway one is stopped at its timeout.
      expect((await started.exec(['pwd'])).stdout.trim()).toBe(started.workDir);
      const slow = await started.exec(['sleep', '30'], { timeoutMs: 1_000 });
      expect(slow.timedOut).toBe(true);

      const cpu = await prepareWorkload(started, workloads.cpu, PROFILES.quick, { cacheDir: cacheDir() });
      expect((await cpu.runOnce()).value).toBeGreaterThan(1000);
      await cpu.dispose();

      // nginx listens on the remote's address and lets in only the host's end of the connection.
      const address = await started.serviceAddress();
      expect(address).toMatchObject({ host: ADDRESS, allowFrom: '198.51.100.5' });
      const nginx = await prepareWorkload(started, workloads.nginx, PROFILES.quick, { cacheDir: cacheDir() });
      try {
        const figure = await nginx.runOnce();
        expect(figure.extra).toMatchObject({ parallel: PROFILES.quick.nginx.parallel });
        expect(Number(figure.extra.downloads)).toBeGreaterThanOrEqual(PROFILES.quick.nginx.parallel);
      } finally {
        await nginx.dispose();
      }
      expect(await started.flushCaches()).toBe(true);
      await started.close();

      // A server still running at the end (its stop never came) is stopped with the work directory.
      const lingering = started.exec(['sleep', '601']);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await processesMentioning('sleep\u0000601')).toHaveLength(1);
      await provisioned.stop();
      stopped = true;
      expect(await processesMentioning('sleep\u0000601')).toEqual([]);
      expect(await lingering).toMatchObject({ exitCode: 137 });
      expect(await remoteWorkDirs()).toEqual([]);
    } finally {
      if (!stopped) await provisioned.stop();
    }
  });

  test('refuses a host key other than the one in known_hosts, naming both fingerprints and the file', async (t) => {
    skipUnlessUp(t);
    const knownHosts = join(workRoot(), 'other_known_hosts');
    const other = ssh2.utils.generateKeyPairSync('ed25519').public.split(' ').slice(0, 2).join(' ');
    await writeFile(knownHosts, `${ADDRESS} ${other}\n`);
    try {
      const error = (await remote({ knownHostsPath: knownHosts })
        .provision(context)
        .catch((e: unknown) => e)) as VirtbenchError;
      expect(error.code).toBe('VIRTBENCH_HOST_KEY_MISMATCH');
      expect(error.message).toMatch(
        new RegExp(`presented host key SHA256:\\S+, but known_hosts file ${knownHosts} pinned SHA256:\\S+: refusing to connect`),
      );
      expect(await remoteWorkDirs()).toEqual([]);
      // No entry at all: not available, with how to add one after checking it.
      await writeFile(knownHosts, '');
      expect(await remote({ knownHostsPath: knownHosts }).availability()).toEqual({
        available: false,
        reason: expect.stringMatching(/has no key for it; fix: compare the host's fingerprint/),
      });
    } finally {
      await rm(knownHosts, { force: true });
    }
  });

  test('a remote that vanishes mid-run fails the command under way at once, later ones without waiting again, and stop() says what is left there', async (t) => {
    skipUnlessUp(t);
    const platform = remote();
    const provisioned = await platform.provision(context);
    const [workDir] = await remoteWorkDirs();
    try {
      const started = await platform.connect(provisioned.facts);
      const running = started.exec(['sleep', '600']).catch((e: unknown) => e as VirtbenchError);
      await new Promise((resolve) => setTimeout(resolve, 500));
      const gone = Date.now();
      await simulated('vanish');
      const lost = await running;
      expect(lost).toMatchObject({
        code: 'VIRTBENCH_GUEST_LOST',
        message: expect.stringMatching(/^\[lab9\] lost the remote host lab9 \(root@198\.51\.100\.6:22\) while running `sleep 600`/),
      });
      expect(Date.now() - gone).toBeLessThan(5_000);
      // The next command tries one new connection, the one after fails at once with the same cause.
      const again = (await started.exec(['true']).catch((e: unknown) => e)) as VirtbenchError;
      expect(again.code).toBe('VIRTBENCH_GUEST_LOST');
      const third = Date.now();
      expect(await started.exec(['true']).catch((e: unknown) => e)).toBe(again);
      expect(Date.now() - third).toBeLessThan(100);

      const stopping = Date.now();
      log.length = 0;
      await provisioned.stop();
      expect(Date.now() - stopping).toBeLessThan(15_000);
      expect(log.join('\n')).toMatch(
        new RegExp(`could not remove ${join(workRoot(), workDir!)} on 198\\.51\\.100\\.6: .*; remove it there: sh -c`, 's'),
      );
    } finally {
      // The remote's disk is this machine's: what a vanished remote keeps, removed here.
      if (workDir) await rm(join(workRoot(), workDir), { recursive: true, force: true });
      await simulated('down');
      await simulated('up');
    }
    expect(await readFile(`${DIR}/known_hosts`, 'utf8')).toMatch(new RegExp(`^${ADDRESS.replaceAll('.', '\\.')} ssh-ed25519 `));
  });
});
