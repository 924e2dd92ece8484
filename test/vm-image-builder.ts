import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { onExitSync } from '../src/host/exit-cleanup.js';
import { withLock } from '../src/host/file-lock.js';
import type { Log } from '../src/host/log.js';
import { removeTreeSync, stopProcessesUsingSync } from '../src/host/process.js';
import { aptSources } from '../src/platforms/qemu/apt.js';
import { makeExt4 } from '../src/platforms/qemu/guest-build.js';
import { ROOT_TREE_TIMEOUT_MS, TOOL_TIMEOUT_MS, runTool } from '../src/platforms/qemu/host-tools.js';

/*
 * The VM image the vm-image platform is tested with, built offline from Debian packages only, the way a
 * user's cloud image is made: a partitioned raw disk (MBR with syslinux's boot code, a FAT boot
 * partition with syslinux, the kernel and its initramfs, an ext4 root), systemd, openssh-server and
 * cloud-init, and no key of any kind: the NoCloud seed the platform attaches gives the login key and
 * the host key. No loop device and no mount: mkfs.ext4 -d, mtools and syslinux's mtools installer.
 * Converted to qcow2 and cached under <cacheDir>/vm-image-test/ by a hash of this recipe.
 */

const SUITE_PACKAGES = ['systemd-sysv', 'udev', 'linux-image-cloud-amd64', 'initramfs-tools', 'cloud-init', 'openssh-server'];
const ROOT_LABEL = 'vbtest-root';
const BOOT_MIB = 96;
const ROOT_MIB = 1536;

/** cloud-init: only the NoCloud seed (no metadata servers probed), and the network is the image's own. */
const CLOUD_CFG = `datasource_list: [ NoCloud, None ]
network: {config: disabled}
`;
/** The first ethernet card by DHCP (QEMU user networking's 10.0.2.15). */
const NETWORKD = `[Match]
Name=en* eth*

[Network]
DHCP=ipv4
`;
const FSTAB = `LABEL=${ROOT_LABEL} / ext4 rw,noatime 0 1
`;
const SYSLINUX_CFG = `DEFAULT linux
PROMPT 0
TIMEOUT 0
LABEL linux
  LINUX /vmlinuz
  INITRD /initrd.img
  APPEND root=LABEL=${ROOT_LABEL} rw console=ttyS0 quiet
`;
const MBR = '/usr/lib/syslinux/mbr/mbr.bin';

function recipeHash(): string {
  return createHash('sha256')
    .update(JSON.stringify({ SUITE_PACKAGES, ROOT_LABEL, BOOT_MIB, ROOT_MIB, CLOUD_CFG, NETWORKD, FSTAB, SYSLINUX_CFG, revision: 1 }))
    .digest('hex')
    .slice(0, 12);
}

// The host tools the build needs come with `virtbench setup --test` (TEST_PACKAGES in src/runtime/setup.ts).

export interface TestVmImage {
  /** The qcow2 image, as a user would name it. */
  path: string;
  buildSeconds: number;
  kernelRelease: string;
}

const step = (what: string, argv: string[], timeoutMs = TOOL_TIMEOUT_MS, options: { input?: string } = {}) =>
  runTool(argv, { what: `building the test VM image: ${what}`, code: 'VIRTBENCH_BUILD_FAILED', timeoutMs }, options);

/** The cached test image, built first when there is none. */
export async function ensureTestVmImage(options: { cacheDir: string; log: Log }): Promise<TestVmImage> {
  const root = join(options.cacheDir, 'vm-image-test');
  const dir = join(root, `test-${recipeHash()}`);
  const manifest = join(dir, 'image.json');
  if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')) as TestVmImage;
  await mkdir(root, { recursive: true, mode: 0o700 });
  return withLock(
    join(root, 'build'),
    async () => {
      if (existsSync(manifest)) return JSON.parse(readFileSync(manifest, 'utf8')) as TestVmImage;
      const built = await build(root, dir, options.log);
      return built;
    },
    { what: 'building the test VM image', timeoutMs: 45 * 60_000, onWait: () => options.log('waiting for another test VM image build') },
  );
}

