import { readFile } from 'node:fs/promises';
import { cpus, hostname, release, totalmem } from 'node:os';
import { runCommand } from './command.js';

/** First line of `<tool> <flag>` (stdout or stderr: nginx prints its version on stderr), or "not installed". */
async function toolVersion(command: string, flag: string): Promise<string> {
  const result = await runCommand([command, flag], { timeoutMs: 10_000 });
  if (result.exitCode !== 0) return 'not installed';
  return (result.stdout.trim() || result.stderr.trim()).split('\n')[0]!.trim();
}

async function osName(): Promise<string> {
  const text = await readFile('/etc/os-release', 'utf8').catch(() => '');
  return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? 'unknown';
}

/**
 * Whether "native" is itself a guest: the CPU's hypervisor flag, and the
 * kernel's name for the hypervisor when dmesg can be read. It matters: in a
 * guest, every page-table change of fork() may trap to the hypervisor.
 */
async function hypervisor(): Promise<string> {
  const cpuinfo = await readFile('/proc/cpuinfo', 'utf8').catch(() => '');
  if (!/^flags\s*:.*\bhypervisor\b/m.test(cpuinfo)) return 'none (bare metal)';
  const dmesg = await runCommand(['dmesg'], { timeoutMs: 10_000 });
  return /Hypervisor detected: (\S+)/.exec(dmesg.stdout)?.[1] ?? 'yes (the CPU reports a hypervisor)';
}

/**
 * The machine the run happened on, for results.json: read-only facts, nothing is started. VIRTBENCH_MACHINE
 * names its class ("metal-kvm", a runner label): `virtbench merge` tells machines apart by it.
 */
export async function hostEnvironment(
  vitestVersion: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, string | number>> {
  const [os, host, gcc, fio, nginx] = await Promise.all([
    osName(),
    hypervisor(),
    toolVersion('gcc', '--version'),
    toolVersion('fio', '--version'),
    toolVersion('nginx', '-v'),
  ]);
  return {
    ...(env.VIRTBENCH_MACHINE ? { machine: env.VIRTBENCH_MACHINE } : {}),
    hostname: hostname(),
    os,
    kernel: release(),
    hypervisor: host,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    vitest: vitestVersion,
    gcc,
    fio,
    nginx,
  };
}
