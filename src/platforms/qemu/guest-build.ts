import { appendFile, chmod, copyFile, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { BuildFailedError } from '../../errors.js';
import type { CommandOptions } from '../../host/command.js';
import type { Apt } from './apt.js';
import { GUEST_HOST_KEY_PATH, GUEST_PACKAGES, GUEST_SHELL, INITTAB, RC_SCRIPT, ROOT_IMAGE_SIZE, initramfsInit } from './guest-recipe.js';
import { ROOT_TREE_TIMEOUT_MS, TOOL_TIMEOUT_MS, runTool } from './host-tools.js';
import { resolveGuestModules } from './kernel-modules.js';

/*
 * The steps of one image build, all inside a private directory that only
 * becomes the cached image once every step has succeeded.
 */

async function buildStep(
  what: string,
  argv: string[],
  limit: { timeoutMs: number; timeoutFix?: string } = { timeoutMs: TOOL_TIMEOUT_MS },
  options: Omit<CommandOptions, 'timeoutMs'> = {},
): Promise<void> {
  await runTool(argv, { what: `building the guest image: ${what}`, code: 'VIRTBENCH_BUILD_FAILED', ...limit }, options);
}

/**
 * Disk images (they hold the guest's private host key, or what the guest wrote) are read by QEMU,
 * which runs as this user, and by nobody else: the file exists, empty and 0600, before the tool
 * writes it (qemu-img and mkfs.ext4 keep an existing file's mode), and is 0600 after it, should the
 * tool have replaced it.
 */
export async function writePrivateFile(path: string, write: () => Promise<unknown>): Promise<void> {
  await writeFile(path, '', { mode: 0o600 });
  await chmod(path, 0o600);
  await write();
  await chmod(path, 0o600);
}

export interface KernelFiles {
  vmlinuz: string;
  /** The extracted lib/modules/<release> directory. */
  moduleDir: string;
  /** `uname -r` of the guest, e.g. 6.1.0-56-amd64. */
  release: string;
}

/** Downloads the kernel image package and unpacks it: vmlinuz and modules from one .deb. */
export async function fetchKernel(apt: Apt, name: string, version: string, workDir: string): Promise<KernelFiles> {
  const debs = join(workDir, 'debs');
  await mkdir(debs, { recursive: true });
  const deb = await apt.download(name, version, debs);
  const tree = join(workDir, 'kernel');
  await buildStep('unpacking the kernel package', ['dpkg-deb', '-x', deb, tree]);
  const release = (await readdir(join(tree, 'lib', 'modules')))[0];
  const vmlinuz = (await readdir(join(tree, 'boot'))).find((f) => f.startsWith('vmlinuz-'));
  if (!release || !vmlinuz) throw new BuildFailedError(`${deb} holds no vmlinuz or no lib/modules`);
  return { vmlinuz: join(tree, 'boot', vmlinuz), moduleDir: join(tree, 'lib', 'modules', release), release };
}

/** mmdebstrap (minbase) with the benchmark tools, pinned to the versions in the cache key. */
export async function buildRootTree(target: string, suite: string, sourcesFile: string, versions: Record<string, string>): Promise<void> {
  const include = GUEST_PACKAGES.map((p) => `${p}=${versions[p]}`).join(',');
  await buildStep(
    'the root file system (mmdebstrap)',
    [
      'mmdebstrap',
      '--variant=minbase',
      `--include=${include}`,
      '--aptopt=Acquire::Languages "none"',
      '--dpkgopt=path-exclude=/usr/share/man/*',
      '--dpkgopt=path-exclude=/usr/share/locale/*',
      '--dpkgopt=path-exclude=/usr/share/doc/*',
      suite,
      target,
      sourcesFile,
    ],
    {
      timeoutMs: ROOT_TREE_TIMEOUT_MS,
      timeoutFix:
        `mmdebstrap fetches every package from the mirror in ${sourcesFile}: check that it answers (apt-get update with those sources), ` +
        'or set VIRTBENCH_DEBIAN_MIRROR to a nearer mirror; the half-built image is discarded, so run again',
    },
  );
}

/** Our init, the ssh keys and the hostname; the tree is then ready to become an ext4 image. */
export async function customizeRootTree(root: string, files: { hostKey: Buffer; authorizedKey: string }): Promise<void> {
  await mkdir(join(root, 'virtbench'), { recursive: true });
  await writeFile(join(root, 'virtbench', 'rc'), RC_SCRIPT, { mode: 0o755 });
  await writeFile(join(root, 'etc', 'inittab'), INITTAB);
  await writeFile(join(root, 'etc', 'hostname'), 'virtbench\n');
  // dropbear starts root's shell for every exec. Under TCG a dynamically linked program takes ~150 ms
  // to start, the static busybox ~40 ms: root's shell is busybox sh (named sh, so busybox runs its sh).
  await mkdir(join(root, dirname(GUEST_SHELL.slice(1))), { recursive: true });
  await symlink('/bin/busybox', join(root, GUEST_SHELL.slice(1)));
  await appendFile(join(root, 'etc', 'shells'), `${GUEST_SHELL}\n`);
  const passwd = await readFile(join(root, 'etc', 'passwd'), 'utf8');
  await writeFile(join(root, 'etc', 'passwd'), passwd.replace(/^(root:.*:)[^:\n]*$/m, `$1${GUEST_SHELL}`));
  await mkdir(join(root, 'etc', 'dropbear'), { recursive: true });
  await writeFile(join(root, GUEST_HOST_KEY_PATH), files.hostKey, { mode: 0o600 });
  // dropbear refuses keys in a directory others could write to.
  await mkdir(join(root, 'root', '.ssh'), { recursive: true, mode: 0o700 });
  await chmod(join(root, 'root', '.ssh'), 0o700);
  await writeFile(join(root, 'root', '.ssh', 'authorized_keys'), `${files.authorizedKey.trim()}\n`, { mode: 0o600 });
  await mkdir(join(root, 'mnt', 'bench'), { recursive: true });
}

/** An ext4 image of the tree, without a loop mount. Inode tables are written now, so no lazy init runs during benchmarks. */
export async function makeExt4(tree: string | undefined, image: string, size: string, label: string): Promise<void> {
  const argv = [
    'mkfs.ext4',
    '-q',
    '-F',
    '-L',
    label,
    '-m',
    '0',
    '-E',
    'lazy_itable_init=0,lazy_journal_init=0',
    ...(tree ? ['-d', tree] : []),
    image,
    size,
  ];
  await writePrivateFile(image, () =>
    runTool(argv, { what: `making the ext4 file system ${image}`, code: 'VIRTBENCH_BUILD_FAILED', timeoutMs: TOOL_TIMEOUT_MS }),
  );
}

export async function makeRootImage(tree: string, image: string): Promise<void> {
  await makeExt4(tree, image, ROOT_IMAGE_SIZE, 'vbench-root');
}

async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((e) => e.replaceAll('\\', '/')).sort();
}

