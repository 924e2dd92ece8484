import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { VirtbenchError } from '../../../errors.js';
import { buildProgram } from '../../build.js';
import { cacheDir, fixturesDir } from '../../host/paths.js';
import type { ExecResult, Platform, StartedPlatform } from '../../platform.js';
import { ensureGuestImage } from '../qemu/guest-image.js';
import { guestHostAvailability, qemuVersion } from '../qemu/host-tools.js';
import { kvmAvailability, readKvmHostFacts } from '../qemu/kvm.js';
import { QEMU_BINARY } from '../qemu/qemu-argv.js';
import { runToResult } from './console-run.js';
import { writeCpio } from './cpio.js';
import { defaultCommand, expandCommand, validateImageOptions, type UnikernelImageOptions } from './guest-command.js';
import { createWorkDir, removeWorkDir } from '../../host/work-dir.js';

/*
 * A single-application guest: QEMU boots the Debian kernel of the QEMU
 * platforms with an initramfs whose /init is the statically linked workload
 * itself (with a small entry wrapper that powers off when it returns). No
 * shell, no ssh, no init system; the result comes back on the serial console.
 * Every run is one boot. A user's own unikernel image can take the place of
 * ours through a QEMU command template.
 */

const ENTRY = join(fixturesDir, 'unikernel', 'uni-init.c');
const MACHINE = 'pc'; // microvm hung in 1 of 2 boots here (and 3 of 10 in the QEMU platform's trials)
const MEMORY_MIB = 512;
const CPUS = 2;
const BOOT_TIMEOUT_MS = 60_000;

/** What cannot exist in one address space without a shell or an init system, and why. */
const UNSUPPORTED: Record<string, string> = {
  fork: 'a single-address-space guest has no fork(); the same tree runs with threads as fork-threads',
  'disk-copyup': 'there is no file system to write to: the initramfs holds only the program',
  'disk-random':
    'fio is a dynamically linked Debian program that expects /dev, /proc and a job set up by a shell; no single-program fio image can be built from the packages reachable here',
  nginx:
    'nginx needs its modules, config files and a configured network interface set up before it starts; no single-program nginx image can be built from the packages reachable here',
};

export interface UnikernelFacts {
  workDir: string;
  accel: 'kvm' | 'tcg';
  kernel: string;
  kernelRelease: string;
  qemu: string;
  probeBootToResultMs: number;
  image?: UnikernelImageOptions;
}

export function createUnikernelPlatform(image?: UnikernelImageOptions): Platform {
  if (image) validateImageOptions(image);
  return {
    name: 'unikernel',
    // Same kernel and cache as the QEMU platforms, so the same host requirements.
    availability: () => guestHostAvailability(cacheDir()),
    async provision(context) {
      const guest = await ensureGuestImage({ cacheDir: context.cacheDir, log: context.log });
      const kvm = kvmAvailability(readKvmHostFacts());
      const workDir = await createWorkDir('unikernel');
      try {
        const facts: UnikernelFacts = {
          workDir,
          // KVM where the host offers it usably, else TCG; the report says which.
          accel: kvm.available ? 'kvm' : 'tcg',
          kernel: guest.kernel,
          kernelRelease: guest.manifest.kernelRelease,
          qemu: await qemuVersion(),
          probeBootToResultMs: 0,
          image,
        };
        if (!kvm.available) context.log(`running under TCG: ${kvm.reason}`);
        // One probe boot: proves the kernel, the entry wrapper and the console work before any benchmark.
        const started = await connectUnikernel(facts);
        const probe = await started.buildProgram!(join(fixturesDir, 'workloads', 'forksum.c'), context.cacheDir);
        const program = await started.copyIn(probe.path, 'probe');
        const run = (await started.exec([program, '--threads', '1', '2'], { timeoutMs: BOOT_TIMEOUT_MS })) as ExecResult & { bootToResultMs?: number };
        if (run.exitCode !== 0) {
          throw new VirtbenchError('VIRTBENCH_BOOT_FAILED', `probe boot failed (${run.timedOut ? 'timed out' : `exit ${run.exitCode}`}): ${run.stderr || run.stdout.slice(-500)}`, { platform: 'unikernel' });
        }
        facts.probeBootToResultMs = Math.round(run.bootToResultMs ?? run.wallMs);
        context.log(`probe boot: result after ${facts.probeBootToResultMs} ms (${facts.accel})`);
        return {
          facts: { json: JSON.stringify(facts) },
          stop: async () => removeWorkDir(workDir),
          stopSync: () => removeWorkDir(workDir),
        };
      } catch (error) {
        removeWorkDir(workDir);
        throw error;
      }
    },
    async connect(facts) {
      return connectUnikernel(JSON.parse(String(facts.json)) as UnikernelFacts);
    },
  };
}

function connectUnikernel(facts: UnikernelFacts): StartedPlatform {
  let boots = 0;
  const userImageFor = (program: string) => facts.image?.images[program];
  return {
    name: 'unikernel',
    workDir: facts.workDir,
    unsupported: (workload) => UNSUPPORTED[workload.name] ?? (workload.kind === 'served' ? 'servers need a network set up by an init system' : undefined),
    async buildProgram(source, cacheDir) {
      const program = basename(source, '.c');
      const prebuilt = userImageFor(program);
      if (prebuilt) return { name: program, path: prebuilt, hash: 'user-image' };
      return buildProgram(source, cacheDir, { entry: ENTRY });
    },
    /** Packs the program as the initramfs's /init (or, for a user image, notes its path). */
    async copyIn(hostPath, name) {
      if (facts.image && Object.values(facts.image.images).includes(hostPath)) return `image:${hostPath}`;
      const cpio = join(facts.workDir, `${basename(name)}.cpio`);
      await writeFile(
        cpio,
        writeCpio([
          { kind: 'dir', path: 'dev' },
          { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
          { kind: 'file', path: 'init', data: await readFile(hostPath), mode: 0o755 },
        ]),
      );
      return cpio;
    },
    async exec([program, ...args], options = {}) {
      if (!program || !(program.endsWith('.cpio') || program.startsWith('image:'))) {
        // There is nothing else in the guest: only a program copied in can run.
        return { command: [program ?? '', ...args], exitCode: 127, stdout: '', stderr: `${program}: not available in a single-application guest`, wallMs: 0, timedOut: false };
      }
      const userImage = program.startsWith('image:') ? program.slice('image:'.length) : undefined;
      const argv = expandCommand(userImage ? facts.image!.command : defaultCommand(MACHINE, MEMORY_MIB, CPUS), {
        qemu: QEMU_BINARY,
        accel: facts.accel,
        kernel: facts.kernel,
        initrd: userImage ? undefined : program,
        image: userImage,
        args,
        pidfile: join(facts.workDir, `boot-${process.pid}-${++boots}.pid`),
      });
      return runToResult(argv, { timeoutMs: options.timeoutMs ?? BOOT_TIMEOUT_MS, resultPattern: userImage ? facts.image!.resultPattern : undefined });
    },
    async serviceAddress() {
      throw new VirtbenchError('VIRTBENCH_WORKLOAD_FAILED', `no network service in a single-application guest: ${UNSUPPORTED.nginx}`, { platform: 'unikernel' });
    },
    async flushCaches() {
      return true; // every run is a fresh boot with an empty page cache
    },
    async describe() {
      return {
        mode: facts.image ? 'user unikernel image' : 'single-application guest (the workload is /init)',
        accelerator: facts.accel,
        machine: MACHINE,
        qemu: facts.qemu,
        kernel: facts.kernelRelease,
        probeBootToResultMs: facts.probeBootToResultMs,
      };
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
}
