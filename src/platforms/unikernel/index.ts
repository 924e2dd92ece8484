import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BootFailedError, WorkloadFailedError } from '../../errors.js';
import { buildProgram, workloadSource } from '../../workloads/build.js';
import { cacheDir, sourceDir } from '../../host/paths.js';
import { provisionWorkDir } from '../../host/work-dir.js';
import { factsCodec } from '../platform.js';
import type { FactsOf, Platform, PlatformFamily, ProvisionContext, Provisioned, StartedPlatform } from '../platform.js';
import {
  MACHINE_TYPE,
  QEMU_BINARY,
  QEMU_PACKAGES,
  ensureGuestImage,
  guestHostAvailability,
  kvmAvailability,
  qemuVersion,
  readKvmHostFacts,
} from '../qemu/index.js';
import { runToResult, type ConsoleRun } from './console-run.js';
import { writeCpio } from './cpio.js';
import { defaultCommand, expandCommand, validateImageOptions, type UnikernelImageOptions } from './guest-command.js';

export type { UnikernelImageOptions };

/*
 * A single-application guest: QEMU boots the Debian kernel of the QEMU
 * platforms with an initramfs whose /init is the statically linked workload
 * itself (with a small entry wrapper that powers off when it returns). No
 * shell, no ssh, no init system; the result comes back on the serial console.
 * Every run is one boot. A user's own unikernel image can take the place of
 * ours through a QEMU command template.
 */

const NAME = 'unikernel';
const ENTRY = join(sourceDir, 'platforms', 'unikernel', 'uni-init.c');
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

/**
 * What a worker needs (accel: kvm or tcg). The user's image options are not
 * among them: the platform a worker creates from the same settings has them.
 */
const FACTS = {
  workDir: 'string',
  accel: 'string',
  kernel: 'string',
  kernelRelease: 'string',
  qemu: 'string',
  probeBootToResultMs: 'number',
} as const;
type UnikernelFacts = FactsOf<typeof FACTS>;
const facts = factsCodec(NAME, FACTS);

export const unikernelPlatforms: PlatformFamily<UnikernelImageOptions> = {
  names: [NAME],
  create: (_name, image) => createUnikernelPlatform(image),
  optionsKey: 'unikernel',
  // The QEMU platforms' image and emulator; KVM when there is one, else TCG (it never needs /dev/kvm).
  requirements: { [NAME]: { packages: QEMU_PACKAGES } },
  questions: [
    {
      question: 'What does a single-application guest cost, and what do threads cost where fork() cannot run?',
      comparisons: [{ platform: NAME, against: 'native', benchmarks: ['cpu', 'mem', 'fork-threads'] }],
    },
  ],
  validateOptions(value) {
    validateImageOptions(value);
    return value;
  },
};

export function createUnikernelPlatform(image?: UnikernelImageOptions): Platform {
  if (image) validateImageOptions(image);
  return {
    name: NAME,
    // Same kernel and cache as the QEMU platforms, so the same host requirements.
    availability: async () => guestHostAvailability(cacheDir()),
    provision: (context) => provisionUnikernel(context, image),
    // Its probe boot runs a guest.
    provisionEarly: true,
    async connect(encoded) {
      return connectUnikernel(facts.decode(encoded), image);
    },
  };
}

async function provisionUnikernel(context: ProvisionContext, image: UnikernelImageOptions | undefined): Promise<Provisioned> {
  const guest = await ensureGuestImage({ cacheDir: context.cacheDir, log: context.log });
  const kvm = kvmAvailability(readKvmHostFacts());
  return provisionWorkDir(NAME, async (workDir) => {
    const connection: UnikernelFacts = {
      workDir,
      // KVM where the host offers it usably, else TCG; the report says which.
      accel: kvm.available ? 'kvm' : 'tcg',
      kernel: guest.kernel,
      kernelRelease: guest.manifest.kernelRelease,
      qemu: await qemuVersion(),
      probeBootToResultMs: 0,
    };
    if (!kvm.available) context.log(`running under TCG: ${kvm.reason}`);
    // One probe boot: proves the kernel, the entry wrapper and the console work before any benchmark.
    const started = connectUnikernel(connection, image);
    const probe = await started.buildProgram!(workloadSource('fork/forksum'), context.cacheDir);
    const program = await started.copyIn(probe.path, 'probe');
    const run = await runProgram(connection, image, [program, '--threads', '1', '2'], {
      timeoutMs: BOOT_TIMEOUT_MS,
      pidfile: join(workDir, 'probe.pid'),
    });
    if (run.exitCode !== 0) {
      throw new BootFailedError(
        `probe boot failed (${run.timedOut ? 'timed out' : `exit ${run.exitCode}`}): ${run.stderr || run.stdout.slice(-500)}`,
        { platform: NAME },
      );
    }
    connection.probeBootToResultMs = Math.round(run.bootToResultMs ?? run.wallMs);
    context.log(`probe boot: result after ${connection.probeBootToResultMs} ms (${connection.accel})`);
    return facts.encode(connection);
  });
}

