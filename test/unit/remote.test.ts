import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { knownHostKeys, knownHostsName, patternsMatch } from '../../src/host/known-hosts.js';
import { createPlatform } from '../../src/platforms/index.js';
import { cleanupCommand, opensshArgv, readHostKeys, remoteCommandLine } from '../../src/platforms/remote/index.js';
import { resolveRemote, validateRemotes } from '../../src/platforms/remote/options.js';
import { parseProbe } from '../../src/platforms/remote/probe.js';
import { workloads } from '../../src/workloads/index.js';
import { resolveOptions } from '../../src/plugin.js';
import { errorOf } from '../builders.js';

const KEY_A = 'AAAAC3NzaC1lZDI1NTE5AAAAIHhashedexamplekeyAAAAAAAAAAAAAAAAAAAAAAAAA';
const KEY_B = 'AAAAC3NzaC1lZDI1NTE5AAAAIBotherexamplekeyBBBBBBBBBBBBBBBBBBBBBBBBB';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'virtbench-remote-unit-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

describe('known_hosts, read as OpenSSH reads it', () => {
  it('names a host by itself on port 22 and as [host]:port otherwise', () => {
    expect(knownHostsName('lab1.example', 22)).toBe('lab1.example');
    expect(knownHostsName('198.51.100.2', 2222)).toBe('[198.51.100.2]:2222');
  });

  it('matches plain names, lists, wildcards and negations', () => {
    expect(patternsMatch('lab1,lab2', 'lab2')).toBe(true);
    expect(patternsMatch('lab1', 'lab10')).toBe(false);
    expect(patternsMatch('*.example', 'LAB1.example')).toBe(true);
    expect(patternsMatch('lab?', 'lab7')).toBe(true);
    expect(patternsMatch('*.example,!db.example', 'db.example')).toBe(false);
    expect(patternsMatch('[198.51.100.2]:2222', '198.51.100.2')).toBe(false);
  });

  it('matches a hashed entry written by ssh-keygen -H', () => {
    // `echo "[198.51.100.2]:2222 ssh-ed25519 <key>" > kh; ssh-keygen -H -f kh`, OpenSSH 9.2.
    const hashed = `|1|xxUlZgl2kOhK2Hso6XDUTbkQV8A=|nEcV8x3wZgXEGfK0DwyWVZZT5y0= ssh-ed25519 ${KEY_A}`;
    expect(knownHostKeys(hashed, '198.51.100.2', 2222).accepted).toEqual([KEY_A]);
    expect(knownHostKeys(hashed, '198.51.100.2', 22).accepted).toEqual([]);
    expect(knownHostKeys(hashed, '198.51.100.3', 2222).accepted).toEqual([]);
  });

  it('compares names in lower case as ssh does: hashed and plain entries of a mixed-case host match', () => {
    // `printf 'Lab1.Example.com ssh-ed25519 <key>\n[Lab1.Example.com]:2222 ssh-ed25519 <key>\n' > kh;
    // ssh-keygen -H -f kh`, OpenSSH 9.2: ssh-keygen hashes the lowercased name, and ssh lowercases the
    // host it connects to before hashing or matching.
    const hashed = [
      `|1|hihzpRv9073P8DnVPXH6mFSAVMk=|K9DpF0DyzL/D4z0HriSgurWt25o= ssh-ed25519 ${KEY_A}`,
      `|1|t+/UfuWby9eySIuA0kkVFe6p5xQ=|AWiHQP6UBsgMmaaZliZRQFa5pjk= ssh-ed25519 ${KEY_B}`,
    ].join('\n');
    for (const host of ['Lab1.Example.com', 'lab1.example.com', 'LAB1.EXAMPLE.COM']) {
      expect(knownHostKeys(hashed, host, 22).accepted).toEqual([KEY_A]);
      expect(knownHostKeys(hashed, host, 2222).accepted).toEqual([KEY_B]);
    }
    expect(knownHostKeys(hashed, 'Lab2.Example.com', 22).accepted).toEqual([]);
    const plain = [`Lab1.Example.com ssh-ed25519 ${KEY_A}`, `[LAB1.example.com]:2222 ssh-ed25519 ${KEY_B}`].join('\n');
    for (const host of ['Lab1.Example.com', 'lab1.example.com', 'LAB1.EXAMPLE.COM']) {
      expect(knownHostKeys(plain, host, 22).accepted).toEqual([KEY_A]);
      expect(knownHostKeys(plain, host, 2222).accepted).toEqual([KEY_B]);
    }
    expect(knownHostsName('Lab1.Example.com', 2222)).toBe('[lab1.example.com]:2222');
  });

  it('accepts every key listed for the host, never a revoked one, and reports a CA it does not trust', () => {
    const text = [
      '# comment',
      '',
      `lab1,198.51.100.2 ssh-ed25519 ${KEY_A} root@lab1`,
      `lab1 ssh-ed25519 ${KEY_B}`,
      `@revoked lab1 ssh-ed25519 ${KEY_B}`,
      `@cert-authority *.example ssh-ed25519 ${KEY_B}`,
      `other ssh-ed25519 ${KEY_B}`,
    ].join('\n');
    expect(knownHostKeys(text, 'lab1', 22)).toEqual({ accepted: [KEY_A], revoked: [KEY_B], certAuthority: false });
    expect(knownHostKeys(text, 'db.example', 22)).toEqual({ accepted: [], revoked: [], certAuthority: true });
  });

  it('says why a host has no usable key, and how to add one after checking its fingerprint', async () => {
    const dir = await tempDir();
    const file = join(dir, 'known_hosts');
    const remote = resolveRemote('lab1', { host: '198.51.100.2', port: 2222, knownHostsPath: file, privateKeyPath: '/k' });
    expect(await readHostKeys(remote)).toEqual({
      reason: expect.stringMatching(/^cannot read known_hosts file .*\(ENOENT\); fix: compare/),
    });
    await writeFile(file, `[198.51.100.2]:2222 ssh-ed25519 ${KEY_A}\n`);
    expect(await readHostKeys(remote)).toEqual({ keys: [KEY_A] });
    await writeFile(file, `@revoked [198.51.100.2]:2222 ssh-ed25519 ${KEY_A}\n`);
    expect(await readHostKeys(remote)).toEqual({
      reason: expect.stringMatching(/lists only revoked keys for it; fix: .*ssh-keyscan -p 2222 198\.51\.100\.2 >> /),
    });
  });
});

