import { readdirSync } from 'node:fs';
import { BadOptionError, MissingToolError, VirtbenchError } from '../errors.js';
import { runChecked, runCommand } from '../host/command.js';
import { SETUP_COMMAND, SETUP_HINT, type Availability, type HostRequirements } from '../platforms/platform.js';
import { PLATFORM_NAMES, createPlatform, requirementsOf } from '../platforms/index.js';
import { kvmProblems, readKvmHostFacts } from '../platforms/qemu/index.js';

/*
 * `virtbench setup`: what this host lacks for each platform, from the platforms' own requirements
 * (HostRequirements, declared in each platform's folder) and their availability(); with --install, the
 * Debian packages. The rule is a pure function of probed facts (setupLines); the probing and apt-get
 * are the thin shell around it.
 */

/**
 * What the repository's tests need besides the platforms': the HTML report is checked in headless
 * Chromium; shellcheck checks the scripts the workflows run; the remote-host platform is tested against
 * OpenSSH's sshd in a namespace (where an init system runs, the package also starts the system's own
 * sshd: tests never use it); the user's VM image platform is tested with an image built offline
 * (test/vm-image-builder.ts: mmdebstrap, syslinux on a FAT partition, sfdisk) and its NoCloud seed
 * (cloud-image-utils), which `virtbench setup` cannot know of, as the platform is named in options.
 */
export const TEST_PACKAGES: readonly string[] = [
  'chromium',
  'shellcheck',
  'openssh-server',
  'mmdebstrap',
  'syslinux',
  'syslinux-common',
  'mtools',
  'dosfstools',
  'fdisk',
  'cloud-image-utils',
];

/** What setup reads of this host, once. */
export interface HostFacts {
  /** Debian packages installed (dpkg-query), by name. */
  installed: ReadonlySet<string>;
  root: boolean;
  /** What fails of the static KVM rule (/dev/kvm, vmx/svm, kvm_pvm); none: a probe boot at the first run decides. */
  kvmProblems: readonly string[];
  /** The host's network interfaces (/sys/class/net). */
  links: ReadonlySet<string>;
}

/** One platform to check: its requirements and its own availability() verdict. */
export interface SetupCheck {
  name: string;
  requirements: HostRequirements;
  availability: Availability;
}

export interface SetupLine {
  name: string;
  ready: boolean;
  /** The Debian packages to install, the first of each "a | b". */
  missing: string[];
  /** What it lacks (not ready), or what is worth knowing (ready). */
  text: string;
}

/** The packages of `packages` that are not installed; of "a | b", a when neither is. */
export function missingPackages(packages: readonly string[], installed: ReadonlySet<string>): string[] {
  return packages
    .map((p) => p.split('|').map((name) => name.trim()))
    .filter((alternatives) => !alternatives.some((name) => installed.has(name)))
    .map((alternatives) => alternatives[0]!);
}

/** The rule: a platform is ready when nothing it requires is missing and its availability() agrees. */
export function setupLine({ name, requirements, availability }: SetupCheck, facts: HostFacts): SetupLine {
  const needs: string[] = [];
  const notes: string[] = [];
  const missing = missingPackages(requirements.packages, facts.installed);
  if (missing.length) needs.push(`Debian packages ${missing.join(' ')}`);
  if (requirements.root) (facts.root ? notes : needs).push(`root (${requirements.root})`);
  if (requirements.kvm) {
    if (facts.kvmProblems.length === 0) notes.push("KVM (passes the static checks; the first run's probe boot decides)");
    else needs.push(`KVM, which is not usable here: ${facts.kvmProblems.join('; ')}`);
  }
  if (requirements.bridge) {
    notes.push(
      `bridge ${requirements.bridge} (${facts.links.has(requirements.bridge) ? 'exists: a run uses it, or a killed one left it to be reused' : 'free'})`,
    );
  }
  if (needs.length) return { name, ready: false, missing, text: `needs ${needs.join('; ')}` };
  // What availability() finds beyond the requirements (no engine answers, /dev/net/tun, no image and no root).
  if (!availability.available) return { name, ready: false, missing, text: availability.reason.replace(` ${SETUP_HINT}`, '') };
  return { name, ready: true, missing, text: notes.join('; ') };
}

/** The report: one line per platform, then what to do. */
export function setupReport(checks: readonly SetupCheck[], facts: HostFacts): { lines: string[]; ready: boolean; missing: string[] } {
  const rows = checks.map((check) => setupLine(check, facts));
  const width = Math.max(...rows.map((r) => r.name.length));
  const lines = rows.map((r) => `${r.name.padEnd(width)}  ${r.ready ? 'ready    ' : 'not ready'}  ${r.text}`.trimEnd());
  const missing = [...new Set(rows.flatMap((r) => r.missing))];
  const ready = rows.filter((r) => r.ready).length;
  lines.push(`${ready} of ${rows.length} ready`);
  if (missing.length) lines.push(`missing Debian packages: ${missing.join(' ')}; fix: ${SETUP_COMMAND} --install (as root)`);
  return { lines, ready: ready === rows.length, missing };
}

