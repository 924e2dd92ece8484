import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildFailedError } from '../../errors.js';

/*
 * The Debian kernel builds virtio, ext4 and the IDE/SCSI drivers as modules,
 * and a .deb carries no modules.dep (depmod runs in its postinst). So the
 * initramfs builder reads each module's own `depends=` from its .modinfo ELF
 * section and loads modules in dependency order with plain insmod.
 */

/** What the guest needs before it can mount its disks and reach the network. */
export const GUEST_MODULES = [
  'virtio_pci',
  'virtio_blk',
  'virtio_net',
  'virtio_rng',
  // sd_mod's integrity helpers ask the crypto API for these two; loaded first for the same reason as crc32c.
  'crct10dif_generic',
  'crc64_rocksoft_generic',
  'ata_piix',
  'sd_mod',
  // ext4's metadata checksums ask the crypto API for crc32c, which cannot load modules on its own here.
  'crc32c_generic',
  'ext4',
];

/** Module names use - and _ interchangeably. */
export function normalizeModuleName(name: string): string {
  return name.replaceAll('-', '_');
}

/** The key=value strings of an ELF64 little-endian object's .modinfo section. */
export function readModinfo(elf: Buffer): Map<string, string> {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) throw new Error('not an ELF64 little-endian object');
  const shoff = Number(elf.readBigUInt64LE(0x28));
  const shentsize = elf.readUInt16LE(0x3a);
  const shnum = elf.readUInt16LE(0x3c);
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    return { name: elf.readUInt32LE(base), offset: Number(elf.readBigUInt64LE(base + 24)), size: Number(elf.readBigUInt64LE(base + 32)) };
  };
  const names = section(elf.readUInt16LE(0x3e));
  const info = new Map<string, string>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    const nameEnd = elf.indexOf(0, names.offset + s.name);
    if (elf.toString('latin1', names.offset + s.name, nameEnd) !== '.modinfo') continue;
    for (const entry of elf.toString('latin1', s.offset, s.offset + s.size).split('\0')) {
      const eq = entry.indexOf('=');
      if (eq > 0 && !info.has(entry.slice(0, eq))) info.set(entry.slice(0, eq), entry.slice(eq + 1));
    }
  }
  return info;
}

/**
 * Modules to load, dependencies first. `dependsOf(name)` gives a module's
 * dependencies, or undefined when there is no such module file; built-in
 * modules need no loading.
 */
export function loadOrder(
  wanted: readonly string[],
  dependsOf: (name: string) => string[] | undefined,
  builtin: ReadonlySet<string>,
): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (raw: string, chain: string[]) => {
    const name = normalizeModuleName(raw);
    if (builtin.has(name) || order.includes(name) || visiting.has(name)) return;
    const deps = dependsOf(name);
    if (deps === undefined) throw new Error(`kernel module ${name} not found (needed by ${chain.join(' <- ') || 'the guest'})`);
    visiting.add(name);
    for (const dep of deps) visit(dep, [name, ...chain]);
    order.push(name);
  };
  for (const name of wanted) visit(name, []);
  return order;
}

export interface ModuleFile {
  name: string;
  /** Path relative to the kernel's module directory, e.g. kernel/fs/ext4/ext4.ko */
  path: string;
}

/** Resolves the guest modules in an extracted lib/modules/<version> directory. */
export function resolveGuestModules(moduleDir: string, wanted: readonly string[] = GUEST_MODULES): ModuleFile[] {
  const files = new Map<string, string>();
  for (const entry of readdirSync(join(moduleDir, 'kernel'), { recursive: true, withFileTypes: true })) {
    if (entry.isFile() && entry.name.endsWith('.ko')) {
      const full = join(entry.parentPath, entry.name);
      files.set(normalizeModuleName(entry.name.slice(0, -3)), full.slice(moduleDir.length + 1));
    }
  }
  const builtin = new Set(
    readFileSync(join(moduleDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => normalizeModuleName(line.split('/').at(-1)!.replace(/\.ko$/, ''))),
  );
  const dependsOf = (name: string) => {
    const file = files.get(name);
    if (!file) return undefined;
    const depends = readModinfo(readFileSync(join(moduleDir, file))).get('depends') ?? '';
    return depends.split(',').filter(Boolean);
  };
  try {
    return loadOrder(wanted, dependsOf, builtin).map((name) => ({ name, path: files.get(name)! }));
  } catch (cause) {
    throw new BuildFailedError(`guest kernel in ${moduleDir}: ${(cause as Error).message}`, { cause });
  }
}