describe('the remote probe', () => {
  const output = [
    'kernel=6.1.0-18-amd64',
    'arch=x86_64',
    'hostname=lab1',
    'os=Debian GNU/Linux 12 (bookworm)',
    'cpus=8',
    'cpuModel=Intel(R) Xeon(R) = Gold',
    'memoryKiB=32795612',
    'virtualization=kvm',
    'hypervisorFlag=yes',
    'has=fio',
    'has=timeout',
    'fio=fio-3.33',
    'user=0',
    'connection=198.51.100.1 40022 198.51.100.2 22',
  ].join('\n');

  it('reads the environment, the tools and the two ends of the connection', () => {
    const probe = parseProbe(output);
    expect(probe).toEqual({
      arch: 'x86_64',
      tools: ['fio', 'timeout'],
      clientAddress: '198.51.100.1',
      serverAddress: '198.51.100.2',
      root: true,
      info: {
        hostname: 'lab1',
        os: 'Debian GNU/Linux 12 (bookworm)',
        kernel: '6.1.0-18-amd64',
        arch: 'x86_64',
        cpuModel: 'Intel(R) Xeon(R) = Gold',
        cpus: 8,
        memoryGiB: 31,
        virtualization: 'kvm',
        fio: 'fio-3.33',
        nginx: 'not installed',
      },
    });
  });

  it('tells bare metal from a guest that systemd-detect-virt does not name, and says when it is missing', () => {
    const without = (line: string) => output.replace(new RegExp(`^${line}.*\\n`, 'm'), '');
    expect(parseProbe(output.replace('virtualization=kvm', 'virtualization=none')).info.virtualization).toBe(
      'none detected (the CPU reports a hypervisor)',
    );
    expect(parseProbe(without('hypervisorFlag').replace('virtualization=kvm', 'virtualization=none')).info.virtualization).toBe(
      'none (bare metal)',
    );
    expect(parseProbe(without('virtualization')).info.virtualization).toMatch(/systemd-detect-virt is not installed/);
  });

  it('refuses an answer that is not the probe', () => {
    expect(() => parseProbe('Welcome to lab1!\n')).toThrow(/lacks the kernel/);
    expect(() => parseProbe(output.replace(/^connection=.*$/m, 'connection='))).toThrow(/lacks SSH_CONNECTION/);
  });
});

