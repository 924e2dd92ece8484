import type { ElfFacts } from '../../workloads/build.js';
import { toolOf, type Workload } from '../../workloads/index.js';

/*
 * The pure parts of the qemu-user-arm64 platform: how a program runs under the emulator, what QEMU says
 * about itself, and why a program or a workload cannot run there.
 */

/** QEMU's user-mode emulator for aarch64 (Debian's qemu-user), always called by name: no binfmt handler is needed. */
export const EMULATOR = 'qemu-aarch64';

/**
 * The emulated CPU: QEMU's most capable model, which is also what qemu-aarch64 emulates without -cpu (its
 * user-mode default, `any`, is `max`: the same MIDR_EL1 0xf0510 and ID registers), so what an arm64
 * container through binfmt gets. Named here so that the facts say which.
 */
export const EMULATED_CPU = 'max';

/** The host argv that runs argv (an aarch64 program and its arguments) under the emulator. */
export function emulatedArgv(argv: readonly string[], cpu: string = EMULATED_CPU): string[] {
  if (argv.length === 0 || !argv[0]) throw new Error('no program to run under qemu-aarch64');
  return [EMULATOR, '-cpu', cpu, ...argv];
}

/** "qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)" -> "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)". */
export function parseEmulatorVersion(stdout: string): string | undefined {
  return /^qemu-aarch64 version\s+(\S.*)$/m.exec(stdout)?.[1]?.trim();
}

/** How a program for this platform is made: the fix for a binary of another architecture. */
export const REBUILD_FIX =
  "build it for aarch64 as a static binary (aarch64-linux-gnu-gcc -static; in virtbench, buildProgram(source, cacheDir, { arch: 'aarch64' })), or run it on native";

/** Why qemu-aarch64 cannot run a file with these ELF facts (or none: the reason readElfFacts gave), or undefined when it can. */
export function wrongProgram(facts: ElfFacts | string): string | undefined {
  if (typeof facts === 'string') return `is no program qemu-aarch64 can load (${facts})`;
  if (facts.arch !== 'aarch64') {
    return `is ${facts.arch ? `an ${facts.arch}` : `an ELF machine ${facts.machine}`} binary, not an aarch64 one (qemu-aarch64: Invalid ELF image for this architecture)`;
  }
  if (!facts.static)
    return 'is dynamically linked: its loader and libraries would have to come from an arm64 root file system, which this platform has not';
  return undefined;
}

/**
 * Why a workload cannot run under user-mode emulation, or undefined: only our C programs are built for
 * aarch64; a Debian tool (fio, nginx) and a script's interpreter are the host's x86-64 programs.
 */
export function unsupportedWorkload(workload: Workload): string | undefined {
  const tool = toolOf(workload);
  if (tool) {
    return `${tool.command} is an x86-64 program from the host's Debian packages; qemu-user-arm64 runs only virtbench's C workloads cross-built for aarch64 (an arm64 ${tool.command} needs an arm64 root file system: an arm64 container)`;
  }
  if (workload.kind === 'command' && 'script' in workload.program) {
    return "a script's interpreter (its #! line) is an x86-64 program of the host, which would run natively, not under qemu-aarch64";
  }
  return undefined;
}
