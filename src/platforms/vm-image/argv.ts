import { controlArgv, machineArgv, userNetArgv, type Accel, type QemuRunFiles } from '../qemu/index.js';

/*
 * QEMU's command line for a user's image, a pure function: the same machine, user networking (on
 * 127.0.0.1 only) and monitor as virtbench's own guest, but no -kernel: SeaBIOS boots the disk with
 * the image's own bootloader and kernel. The disk is a qcow2 overlay over the image, which is never
 * written; the NoCloud seed, when there is one, is a second, read-only disk.
 */

export interface VmImageLayout {
  name: string;
  accel: Accel;
  cpus: number;
  memoryMiB: number;
  /** The qcow2 overlay in the run's work directory, backed by the user's image. */
  overlay: string;
  /** The NoCloud seed (ISO 9660, label cidata). */
  seed?: string;
}

export function vmImageArgv(layout: VmImageLayout, files: QemuRunFiles): string[] {
  // A flag and its value on one line:
  // prettier-ignore
  return [
    ...machineArgv(layout),
    // cache=none: the guest's direct I/O (fio) reaches the host disk, as on virtbench's own guest.
    '-drive', `file=${layout.overlay},format=qcow2,if=virtio,cache=none,aio=threads`,
    ...(layout.seed ? ['-drive', `file=${layout.seed},format=raw,if=virtio,readonly=on`] : []),
    ...userNetArgv(files),
    ...controlArgv(files),
  ];
}