describe('remote hosts in the options', () => {
  it('become platforms of the run, also where "platforms" does not list them', () => {
    const options = resolveOptions({ platforms: ['native'], remotes: { lab1: { host: '198.51.100.2' } } }, {});
    expect(options.platforms).toEqual(['native', 'lab1']);
    expect(createPlatform('lab1', options.settings).name).toBe('lab1');
    expect(resolveOptions({ platforms: ['lab1', 'native'], remotes: { lab1: { host: 'h' } } }, {}).platforms).toEqual(['lab1', 'native']);
    expect(errorOf(() => resolveOptions({ platforms: ['lab2'], remotes: { lab1: { host: 'h' } } }, {})).message).toMatch(
      /unknown platform "lab2"; valid platforms: native, .*, lab1/,
    );
  });

  it('come from VIRTBENCH_REMOTES too, whose entries win', async () => {
    const dir = await tempDir();
    const file = join(dir, 'remotes.json');
    await writeFile(file, JSON.stringify({ lab1: { host: '198.51.100.2', port: 2222 }, lab2: { host: '198.51.100.6' } }));
    const options = resolveOptions({ platforms: ['native'], remotes: { lab1: { host: 'old' } } }, { VIRTBENCH_REMOTES: file });
    expect(options.platforms).toEqual(['native', 'lab1', 'lab2']);
    expect(options.settings.remotes).toEqual({ lab1: { host: '198.51.100.2', port: 2222 }, lab2: { host: '198.51.100.6' } });
    await writeFile(file, '[1, 2]');
    expect(errorOf(() => resolveOptions({}, { VIRTBENCH_REMOTES: file })).message).toMatch(/is not a JSON object of remote hosts\nfix: /);
    expect(errorOf(() => resolveOptions({}, { VIRTBENCH_REMOTES: join(dir, 'none.json') })).message).toMatch(/cannot be read .*\nfix: /);
  });

  it('are refused with the field, what it must be and the valid fields', () => {
    const refused = (remotes: unknown) => errorOf(() => validateRemotes(remotes, ['native', 'docker'], {})).message;
    expect(refused([])).toMatch(/option "remotes" must map names to hosts/);
    expect(refused({ Lab1: { host: 'h' } })).toMatch(/remote "Lab1": a name is lower-case letters/);
    expect(refused({ docker: { host: 'h' } })).toMatch(/"docker" is a platform of virtbench's own/);
    expect(refused({ lab1: { host: 'h', user: 'x' } })).toMatch(/unknown field "user"; valid fields: host, port, username/);
    expect(refused({ lab1: {} })).toMatch(/"host" must be a host name or address/);
    expect(refused({ lab1: { host: '-oProxyCommand=x' } })).toMatch(/"host" must be a host name or address/);
    expect(refused({ lab1: { host: 'h', port: 70000 } })).toMatch(/"port" must be a TCP port/);
    expect(refused({ lab1: { host: 'h', username: 'a b' } })).toMatch(/"username" must be a user name/);
    expect(refused({ lab1: { host: 'h', workRoot: 'tmp' } })).toMatch(/"workRoot" .* must be absolute/);
  });

  it("take ssh's defaults: port 22, the local user, ~/.ssh/known_hosts, a work root on disk", () => {
    const remote = resolveRemote('lab1', { host: 'h', privateKeyPath: '~/keys/lab' }, {});
    expect(remote).toMatchObject({ port: 22, workRoot: '/var/tmp', privateKeyPath: expect.stringMatching(/\/keys\/lab$/) });
    expect(remote.knownHostsPath).toMatch(/\/\.ssh\/known_hosts$/);
    expect(remote.privateKeyPath!.startsWith('~')).toBe(false);
  });

  it('are unavailable with the fix when the key cannot be read or used (another format, a passphrase)', async () => {
    const dir = await tempDir();
    const knownHostsPath = join(dir, 'known_hosts');
    await writeFile(knownHostsPath, `198.51.100.2 ssh-ed25519 ${KEY_A}\n`);
    const availability = (privateKeyPath: string) =>
      createPlatform('lab1', { remotes: { lab1: { host: '198.51.100.2', privateKeyPath, knownHostsPath } } }).availability();
    expect(await availability(join(dir, 'none'))).toEqual({
      available: false,
      reason: expect.stringMatching(/^cannot read the private key .*; fix: set remotes\.lab1\.privateKeyPath/),
    });
    await writeFile(join(dir, 'garbage'), 'not a key\n');
    expect(await availability(join(dir, 'garbage'))).toEqual({
      available: false,
      reason: expect.stringMatching(/cannot be used: Unsupported key format; fix: a key without a passphrase/),
    });
    const encrypted = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: 'secret', cipher: 'aes256-ctr', rounds: 1 }).private;
    await writeFile(join(dir, 'encrypted'), encrypted);
    expect(await availability(join(dir, 'encrypted'))).toEqual({
      available: false,
      reason: expect.stringMatching(/cannot be used: Encrypted .* no passphrase given; fix: /),
    });
    await writeFile(join(dir, 'usable'), ssh2.utils.generateKeyPairSync('ed25519').private);
    expect(await availability(join(dir, 'usable'))).toEqual({ available: true });
  });

  it('report a benchmark n/a where its tool is not installed on the remote', async () => {
    const options = resolveOptions({ platforms: ['native'], remotes: { lab1: { host: 'h', privateKeyPath: '/k' } } }, {});
    const platform = createPlatform('lab1', options.settings);
    const started = await platform.connect({
      workDir: '/var/tmp/virtbench-remote-x',
      hostKeys: KEY_A,
      serverAddress: '198.51.100.2',
      clientAddress: '198.51.100.1',
      missing: 'nginx',
      root: false,
      info: {},
    });
    expect(started.unsupported?.(workloads.nginx)).toMatch(
      /^nginx is not installed on lab1 \(h\); fix: install it there \(apt-get install nginx-light\)/,
    );
    expect(started.unsupported?.(workloads['disk-random'])).toBeUndefined();
    expect(started.unsupported?.(workloads.cpu)).toBeUndefined();
    // Not root there: the page cache is not flushed, and the report says so.
    expect(await started.flushCaches()).toBe(false);
    expect(await started.serviceAddress()).toMatchObject({
      host: '198.51.100.2',
      allowFrom: '198.51.100.1',
      listen: /^198\.51\.100\.2:\d+$/,
    });
  });
});

