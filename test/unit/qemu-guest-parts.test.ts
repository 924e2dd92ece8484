import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hostAptSource } from '../../src/host/apt-sources.js';
import { aptSources } from '../../src/platforms/qemu/apt.js';
import { GUEST_PACKAGES, initramfsInit, recipeHash } from '../../src/platforms/qemu/guest-recipe.js';
import { loadOrder, readModinfo } from '../../src/platforms/qemu/kernel-modules.js';
import { fingerprintOf, generateHostKey } from '../../src/platforms/qemu/keys.js';
import { commandLine, shellQuote } from '../../src/platforms/qemu/ssh.js';

/** A minimal ELF64 LE object with a .shstrtab and a .modinfo section, as a kernel module has. */
function fakeModule(modinfo: string[]): Buffer {
  const shstrtab = Buffer.from('\0.shstrtab\0.modinfo\0');
  const info = Buffer.from(modinfo.map((s) => `${s}\0`).join(''));
  const header = Buffer.alloc(64);
  header.writeUInt32BE(0x7f454c46, 0);
  header[4] = 2; // 64-bit
  header[5] = 1; // little-endian
  const shoff = 64 + shstrtab.length + info.length;
  header.writeBigUInt64LE(BigInt(shoff), 0x28);
  header.writeUInt16LE(64, 0x3a);
  header.writeUInt16LE(3, 0x3c);
  header.writeUInt16LE(1, 0x3e);
  const section = (name: number, offset: number, size: number) => {
    const s = Buffer.alloc(64);
    s.writeUInt32LE(name, 0);
    s.writeBigUInt64LE(BigInt(offset), 24);
    s.writeBigUInt64LE(BigInt(size), 32);
    return s;
  };
  return Buffer.concat([
    header,
    shstrtab,
    info,
    section(0, 0, 0),
    section(1, 64, shstrtab.length),
    section(11, 64 + shstrtab.length, info.length),
  ]);
}

describe('kernel modules', () => {
  it('reads depends= from the .modinfo section', () => {
    const info = readModinfo(fakeModule(['license=GPL', 'depends=jbd2,mbcache,crc16', 'name=ext4']));
    expect(info.get('depends')).toBe('jbd2,mbcache,crc16');
    expect(info.get('name')).toBe('ext4');
    expect(() => readModinfo(Buffer.from('not an elf file at all, not at all.........................................'))).toThrow(/ELF64/);
  });

  it('orders modules dependencies first, skips built-ins, and names a missing module with its chain', () => {
    const deps: Record<string, string[]> = {
      ext4: ['jbd2', 'mbcache'],
      jbd2: [],
      mbcache: [],
      sd_mod: ['scsi_mod', 't10-pi'],
      scsi_mod: ['scsi_common'],
      scsi_common: [],
    };
    expect(loadOrder(['sd_mod', 'ext4'], (n) => deps[n], new Set(['t10_pi']))).toEqual([
      'scsi_common',
      'scsi_mod',
      'sd_mod',
      'jbd2',
      'mbcache',
      'ext4',
    ]);
    expect(() => loadOrder(['ext4'], (n) => (n === 'ext4' ? ['nosuch'] : undefined), new Set())).toThrow(
      'kernel module nosuch not found (needed by ext4)',
    );
  });
});

