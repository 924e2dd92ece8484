import { createHash } from 'node:crypto';
import { workloadNeeds } from '../../workloads/index.js';
import { GUEST_MODULES } from './kernel-modules.js';

/*
 * What goes into the guest, as data. Everything here is part of the image's
 * cache key: change a script or a package and the next run builds a new image.
 */

/** Bump when the builder itself changes in a way the texts below do not show. */
const BUILDER_REVISION = 4;

/**
 * Installed by mmdebstrap (variant minbase) into the root file system: the
 * guest's shell and ssh server, then what the workloads need (fio, nginx).
 * The order is part of the cache key.
 */
export const GUEST_PACKAGES = ['busybox-static', 'dropbear-bin', ...workloadNeeds().packages];
/** The metapackage that names the current kernel; the kernel itself comes from its own .deb. */
export const KERNEL_METAPACKAGE = 'linux-image-amd64';

export const ROOT_IMAGE_SIZE = '1G';
export const GUEST_WORK_DIR = '/mnt/bench/virtbench';
export const GUEST_HOST_KEY_PATH = '/etc/dropbear/virtbench_host_key';
/** root's login shell: a link to the static busybox, named sh. */
export const GUEST_SHELL = '/usr/local/lib/virtbench/sh';

/**
 * /init of the initramfs (busybox sh): load the drivers, configure the
 * network (kernel state survives switch_root), mount the root disk and hand
 * over to busybox init there. modules: names in load order, files in /lib/modules.
 */
export function initramfsInit(modules: readonly string[]): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in ${modules.join(' ')}; do
  insmod /lib/modules/$m.ko || echo "virtbench-init: insmod $m failed"
done
for word in $(cat /proc/cmdline); do
  case "$word" in
    root=*) root="\${word#root=}" ;;
    vb.ip=*) ip="\${word#vb.ip=}" ;;
    vb.gw=*) gw="\${word#vb.gw=}" ;;
  esac
done
ip link set lo up
ip link set eth0 up && ip addr add "$ip" dev eth0 && ip route add default via "$gw" || echo "virtbench-init: network setup failed"
n=0
while [ ! -b "$root" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
mkdir -p /newroot
if ! mount -t ext4 -o rw,noatime "$root" /newroot; then
  echo "virtbench-init: cannot mount root $root"
  poweroff -f
fi
umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot /bin/busybox init
`;
}

/** busybox init in the root file system: one boot script, and dropbear kept running. */
export const INITTAB = `::sysinit:/virtbench/rc
::respawn:/usr/sbin/dropbear -F -E -s -j -k -p 22 -r ${GUEST_HOST_KEY_PATH}
`;

/** Boot script in the root file system: kernel file systems, then the benchmark disk. */
export const RC_SCRIPT = `#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
hostname virtbench
data=$(sed -n 's/.*vb\\.data=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
mkdir -p /mnt/bench
if mount -t ext4 -o rw,noatime "$data" /mnt/bench; then
  mkdir -p ${GUEST_WORK_DIR} && chmod 755 /mnt/bench ${GUEST_WORK_DIR}
else
  echo "virtbench-rc: cannot mount the benchmark disk $data"
fi
echo "virtbench-rc: ready"
`;

/** Hash of everything above: the recipe half of the cache key. */
export function recipeHash(): string {
  return createHash('sha256')
    .update(JSON.stringify({ BUILDER_REVISION, GUEST_SHELL, GUEST_PACKAGES, KERNEL_METAPACKAGE, GUEST_MODULES, ROOT_IMAGE_SIZE }))
    .update(initramfsInit(GUEST_MODULES))
    .update(INITTAB)
    .update(RC_SCRIPT)
    .digest('hex')
    .slice(0, 12);
}