describe('commands on the remote', () => {
  it('run in the work directory, quoted, killed there a little after the host gives up', () => {
    expect(remoteCommandLine(['fio', '--name=a b'], { cwd: '/var/tmp/w', timeoutMs: 60_000, guard: true })).toBe(
      "cd /var/tmp/w && exec timeout -s KILL 65 fio '--name=a b'",
    );
    expect(remoteCommandLine(["it's"], { cwd: '/w', guard: true })).toBe(`cd /w && exec 'it'\\''s'`);
    expect(remoteCommandLine(['x'], { cwd: '/w', timeoutMs: 1000, guard: false })).toBe('cd /w && exec x');
  });

  it("OpenSSH's client for the exit handler never prompts and never learns a host key", () => {
    const remote = resolveRemote(
      'lab1',
      { host: 'lab1.example', port: 2200, username: 'bench', privateKeyPath: '/keys/lab1', knownHostsPath: '/kh' },
      {},
    );
    const argv = opensshArgv(remote, 'true');
    expect(argv.join(' ')).toBe(
      'ssh -o BatchMode=yes -o ConnectTimeout=5 -o StrictHostKeyChecking=yes -o UserKnownHostsFile=/kh -o GlobalKnownHostsFile=/dev/null ' +
        '-o IdentitiesOnly=yes -i /keys/lab1 -p 2200 -l bench -- lab1.example true',
    );
  });

  it("the cleanup stops the run's processes (working directory inside the work directory) and removes it, and nothing else", async () => {
    const root = await tempDir();
    const workDir = join(root, 'virtbench-remote-x');
    await mkdir(join(workDir, 'nginx'), { recursive: true });
    const ours = spawn('sleep', ['600'], { cwd: join(workDir, 'nginx'), stdio: 'ignore' });
    const other = spawn('sleep', ['600'], { cwd: root, stdio: 'ignore' });
    cleanups.push(async () => other.kill('SIGKILL'));
    const exited = new Promise((resolve) => ours.once('exit', (_code, signal) => resolve(signal)));
    const result = spawnSync('sh', ['-c', cleanupCommand(workDir)], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(await exited).toBe('SIGKILL');
    expect(existsSync(workDir)).toBe(false);
    expect(other.exitCode).toBeNull();
    expect(other.signalCode).toBeNull();
  });
});