/** apt-get's commands for `packages`: argv arrays, waiting for another apt run's lock rather than failing. */
export function aptCommands(packages: readonly string[]): string[][] {
  const lock = ['-o', 'DPkg::Lock::Timeout=600'];
  return [
    ['apt-get', 'update', '-qq', ...lock],
    ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', ...lock, ...packages],
  ];
}

/** --install without root: what to run instead. */
export function needsRoot(missing: readonly string[], test: boolean): VirtbenchError {
  const commands = aptCommands(missing).map((argv) => `sudo ${argv.join(' ')}`);
  return new MissingToolError(
    `installing Debian packages (${missing.join(' ')}) needs root\n` +
      `fix: sudo ${SETUP_COMMAND} --install${test ? ' --test' : ''}, or: ${commands.join(' && ')}`,
  );
}

/** Installed packages among `names` (dpkg-query); none where there is no dpkg (not Debian). */
async function installedPackages(names: readonly string[]): Promise<Set<string>> {
  // Exits 1 when some name is unknown: the others are still listed.
  const { stdout } = await runCommand(['dpkg-query', '-W', '-f=${Package} ${Status}\\n', ...names], { timeoutMs: 60_000 });
  return new Set(
    stdout
      .split('\n')
      .filter((line) => line.endsWith(' install ok installed'))
      .map((line) => line.split(' ')[0]!),
  );
}

function networkLinks(): Set<string> {
  try {
    return new Set(readdirSync('/sys/class/net'));
  } catch {
    return new Set();
  }
}

export async function probeHost(packages: readonly string[]): Promise<HostFacts> {
  const names = [...new Set(packages.flatMap((p) => p.split('|').map((name) => name.trim())))];
  return {
    installed: await installedPackages(names),
    root: process.getuid?.() === 0,
    kvmProblems: kvmProblems(readKvmHostFacts()),
    links: networkLinks(),
  };
}

export interface SetupOptions {
  /** Built-in platform names; default every one. */
  platforms?: readonly string[];
  install?: boolean;
  /** Add the packages the repository's tests need. */
  test?: boolean;
  log: (line: string) => void;
}

async function checks(platforms: readonly string[], test: boolean): Promise<SetupCheck[]> {
  const own = await Promise.all(
    platforms.map(async (name) => ({
      name,
      requirements: requirementsOf(name),
      availability: await createPlatform(name)
        .availability()
        .catch((error: unknown): Availability => ({ available: false, reason: (error as Error).message.split('\n')[0]! })),
    })),
  );
  return test ? [...own, { name: '(tests)', requirements: { packages: TEST_PACKAGES }, availability: { available: true } }] : own;
}

async function report(platforms: readonly string[], test: boolean, log: (line: string) => void) {
  const list = await checks(platforms, test);
  const result = setupReport(list, await probeHost(list.flatMap((c) => c.requirements.packages)));
  for (const line of result.lines) log(line);
  return result;
}

/** Reports (and installs); returns the exit code: 0 when every platform asked for is ready, 1 when not. */
export async function runSetup({ platforms = PLATFORM_NAMES, install = false, test = false, log }: SetupOptions): Promise<number> {
  const unknown = platforms.filter((name) => !PLATFORM_NAMES.includes(name));
  if (unknown.length) {
    throw new BadOptionError(
      `unknown platform ${unknown.map((n) => `"${n}"`).join(', ')}\nfix: name built-in platforms: ${PLATFORM_NAMES.join(', ')} (a remote host is checked when a run probes it)`,
    );
  }
  const first = await report(platforms, test, log);
  if (!install) return first.ready ? 0 : 1;
  if (first.missing.length > 0) {
    if (process.getuid?.() !== 0) throw needsRoot(first.missing, test);
    log(`installing ${first.missing.join(' ')} (apt-get; this may take minutes)`);
    for (const argv of aptCommands(first.missing)) {
      await runChecked(
        argv,
        {
          what: `installing Debian packages (${argv.slice(0, 2).join(' ')})`,
          code: 'VIRTBENCH_MISSING_TOOL',
          fix: "apt-get's output above names the cause (its sources, the network, the disk): fix that, then run again",
        },
        { env: { DEBIAN_FRONTEND: 'noninteractive' }, timeoutMs: 1_800_000 },
      );
    }
  }
  const steps = process.getuid?.() === 0 ? await afterInstall(platforms, log) : 0;
  if (first.missing.length === 0 && steps === 0) return first.ready ? 0 : 1;
  log(first.missing.length > 0 ? 'installed; checking again:' : 'checking again:');
  return (await report(platforms, test, log)).ready ? 0 : 1;
}

/**
 * The platforms' steps after apt-get (HostRequirements.afterInstall), each once; returns how many ran. One
 * that fails is reported and leaves its platform not ready, with the reason: never the others, nor setup.
 */
async function afterInstall(platforms: readonly string[], log: (line: string) => void): Promise<number> {
  const steps = new Map<() => Promise<string>, string[]>();
  for (const name of platforms) {
    const step = requirementsOf(name).afterInstall;
    if (step) steps.set(step, [...(steps.get(step) ?? []), name]);
  }
  for (const [step, names] of steps) {
    const done = await step().catch((error: unknown) => `could not: ${(error as Error).message.replace(/\n/g, '; ')}`);
    log(`${names.join(', ')}: ${done}`);
  }
  return steps.size;
}