/** One boot of a program copied in (a .cpio of ours, or image:<path> of the user's); QEMU is gone when it returns. */
function runProgram(
  facts: UnikernelFacts,
  image: UnikernelImageOptions | undefined,
  [program, ...args]: readonly string[],
  boot: { timeoutMs: number; pidfile: string },
): Promise<ConsoleRun> {
  const userImage = program!.startsWith('image:') ? program!.slice('image:'.length) : undefined;
  // The qemu platforms' machine type: microvm hung in 1 of 2 boots here too (3 of 10 in their trials).
  const argv = expandCommand(userImage ? image!.command : defaultCommand(MACHINE_TYPE, MEMORY_MIB, CPUS), {
    qemu: QEMU_BINARY,
    accel: facts.accel,
    kernel: facts.kernel,
    initrd: userImage ? undefined : program,
    image: userImage,
    args,
    pidfile: boot.pidfile,
  });
  return runToResult(argv, { timeoutMs: boot.timeoutMs, resultPattern: userImage ? image!.resultPattern : undefined });
}

function connectUnikernel(facts: UnikernelFacts, image: UnikernelImageOptions | undefined): StartedPlatform {
  let boots = 0;
  return {
    name: NAME,
    workDir: facts.workDir,
    unsupported: (workload) =>
      UNSUPPORTED[workload.name] ?? (workload.kind === 'served' ? 'servers need a network set up by an init system' : undefined),
    async buildProgram(source, cacheDir) {
      const program = basename(source, '.c');
      const prebuilt = image?.images[program];
      if (prebuilt) return { name: program, path: prebuilt, hash: 'user-image' };
      return buildProgram(source, cacheDir, { entry: ENTRY });
    },
    /** Packs the program as the initramfs's /init (or, for a user image, notes its path). */
    async copyIn(hostPath, name) {
      if (image && Object.values(image.images).includes(hostPath)) return `image:${hostPath}`;
      const cpio = join(facts.workDir, `${basename(name)}.cpio`);
      await writeFile(
        cpio,
        writeCpio([
          { kind: 'dir', path: 'dev' },
          { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
          { kind: 'file', path: 'init', data: await readFile(hostPath), mode: 0o755 },
        ]),
        // A disk image QEMU opens as this user; nobody else reads it.
        { mode: 0o600 },
      );
      return cpio;
    },
    async exec(argv, options = {}) {
      const [program, ...args] = argv;
      if (!program || !(program.endsWith('.cpio') || program.startsWith('image:'))) {
        // There is nothing else in the guest: only a program copied in can run.
        return {
          command: [program ?? '', ...args],
          exitCode: 127,
          stdout: '',
          stderr: `${program}: not available in a single-application guest`,
          wallMs: 0,
          timedOut: false,
        };
      }
      const pidfile = join(facts.workDir, `boot-${process.pid}-${++boots}.pid`);
      return runProgram(facts, image, argv, { timeoutMs: options.timeoutMs ?? BOOT_TIMEOUT_MS, pidfile });
    },
    async serviceAddress() {
      throw new WorkloadFailedError(`no network service in a single-application guest: ${UNSUPPORTED.nginx}`, {
        platform: NAME,
      });
    },
    async flushCaches() {
      return true; // every run is a fresh boot with an empty page cache
    },
    async describe() {
      return {
        mode: image ? 'user unikernel image' : 'single-application guest (the workload is /init)',
        accelerator: facts.accel,
        machine: MACHINE_TYPE,
        qemu: facts.qemu,
        kernel: facts.kernelRelease,
        probeBootToResultMs: facts.probeBootToResultMs,
      };
    },
    async close() {},
  };
}
