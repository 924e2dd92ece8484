import { describe, expect, it } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { platformNames, questionsFor, validatePlatformOptions } from '../../src/platforms/index.js';
import { vmImageArgv } from '../../src/platforms/vm-image/argv.js';
import { bootTimeoutHelp } from '../../src/platforms/vm-image/disk.js';
import { validateVmImages, vmImageNames, vmImageSettings } from '../../src/platforms/vm-image/options.js';
import { cloudConfig, ed25519Pair, metaData, seedArgv } from '../../src/platforms/vm-image/seed.js';

const files = { sshPort: 40022, servicePort: 40080, pidFile: '/w/qemu.pid', qmpSocket: '/w/qmp.sock', consoleLog: '/w/console.log' };

function badOption(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(VirtbenchError);
    expect((error as VirtbenchError).code).toBe('VIRTBENCH_BAD_OPTION');
    return (error as Error).message;
  }
  throw new Error('no error');
}

describe('vmImages options', () => {
  it('names a platform per image and accelerator, resolves the path and fills in the defaults', () => {
    const options = validateVmImages(
      { myvm: { image: 'disk.qcow2' }, other: { image: '/i/o.raw', accel: ['tcg'], user: 'debian' } },
      [],
      '/home/u',
    );
    expect(vmImageNames(options)).toEqual(['myvm-tcg', 'myvm-kvm', 'other-tcg']);
    expect(vmImageSettings('myvm-kvm', options)).toEqual({
      name: 'myvm-kvm',
      key: 'myvm',
      image: '/home/u/disk.qcow2',
      format: undefined,
      accel: 'kvm',
      user: 'root',
      memoryMiB: 2048,
      cpus: 2,
      bootTimeoutMs: 120_000,
      login: undefined,
    });
    expect(vmImageSettings('other-tcg', options)).toMatchObject({ user: 'debian', bootTimeoutMs: 300_000 });
    expect(vmImageSettings('other-kvm', options)).toBeUndefined();
  });

  it('refuses what cannot be booted, naming the field and the fix', () => {
    expect(badOption(() => validateVmImages('x', []))).toMatch(/option "vmImages": must map names to images.*\nfix: /);
    expect(badOption(() => validateVmImages({ MyVM: { image: '/a' } }, []))).toMatch(/vmImages.MyVM: a name is lower-case/);
    expect(badOption(() => validateVmImages({ a: { image: '' } }, []))).toMatch(/"image" must be the path/);
    expect(badOption(() => validateVmImages({ a: { image: '/a', format: 'vmdk' } }, []))).toMatch(/"format" must be "raw" or "qcow2"/);
    expect(badOption(() => validateVmImages({ a: { image: '/a', accel: ['hvf'] } }, []))).toMatch(/"accel" must be a non-empty list/);
    expect(badOption(() => validateVmImages({ a: { image: '/a', disk: 1 } }, []))).toMatch(/unknown field "disk"/);
    expect(badOption(() => validateVmImages({ a: { image: '/a', login: { privateKeyPath: '/k' } } }, []))).toMatch(/"login" must be/);
    expect(badOption(() => validateVmImages({ qemu: { image: '/a' } }, ['qemu-tcg']))).toMatch(
      /"qemu-tcg" is a platform of virtbench's own/,
    );
  });

  it('adds its platforms to the registry, and asks what the image costs against the own guest', () => {
    const settings = validatePlatformOptions({ vmImages: { myvm: { image: '/i/d.qcow2', accel: ['tcg'] } } }, {});
    expect(platformNames(settings)).toContain('myvm-tcg');
    expect(platformNames(settings)).not.toContain('myvm-kvm');
    const asked = questionsFor(['native', 'qemu-tcg', 'myvm-tcg'], settings).find((q) => q.question.includes('my VM image'));
    expect(asked?.comparisons).toEqual([{ platform: 'myvm-tcg', against: 'qemu-tcg', benchmarks: ['cpu', 'mem', 'fork'] }]);
    expect(questionsFor(['native', 'myvm-tcg'], settings).find((q) => q.question.includes('my VM image'))).toBeUndefined();
  });

  it('refuses two options that name the same platform (a remote and a VM image; a remote and a container image)', () => {
    expect(
      badOption(() =>
        validatePlatformOptions({ remotes: { 'app-tcg': { host: '192.0.2.1' } }, vmImages: { app: { image: '/i/d.qcow2' } } }, {}),
      ),
    ).toMatch(/the options "remotes" and "vmImages" both name a platform "app-tcg"\nfix: rename/);
    expect(
      badOption(() =>
        validatePlatformOptions(
          { remotes: { 'app-docker': { host: '192.0.2.1' } }, containerImages: { app: { image: 'app:1', under: ['docker'] } } },
          {},
        ),
      ),
    ).toMatch(/both name a platform "app-docker"/);
  });
});