describe('guest recipe', () => {
  it('loads the modules in the given order and switches to the disk root with busybox init', () => {
    const init = initramfsInit(['virtio', 'virtio_blk']);
    expect(init).toMatch(/^#!\/bin\/busybox sh\n/);
    expect(init).toContain('for m in virtio virtio_blk; do');
    expect(init).toContain('exec switch_root /newroot /bin/busybox init');
  });

  it('has a stable recipe hash (part of the image cache key)', () => {
    expect(recipeHash()).toMatch(/^[0-9a-f]{12}$/);
    expect(recipeHash()).toBe(recipeHash());
  });

  it('installs busybox and dropbear, then the packages the workloads need, in the order the cached image was built with', () => {
    expect(GUEST_PACKAGES).toEqual(['busybox-static', 'dropbear-bin', 'fio', 'nginx-light']);
  });
});

describe('guest image apt sources', () => {
  // Mirror names here are reserved test names (RFC 2606), never a real mirror.
  const MIRROR = 'http://apt.test/debian';

  it("uses the host's sources file as it is, deb822 or one-line, and its release", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-apt-'));
    const deb822 = join(dir, 'debian.sources');
    await writeFile(deb822, `Types: deb\n# comment\nURIs: ${MIRROR}\nSuites: bookworm bookworm-updates\n`);
    expect(await aptSources(join(dir, 'state'), hostAptSource({ VIRTBENCH_DEBIAN_SOURCES: deb822 }))).toEqual({
      file: deb822,
      suite: 'bookworm',
    });
    const oneLine = join(dir, 'sources.list');
    await writeFile(oneLine, `# x\ndeb-src ${MIRROR} sid main\ndeb [signed-by=/k.gpg] ${MIRROR} trixie main\n`);
    expect(await aptSources(join(dir, 'state'), hostAptSource({ VIRTBENCH_DEBIAN_SOURCES: oneLine }))).toEqual({
      file: oneLine,
      suite: 'trixie',
    });
  });

  it('writes a one-line sources.list into its state directory when VIRTBENCH_DEBIAN_MIRROR or _SUITE override the host', async () => {
    const state = join(await mkdtemp(join(tmpdir(), 'virtbench-apt-')), 'state');
    const sources = await aptSources(state, { mirror: MIRROR, suite: 'trixie' });
    expect(sources).toEqual({ file: join(state, 'sources.list'), suite: 'trixie' });
    expect(await readFile(sources.file, 'utf8')).toBe(`deb ${MIRROR} trixie main\n`);
  });

  it('says how to point it at a mirror when there are no sources at all', async () => {
    const state = join(await mkdtemp(join(tmpdir(), 'virtbench-apt-')), 'state');
    await expect(aptSources(state, { suite: 'bookworm' })).rejects.toThrow(
      /no Debian apt sources.*fix: set VIRTBENCH_DEBIAN_SOURCES.*VIRTBENCH_DEBIAN_MIRROR/,
    );
  });
});

describe('keys', () => {
  it('writes the host key in dropbear format with the public key the fingerprint is taken from', () => {
    const key = generateHostKey();
    const blob = Buffer.from(key.publicBlob, 'base64');
    expect(blob.readUInt32BE(0)).toBe(11);
    expect(blob.toString('latin1', 4, 15)).toBe('ssh-ed25519');
    const pub = blob.subarray(19);
    expect(pub.length).toBe(32);
    // dropbear: string "ssh-ed25519", then string(seed || public key)
    expect(key.dropbearPrivate.subarray(0, 15).equals(blob.subarray(0, 15))).toBe(true);
    expect(key.dropbearPrivate.readUInt32BE(15)).toBe(64);
    expect(key.dropbearPrivate.subarray(19 + 32).equals(pub)).toBe(true);
    expect(key.fingerprint).toBe(fingerprintOf(blob));
    expect(key.fingerprint).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});

describe('ssh command lines', () => {
  it('quotes every argument so the guest shell runs exactly the argv', () => {
    const argv = ['printf', '%s|', 'a b', "it's", '$HOME', '`x`', '', 'plain-arg=1'];
    const line = commandLine(argv, { cwd: '/mnt/bench/dir with space' });
    expect(line.startsWith(`cd '/mnt/bench/dir with space' && exec printf`)).toBe(true);
    const printed = execFileSync('sh', ['-c', line.replace(/^cd .*? && /, '')], { encoding: 'utf8' });
    expect(printed).toBe("a b|it's|$HOME|`x`||plain-arg=1|");
    expect(shellQuote('')).toBe("''");
  });

  it('adds a guest-side kill guard a little after the host-side timeout', () => {
    expect(commandLine(['fio', '--x'], { timeoutMs: 60_000 })).toBe('exec /bin/busybox timeout -s KILL 65 fio --x');
  });
});