/**
 * An uncompressed newc initramfs: /init, a static busybox (taken from the
 * root tree: it runs on the host as well) and the kernel modules the guest
 * needs. Packed with busybox cpio, owner root for every file.
 */
export async function buildInitramfs(kernel: KernelFiles, rootTree: string, stage: string, output: string): Promise<void> {
  const modules = resolveGuestModules(kernel.moduleDir);
  await mkdir(join(stage, 'bin'), { recursive: true });
  await mkdir(join(stage, 'lib', 'modules'), { recursive: true });
  for (const dir of ['dev', 'proc', 'sys', 'newroot']) await mkdir(join(stage, dir), { recursive: true });
  const busybox = join(rootTree, 'bin', 'busybox');
  await copyFile(busybox, join(stage, 'bin', 'busybox'));
  await chmod(join(stage, 'bin', 'busybox'), 0o755);
  for (const m of modules) await copyFile(join(kernel.moduleDir, m.path), join(stage, 'lib', 'modules', `${m.name}.ko`));
  await writeFile(join(stage, 'init'), initramfsInit(modules.map((m) => m.name)), { mode: 0o755 });
  const list = (await listTree(stage)).join('\n') + '\n';
  await writePrivateFile(output, () =>
    buildStep('packing the initramfs', [busybox, 'cpio', '-o', '-H', 'newc', '-R', '0:0'], undefined, {
      cwd: stage,
      input: list,
      stdoutFile: output,
    }),
  );
}

/** The first bytes of an xz stream (the format of Debian's compressed kernels). */
const XZ_MAGIC = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
/** Xen's ELF note type 18, XEN_ELFNOTE_PHYS32_ENTRY: the kernel has a PVH entry point. */
const PVH_NOTE = { name: 'Xen', type: 18 };

/** Whether an ELF64 little-endian image carries the PVH entry note, by walking its PT_NOTE segments. */
export function hasPvhEntry(elf: Buffer): boolean {
  if (elf.length < 64 || elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2 || elf[5] !== 1) return false;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const header = phoff + i * phentsize;
    if (header + 56 > elf.length || elf.readUInt32LE(header) !== 4 /* PT_NOTE */) continue;
    const start = Number(elf.readBigUInt64LE(header + 8));
    const end = Math.min(elf.length, start + Number(elf.readBigUInt64LE(header + 0x20)));
    for (let at = start; at + 12 <= end;) {
      const nameSize = elf.readUInt32LE(at);
      const descSize = elf.readUInt32LE(at + 4);
      const type = elf.readUInt32LE(at + 8);
      const name = elf.toString('latin1', at + 12, at + 12 + Math.max(0, nameSize - 1));
      if (name === PVH_NOTE.name && type === PVH_NOTE.type) return true;
      at += 12 + Math.ceil(nameSize / 4) * 4 + Math.ceil(descSize / 4) * 4;
    }
  }
  return false;
}

/**
 * The uncompressed kernel (vmlinux) out of a bzImage, for QEMU to boot through its PVH entry: under
 * TCG the kernel's own xz decompression and real-mode setup are a third of a boot (docs/measurements.md). Returns
 * why not (no xz stream, no PVH entry) when the kernel must boot as the bzImage it is; the output
 * file then does not exist.
 */
export async function extractPvhKernel(vmlinuz: string, output: string): Promise<string | undefined> {
  const image = await readFile(vmlinuz);
  const offset = image.indexOf(XZ_MAGIC);
  if (offset < 0) return `${vmlinuz} holds no xz-compressed kernel`;
  // --single-stream: the bzImage goes on after the compressed kernel; those bytes are not xz data.
  await writePrivateFile(output, () =>
    buildStep('unpacking the kernel for a PVH boot', ['xz', '--decompress', '--stdout', '--single-stream'], undefined, {
      input: image.subarray(offset),
      stdoutFile: output,
    }),
  );
  const elf = await readFile(output);
  if (hasPvhEntry(elf)) return undefined;
  await rm(output, { force: true });
  return `the kernel has no PVH entry point (CONFIG_PVH)`;
}