describe('the NoCloud seed', () => {
  it("authorizes the run's key, sets the host key to pin, and lets no password in", () => {
    const host = ed25519Pair('virtbench-host');
    const text = cloudConfig('root', 'ssh-ed25519 AAAAclient virtbench', host);
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    expect(text).toContain('ssh_authorized_keys: ["ssh-ed25519 AAAAclient virtbench"]');
    expect(text).toContain('disable_root: false');
    expect(text).toContain('ssh_pwauth: false');
    expect(text).toContain('ssh_deletekeys: true');
    expect(text).toContain(`  ed25519_public: "${host.publicLine}"`);
    expect(text).toContain('  ed25519_private: |\n    -----BEGIN OPENSSH PRIVATE KEY-----\n');
    expect(text).not.toContain('users:');
    expect(cloudConfig('debian', 'k', host)).toMatch(
      /users:\n {2}- default\n {2}- name: "debian"\n {4}lock_passwd: true\n {4}ssh_authorized_keys: \["k"\]/,
    );
    expect(host.fingerprint).toMatch(/^SHA256:/);
    expect(metaData('myvm-tcg', 'id-1')).toBe('instance-id: id-1\nlocal-hostname: myvm-tcg\n');
    expect(metaData('a')).not.toBe(metaData('a'));
  });

  it('is an ISO labelled cidata, by whichever tool is installed', () => {
    expect(seedArgv('cloud-localds', '/w/seed.iso')).toEqual(['cloud-localds', '/w/seed.iso', 'user-data', 'meta-data']);
    expect(seedArgv('genisoimage', '/w/seed.iso')).toEqual(expect.arrayContaining(['-volid', 'cidata', '-output', '/w/seed.iso']));
    expect(seedArgv('xorriso', '/w/seed.iso').slice(0, 3)).toEqual(['xorriso', '-as', 'mkisofs']);
  });
});

describe("QEMU's command line for a user's image", () => {
  const layout = {
    name: 'virtbench-myvm-tcg',
    accel: 'tcg' as const,
    cpus: 2,
    memoryMiB: 2048,
    overlay: '/w/overlay.qcow2',
    seed: '/w/seed.iso',
  };

  it('boots the overlay with its own bootloader (no -kernel), the seed read-only, forwards on 127.0.0.1 only', () => {
    const argv = vmImageArgv(layout, files);
    expect(argv).not.toContain('-kernel');
    expect(argv).toContain('file=/w/overlay.qcow2,format=qcow2,if=virtio,cache=none,aio=threads');
    expect(argv).toContain('file=/w/seed.iso,format=raw,if=virtio,readonly=on');
    const net = argv[argv.indexOf('-netdev') + 1]!;
    expect(net).toBe('user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:8080');
    expect(argv).toEqual(expect.arrayContaining(['-serial', 'file:/w/console.log', '-pidfile', '/w/qemu.pid']));
    expect(vmImageArgv({ ...layout, seed: undefined }, files).filter((a) => a === '-drive')).toHaveLength(1);
  });
});

describe('a boot that never answered', () => {
  const settings = { key: 'myvm', accel: 'tcg' as const };

  it('with an empty console names a disk that boots nothing and a wrong architecture, then the fix', () => {
    const help = bootTimeoutHelp('', { path: '/i/zero.raw', bootSignature: false }, settings, true);
    expect(help).toMatch(/no BIOS boot signature \(0x55AA\)/);
    expect(help).toMatch(/wrong architecture\?/);
    expect(help).toMatch(/\nfix: .*vmImages\.myvm\.bootTimeoutSeconds/);
  });

  it('with a console names the ssh server, cloud-init and the slow emulation', () => {
    const help = bootTimeoutHelp('[ 1.0] Linux version', { path: '/i/d.qcow2', bootSignature: true }, settings, true);
    expect(help).not.toMatch(/boot signature|wrong architecture/);
    expect(help).toMatch(/no ssh server answered.*cloud-init may not have run.*under TCG/s);
  });
});

describe("the user's own login (no seed)", () => {
  it("takes the key and the host keys listed under the image's name, and says what is missing with the fix", async () => {
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { givenLogin } = await import('../../src/platforms/vm-image/index.js');
    const dir = await mkdtemp(join(tmpdir(), 'vm-image-login-'));
    const key = join(dir, 'id_ed25519');
    const known = join(dir, 'known_hosts');
    const host = ed25519Pair('h');
    await writeFile(known, `other ${host.publicLine}\n`);
    const login = { privateKeyPath: key, knownHostsPath: known };
    expect(await givenLogin({ key: 'myvm', login })).toEqual({
      reason: expect.stringMatching(/^cannot read the private key .*id_ed25519; fix: set vmImages\.myvm\.login\.privateKeyPath/),
    });
    await writeFile(key, ed25519Pair('c').privateKey, { mode: 0o600 });
    expect(await givenLogin({ key: 'myvm', login })).toEqual({
      reason: expect.stringMatching(
        /known_hosts lists no key for "myvm"; fix: add the image's host key as a line "myvm ssh-ed25519 AAAA\.\.\."/,
      ),
    });
    await writeFile(known, `myvm ${host.publicLine}\n`);
    expect(await givenLogin({ key: 'myvm', login })).toEqual({ clientKey: key, hostKeys: [host.blob] });
  });
});
