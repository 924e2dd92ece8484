/*
 * The QEMU command line as a pure function of the guest's layout: an argv
 * array (never a shell string), so tests can check every variant without
 * booting anything.
 */

export type Accel = 'tcg' | 'kvm';
export type DiskFormat = 'raw' | 'qcow2';
export type DiskBus = 'virtio' | 'ide';

export const QEMU_BINARY = 'qemu-system-x86_64';
/** `pc` (i440FX + PIIX): has an IDE controller for the ide variant; microvm hung in 3 of 10 boots. */
export const MACHINE_TYPE = 'pc';
/** The port nginx listens on inside the guest; the host reaches it through a forward. */
export const GUEST_SERVICE_PORT = 8080;
/** The guest's address on QEMU user networking (slirp's fixed defaults). */
export const GUEST_NET = { address: '10.0.2.15/24', gateway: '10.0.2.2' };

export interface GuestLayout {
  /** Shown in `ps` as the process name and in QEMU's window title. */
  name: string;
  accel: Accel;
  /** -cpu; defaults to cpuModel(accel). */
  cpu?: string;
  cpus: number;
  memoryMiB: number;
  kernel: string;
  initrd: string;
  /** qcow2 overlay over the cached base image: the base stays clean. */
  rootDisk: string;
  /** The benchmark disk: its format and bus are what the variants compare. */
  dataDisk: { path: string; format: DiskFormat; bus: DiskBus };
  /** Host ports on 127.0.0.1 forwarded to the guest's ssh and service ports. */
  sshPort: number;
  servicePort: number;
  pidFile: string;
  /** QEMU's monitor (QMP), on which the guest is paused and resumed. */
  qmpSocket: string;
  consoleLog: string;
  /** A second card on this tap device (the tap variants: see tap.ts); ssh stays on user networking. */
  tap?: { ifname: string; mac: string };
}

/**
 * -cpu: everything TCG can emulate, or the host CPU as is under KVM. TCG's max
 * offers 5-level paging, which a Debian kernel then uses: one more level per
 * emulated TLB walk that few hosts pay natively, so it is switched off.
 */
export function cpuModel(accel: Accel): string {
  return accel === 'kvm' ? 'host' : 'max,la57=off';
}

/** Where the guest kernel finds the benchmark disk: the root disk is always the first virtio disk (vda). */
export function dataDevice(bus: DiskBus): string {
  return bus === 'virtio' ? '/dev/vdb' : '/dev/sda';
}

export function kernelCommandLine(layout: GuestLayout): string {
  return [
    'console=ttyS0',
    'root=/dev/vda',
    `vb.data=${dataDevice(layout.dataDisk.bus)}`,
    `vb.ip=${GUEST_NET.address}`,
    `vb.gw=${GUEST_NET.gateway}`,
    // A kernel panic reboots at once, and -no-reboot turns that into QEMU exiting: no hung guest.
    'panic=-1',
    'quiet',
    'loglevel=4',
  ].join(' ');
}

/** What every guest here runs on: the emulator, the machine, its CPU and memory, no devices of QEMU's own choosing. */
export function machineArgv(guest: Pick<GuestLayout, 'name' | 'accel' | 'cpu' | 'cpus' | 'memoryMiB'>): string[] {
  // A flag and its value on one line:
  // prettier-ignore
  return [
    QEMU_BINARY,
    '-name', `${guest.name},process=${guest.name}`,
    '-machine', `${MACHINE_TYPE},accel=${guest.accel}`,
    '-cpu', guest.cpu ?? cpuModel(guest.accel),
    '-smp', String(guest.cpus),
    '-m', `${guest.memoryMiB}M`,
    '-nodefaults', '-no-user-config', '-display', 'none', '-no-reboot',
  ];
}

/** QEMU user networking: the guest's ssh and service ports forwarded from 127.0.0.1 only. */
export function userNetArgv(ports: Pick<GuestLayout, 'sshPort' | 'servicePort'>): string[] {
  const forwards = [`hostfwd=tcp:127.0.0.1:${ports.sshPort}-:22`, `hostfwd=tcp:127.0.0.1:${ports.servicePort}-:${GUEST_SERVICE_PORT}`];
  // restrict=on: the guest reaches nothing outside; only the two loopback forwards come in.
  return ['-netdev', ['user', 'id=net0', 'restrict=on', ...forwards].join(','), '-device', 'virtio-net-pci,netdev=net0'];
}

/** The guest's serial console to a file, QEMU's pid file, and its monitor (QMP), on which the guest is paused and resumed. */
export function controlArgv(files: Pick<GuestLayout, 'consoleLog' | 'pidFile' | 'qmpSocket'>): string[] {
  return ['-serial', `file:${files.consoleLog}`, '-pidfile', files.pidFile, '-qmp', `unix:${files.qmpSocket},server=on,wait=off`];
}

export function qemuArgv(layout: GuestLayout): string[] {
  const { dataDisk } = layout;
  // A flag and its value on one line:
  // prettier-ignore
  return [
    ...machineArgv(layout),
    '-kernel', layout.kernel,
    '-initrd', layout.initrd,
    '-append', kernelCommandLine(layout),
    // Root first, so it is /dev/vda in every variant. Its writes are throwaway: cache=unsafe.
    '-drive', `file=${layout.rootDisk},format=qcow2,if=virtio,cache=unsafe`,
    // cache=none: the guest's direct I/O reaches the host disk, as native fio's does.
    '-drive', `file=${dataDisk.path},format=${dataDisk.format},if=${dataDisk.bus},cache=none,aio=threads`,
    ...userNetArgv(layout),
    ...(layout.tap ? [
      // An existing tap, opened by name: no helper scripts run, QEMU changes nothing on the host.
      '-netdev', `tap,id=net1,ifname=${layout.tap.ifname},script=no,downscript=no`,
      '-device', `virtio-net-pci,netdev=net1,mac=${layout.tap.mac}`,
    ] : []),
    ...controlArgv(layout),
  ];
}
