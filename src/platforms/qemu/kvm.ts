import { accessSync, constants, existsSync, readFileSync } from 'node:fs';
import { SETUP_HINT, type Availability } from '../platform.js';
import { processSingleton } from '../../host/shared.js';

/** What the host tells us about KVM, gathered once so the rule itself stays a pure function. */
export interface KvmHostFacts {
  /** /dev/kvm exists. */
  devKvm: boolean;
  /** This process may open /dev/kvm for reading and writing. */
  devKvmReadWrite: boolean;
  /** The flags line of /proc/cpuinfo has vmx (Intel VT-x) or svm (AMD-V). */
  cpuVirtualization: boolean;
  /**
   * kvm_pvm is loaded: a paravirtual KVM for machines that are guests
   * themselves. It offers /dev/kvm without vmx/svm, and a stock Debian kernel
   * never gets past its decompressor under it.
   */
  kvmPvm: boolean;
}

export function readKvmHostFacts(): KvmHostFacts {
  const devKvm = existsSync('/dev/kvm');
  let devKvmReadWrite = false;
  try {
    accessSync('/dev/kvm', constants.R_OK | constants.W_OK);
    devKvmReadWrite = true;
  } catch {
    // missing, or no permission (not in the kvm group)
  }
  let cpuinfo = '';
  try {
    cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    // not Linux: no KVM either
  }
  return {
    devKvm,
    devKvmReadWrite,
    cpuVirtualization: cpuHasVirtualization(cpuinfo),
    kvmPvm: existsSync('/sys/module/kvm_pvm'),
  };
}

export function cpuHasVirtualization(cpuinfo: string): boolean {
  return cpuinfo.split('\n').some((line) => /^flags\s*:/.test(line) && /\s(vmx|svm)(\s|$)/.test(line));
}

/**
 * The static rule: KVM is usable only with a read/write /dev/kvm, a CPU that
 * offers vmx or svm, and no kvm_pvm. Every failing condition is named, on one
 * line. Passing it is necessary, not sufficient: a probe boot confirms.
 */
export function kvmAvailability(facts: KvmHostFacts): Availability {
  const problems = kvmProblems(facts);
  if (problems.length === 0) return { available: true };
  return {
    available: false,
    reason: `KVM is not usable here: ${problems.join('; ')}; fix: a host with hardware virtualization, or qemu-tcg ${SETUP_HINT}`,
  };
}

/** Every condition of the static rule that fails, each in words. */
export function kvmProblems(facts: KvmHostFacts): string[] {
  const problems: string[] = [];
  if (!facts.devKvm) problems.push('/dev/kvm does not exist (no KVM module loaded)');
  else if (!facts.devKvmReadWrite) problems.push('/dev/kvm is not readable and writable by this user (add it to the kvm group)');
  if (!facts.cpuVirtualization) problems.push('the CPU offers neither vmx nor svm (no hardware virtualization exposed)');
  if (facts.kvmPvm) problems.push('kvm_pvm (paravirtual KVM) is loaded, and a stock Debian kernel does not boot under it');
  return problems;
}

/**
 * The probe: once the static rule passed, one real boot under a short
 * deadline decides. boot() starts a KVM guest and resolves once it answers.
 */
export async function probeKvm(boot: () => Promise<{ kill(): Promise<void> }>): Promise<Availability> {
  try {
    const guest = await boot();
    await guest.kill();
    return { available: true };
  } catch (error) {
    const firstLine = (error as Error).message.split('\n')[0];
    return { available: false, reason: `KVM passed the static checks, but a probe boot failed: ${firstLine}` };
  }
}

/**
 * The probe's verdict, run once per process and shared by the kvm variants.
 * Kept on globalThis: Vitest loads each project's globalSetup through its own
 * module runner, so this module exists once per project.
 */
export function sharedKvmProbe(probe: () => Promise<Availability>, store: object = globalThis): Promise<Availability> {
  return processSingleton('virtbench.qemu.kvmProbe', probe, store);
}