async function build(root: string, dir: string, log: Log): Promise<TestVmImage> {
  const started = performance.now();
  const work = join(root, `.building-${process.pid}-${randomBytes(4).toString('hex')}`);
  const unregister = onExitSync(() => {
    stopProcessesUsingSync(work);
    removeTreeSync(work);
  });
  try {
    await mkdir(work, { recursive: true, mode: 0o700 });
    const { file: sources, suite } = await aptSources(join(work, 'apt'));
    const tree = join(work, 'rootfs');
    log(`test VM image: [1/4] root file system (${suite}: ${SUITE_PACKAGES.join(', ')}) with mmdebstrap`);
    await step(
      'the root file system (mmdebstrap)',
      [
        'mmdebstrap',
        '--variant=minbase',
        `--include=${SUITE_PACKAGES.join(',')}`,
        '--aptopt=Acquire::Languages "none"',
        // No fsync per file: a build that fails or is stopped is thrown away whole.
        '--dpkgopt=force-unsafe-io',
        '--dpkgopt=path-exclude=/usr/share/man/*',
        '--dpkgopt=path-exclude=/usr/share/locale/*',
        '--dpkgopt=path-exclude=/usr/share/doc/*',
        // No key of the image's own: the seed gives the host key, as on a cloud.
        '--customize-hook=rm -f "$1"/etc/ssh/ssh_host_*',
        '--customize-hook=chroot "$1" systemctl enable systemd-networkd.service',
        suite,
        tree,
        sources,
      ],
      ROOT_TREE_TIMEOUT_MS,
    );
    await writeFile(join(tree, 'etc', 'cloud', 'cloud.cfg.d', '90-virtbench-test.cfg'), CLOUD_CFG);
    await writeFile(join(tree, 'etc', 'systemd', 'network', '10-dhcp.network'), NETWORKD);
    await writeFile(join(tree, 'etc', 'fstab'), FSTAB);
    await writeFile(join(tree, 'etc', 'hostname'), 'vbtest\n');
    // No console login prompt to wait for on the serial line.
    await rm(join(tree, 'etc', 'systemd', 'system', 'getty.target.wants'), { recursive: true, force: true });
    await symlink('/dev/null', join(tree, 'etc', 'systemd', 'system', 'serial-getty@ttyS0.service')).catch(() => {});

    log('test VM image: [2/4] boot partition (FAT, syslinux, kernel, initramfs)');
    const boot = join(tree, 'boot');
    const files = await readdir(boot);
    const vmlinuz = files.find((f) => f.startsWith('vmlinuz-'));
    const initrd = files.find((f) => f.startsWith('initrd.img-'));
    if (!vmlinuz || !initrd) throw new Error(`no kernel or initramfs in ${boot}: ${files.join(', ')}`);
    const bootFs = join(work, 'boot.fat');
    await step('the boot file system', ['mkfs.fat', '-C', '-n', 'VBBOOT', bootFs, String(BOOT_MIB * 1024)]);
    await writeFile(join(work, 'syslinux.cfg'), SYSLINUX_CFG);
    for (const [from, to] of [
      [join(boot, vmlinuz), 'vmlinuz'],
      [join(boot, initrd), 'initrd.img'],
      [join(work, 'syslinux.cfg'), 'syslinux.cfg'],
    ] as const) {
      await step(`copying ${to} to the boot partition`, ['mcopy', '-i', bootFs, from, `::/${to}`]);
    }

    log('test VM image: [3/4] ext4 root file system');
    const rootFs = join(work, 'root.ext4');
    await makeExt4(tree, rootFs, `${ROOT_MIB}M`, ROOT_LABEL);

    log('test VM image: [4/4] partitioned disk, boot code, qcow2');
    const disk = join(work, 'disk.raw');
    const rootStart = 1 + BOOT_MIB;
    await step('the raw disk', ['truncate', '-s', `${rootStart + ROOT_MIB + 1}M`, disk]);
    await step('the partition table', ['sfdisk', '--quiet', disk], TOOL_TIMEOUT_MS, {
      input: `label: dos\nstart=1MiB, size=${BOOT_MIB}MiB, type=c, bootable\nstart=${rootStart}MiB, size=${ROOT_MIB}MiB, type=83\n`,
    });
    await step('the boot code (MBR)', ['dd', `if=${MBR}`, `of=${disk}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);
    await step('the boot partition', ['dd', `if=${bootFs}`, `of=${disk}`, 'bs=1M', 'seek=1', 'conv=notrunc,sparse', 'status=none']);
    await step('the root partition', [
      'dd',
      `if=${rootFs}`,
      `of=${disk}`,
      'bs=1M',
      `seek=${rootStart}`,
      'conv=notrunc,sparse',
      'status=none',
    ]);
    await step('installing syslinux', ['syslinux', '--install', '--offset', String(1024 * 1024), disk]);
    const partial = join(work, 'image');
    await mkdir(partial, { mode: 0o700 });
    await step('converting to qcow2', ['qemu-img', 'convert', '-q', '-f', 'raw', '-O', 'qcow2', disk, join(partial, 'disk.qcow2')]);
    const image: TestVmImage = {
      path: join(dir, 'disk.qcow2'),
      buildSeconds: Math.round((performance.now() - started) / 100) / 10,
      kernelRelease: vmlinuz.slice('vmlinuz-'.length),
    };
    await writeFile(join(partial, 'image.json'), JSON.stringify(image, null, 2) + '\n');
    await rm(dir, { recursive: true, force: true });
    await rename(partial, dir);
    log(`test VM image: ${image.path} built in ${image.buildSeconds} s (kernel ${image.kernelRelease})`);
    return image;
  } finally {
    unregister();
    stopProcessesUsingSync(work);
    removeTreeSync(work);
  }
}
