import { describe, expect, it } from 'vitest';
import { qemuPlatforms } from '../../src/platforms/qemu/index.js';
import { namespaceSetup, TAP_MAC, tapNetworkFor } from '../../src/platforms/qemu/tap.js';
import { dataDevice, kernelCommandLine, qemuArgv, type GuestLayout } from '../../src/platforms/qemu/qemu-argv.js';

const layout: GuestLayout = {
  name: 'virtbench-qemu-tcg',
  accel: 'tcg',
  cpus: 2,
  memoryMiB: 2048,
  kernel: '/cache/vmlinuz',
  initrd: '/cache/initramfs.cpio',
  rootDisk: '/run dir/root.qcow2',
  dataDisk: { path: '/run dir/data.raw', format: 'raw', bus: 'virtio' },
  sshPort: 40022,
  servicePort: 40080,
  pidFile: '/run dir/qemu.pid',
  qmpSocket: '/run dir/qmp.sock',
  consoleLog: '/run dir/console.log',
};

/** The value following a flag, for each occurrence. */
function values(argv: string[], flag: string): string[] {
  return argv.flatMap((arg, i) => (arg === flag ? [argv[i + 1]!] : []));
}

describe('qemuArgv', () => {
  it('is an argv array: paths with spaces stay single arguments, nothing is shell-quoted', () => {
    const argv = qemuArgv(layout);
    expect(argv[0]).toBe('qemu-system-x86_64');
    expect(values(argv, '-pidfile')).toEqual(['/run dir/qemu.pid']);
    expect(values(argv, '-qmp')).toEqual(['unix:/run dir/qmp.sock,server=on,wait=off']);
    expect(argv.join(' ')).not.toMatch(/['"]/);
  });

  it('uses the pc machine with the requested accelerator and a matching CPU model', () => {
    expect(values(qemuArgv(layout), '-machine')).toEqual(['pc,accel=tcg']);
    expect(values(qemuArgv(layout), '-cpu')).toEqual(['max,la57=off']);
    const kvm = qemuArgv({ ...layout, accel: 'kvm' });
    expect(values(kvm, '-machine')).toEqual(['pc,accel=kvm']);
    expect(values(kvm, '-cpu')).toEqual(['host']);
    expect(values(kvm, '-smp')).toEqual(['2']);
    expect(values(kvm, '-m')).toEqual(['2048M']);
  });

  it('forwards ssh and the service port from 127.0.0.1 only, and isolates the guest otherwise', () => {
    const [netdev] = values(qemuArgv(layout), '-netdev');
    expect(netdev).toBe('user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:40022-:22,hostfwd=tcp:127.0.0.1:40080-:8080');
  });

  it('puts the root overlay first (vda) and the benchmark disk in the variant format and bus', () => {
    const drives = values(qemuArgv(layout), '-drive');
    expect(drives[0]).toBe('file=/run dir/root.qcow2,format=qcow2,if=virtio,cache=unsafe');
    expect(drives[1]).toBe('file=/run dir/data.raw,format=raw,if=virtio,cache=none,aio=threads');
    const ide = values(qemuArgv({ ...layout, dataDisk: { path: '/d.qcow2', format: 'qcow2', bus: 'ide' } }), '-drive');
    expect(ide[1]).toBe('file=/d.qcow2,format=qcow2,if=ide,cache=none,aio=threads');
  });

  it('tells the guest where its benchmark disk is and how to configure the network', () => {
    expect(dataDevice('virtio')).toBe('/dev/vdb');
    expect(dataDevice('ide')).toBe('/dev/sda');
    const cmdline = kernelCommandLine({ ...layout, dataDisk: { ...layout.dataDisk, bus: 'ide' } });
    expect(cmdline).toContain('root=/dev/vda');
    expect(cmdline).toContain('vb.data=/dev/sda');
    expect(cmdline).toContain('vb.ip=10.0.2.15/24');
    expect(cmdline).toContain('vb.gw=10.0.2.2');
    expect(cmdline).toContain('panic=-1');
    expect(qemuArgv(layout)).toContain('-no-reboot');
  });
});

describe('qemuPlatforms', () => {
  it('offers each accelerator with the raw, qcow2 and IDE benchmark disk and the tap network, each under its own name', () => {
    expect(qemuPlatforms.names).toEqual([
      'qemu-tcg',
      'qemu-tcg-qcow2',
      'qemu-tcg-ide',
      'qemu-kvm',
      'qemu-kvm-qcow2',
      'qemu-kvm-ide',
      'qemu-tcg-tap',
      'qemu-kvm-tap',
    ]);
    for (const name of qemuPlatforms.names) expect(qemuPlatforms.create(name, undefined).name).toBe(name);
  });
});

describe('the tap variants', () => {
  it('add a second card on an existing tap, opened by name with no helper scripts; ssh stays on user networking', () => {
    const argv = qemuArgv({ ...layout, tap: { ifname: 'vbt0123abcd', mac: TAP_MAC } });
    expect(values(argv, '-netdev')).toEqual([
      expect.stringMatching(/^user,id=net0,restrict=on,hostfwd=tcp:127\.0\.0\.1:40022-:22/),
      'tap,id=net1,ifname=vbt0123abcd,script=no,downscript=no',
    ]);
    expect(values(argv, '-device')).toContain(`virtio-net-pci,netdev=net1,mac=${TAP_MAC}`);
    expect(values(qemuArgv(layout), '-netdev')).toHaveLength(1);
  });

  it('name the tap and namespace after QEMU work directory, the tap within the 15 characters a link name may have', () => {
    const network = tapNetworkFor('/var/tmp/virtbench-qemu-tcg-tap-R9LwmS');
    expect(network.namespace).toBe('virtbench-qemu-tcg-tap-R9LwmS');
    expect(network.tap).toMatch(/^vbt[0-9a-f]{8}$/);
    expect(tapNetworkFor('/var/tmp/virtbench-qemu-tcg-tap-R9LwmS')).toEqual(network);
    expect(tapNetworkFor('/var/tmp/virtbench-qemu-tcg-tap-other').tap).not.toBe(network.tap);
  });

  it('move the tap into the namespace first; everything after happens inside it', () => {
    const steps = namespaceSetup({ tap: 'vbt0123abcd', namespace: 'virtbench-qemu-tcg-tap-x' });
    expect(steps.slice(0, 2)).toEqual([
      ['netns', 'add', 'virtbench-qemu-tcg-tap-x'],
      ['link', 'set', 'vbt0123abcd', 'netns', 'virtbench-qemu-tcg-tap-x'],
    ]);
    for (const step of steps.slice(2)) expect(step.slice(0, 2)).toEqual(['-n', 'virtbench-qemu-tcg-tap-x']);
    expect(steps).toContainEqual(['-n', 'virtbench-qemu-tcg-tap-x', 'addr', 'add', '192.168.77.1/24', 'dev', 'vbbr0']);
  });

  it('are network variants of their base: only nginx is measured when the base runs too', () => {
    expect(qemuPlatforms.names).toEqual(expect.arrayContaining(['qemu-tcg-tap', 'qemu-kvm-tap']));
    expect(qemuPlatforms.variants?.['qemu-tcg-tap']).toMatchObject({ base: 'qemu-tcg', varies: ['network'] });
  });
});
