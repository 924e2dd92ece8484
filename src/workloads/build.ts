import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BuildFailedError } from '../errors.js';
import { runChecked } from '../host/command.js';
import { createLog, type Log } from '../host/log.js';
import { sourceDir } from '../host/paths.js';
import { findExecutable } from '../host/process.js';
import { installFix } from '../host/setup-command.js';
import { ensureTrustedDirectory, pathFacts, untrustedFileReason } from '../host/trusted-dir.js';
import { readElfFacts, type TargetArch } from './elf.js';

// A platform that runs another architecture's binaries reads their headers too (platforms import build.ts, not elf.ts).
export { readElfFacts, type ElfFacts, type TargetArch } from './elf.js';

/*
 * Every platform runs the same statically linked binary: native, containers
 * and guests then differ only in the platform, not in libc or compiler.
 * Generic x86-64 code (no -march=native) so a binary-translated guest CPU can
 * run it too.
 */
const CFLAGS = ['-O2', '-static', '-pthread', '-Wall'];

/** What the host needs to build them, for every platform (`virtbench setup`): the compiler and the static libc. */
export const BUILD_PACKAGES: readonly string[] = ['gcc', 'libc6-dev'];
const LIBS = ['-lm'];

/*
 * What a workload is built for (TargetArch): the host's x86-64, or aarch64 with Debian's cross compiler
 * (the binary then runs under an emulator such as qemu-aarch64, or in an arm64 container through binfmt).
 */
export const TARGET_ARCHES: readonly TargetArch[] = ['x86-64', 'aarch64'];

export interface Toolchain {
  /** The C compiler on the PATH. */
  readonly compiler: string;
  /** The Debian packages that bring it and its static libc. */
  readonly packages: readonly string[];
  /** The ELF header's e_machine of what it builds (EM_X86_64 = 62, EM_AARCH64 = 183). */
  readonly elfMachine: number;
}

export const TOOLCHAINS: Readonly<Record<TargetArch, Toolchain>> = {
  'x86-64': { compiler: 'gcc', packages: BUILD_PACKAGES, elfMachine: 62 },
  aarch64: { compiler: 'aarch64-linux-gnu-gcc', packages: ['gcc-aarch64-linux-gnu', 'libc6-dev-arm64-cross'], elfMachine: 183 },
};

/** Why this host cannot build for arch (its compiler is not on the PATH; the fix: toolchainFix), or undefined when it can. */
export function missingToolchain(arch: TargetArch, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const { compiler } = TOOLCHAINS[arch];
  return findExecutable(compiler, env) ? undefined : `the ${arch} C compiler ${compiler} is not installed`;
}

/** How to install what builds for arch. */
export function toolchainFix(arch: TargetArch): string {
  return installFix(...TOOLCHAINS[arch].packages);
}

export interface BuiltProgram {
  name: string;
  path: string;
  /** Hash of sources and flags; part of the binary's file name. */
  hash: string;
}

export interface BuildOptions {
  /**
   * A C file whose main() calls the workload's main, renamed workload_main:
   * how a workload becomes a single-application guest's /init.
   */
  entry?: string;
  /** Where a rebuild of a cached binary that cannot be trusted is told. Default: a "build" log line. */
  log?: Log;
  /** The architecture to build for; default x86-64 with the host's gcc. */
  arch?: TargetArch;
}

/** Path of one of our own workloads' C sources: `<folder>/<program>` under src/workloads/ (e.g. cpu/linpack). */
export function workloadSource(name: string): string {
  return join(sourceDir, 'workloads', `${name}.c`);
}

/** `#include "file"`: a header beside the source (ours share ../clock.h), which the build hashes with it. */
const LOCAL_INCLUDE = /^\s*#\s*include\s*"([^"]+)"/gm;

/**
 * The bytes a build depends on besides the flags: the source, then every header it includes with
 * quotes, and theirs, each once. A header that changes makes a new binary, as a changed source does.
 */
async function sourcesOf(path: string, seen = new Set<string>()): Promise<Buffer[]> {
  if (seen.has(path)) return [];
  seen.add(path);
  const text = await readSource(path);
  const included = [...text.toString('utf8').matchAll(LOCAL_INCLUDE)].map((m) => resolve(dirname(path), m[1]!));
  const nested = await Promise.all(included.map((header) => sourcesOf(header, seen)));
  return [text, ...nested.flat()];
}

async function readSource(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new BuildFailedError(`cannot read workload source ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function gcc(arch: TargetArch, args: string[], source: string): Promise<void> {
  const { compiler } = TOOLCHAINS[arch];
  await runChecked(
    [compiler, ...args],
    {
      what: `building ${source}${arch === 'x86-64' ? '' : ` for ${arch}`}`,
      code: 'VIRTBENCH_BUILD_FAILED',
      fix: `the workloads are C programs built on the host with ${compiler}: ${toolchainFix(arch)}`,
    },
    { timeoutMs: 120_000 },
  );
}

/**
 * Compiles a C source once per hash of its sources, flags and architecture into cacheDir/bin, reusing
 * earlier builds. An x86-64 binary is <name>-<hash> (as before there were others), another one
 * <name>-<arch>-<hash>.
 */
export async function buildProgram(source: string, cacheDir: string, options: BuildOptions = {}): Promise<BuiltProgram> {
  const arch = options.arch ?? 'x86-64';
  if (!TOOLCHAINS[arch])
    throw new BuildFailedError(`cannot build for "${String(arch)}": valid architectures are ${TARGET_ARCHES.join(', ')}`);
  const name = basename(source, '.c') + (options.entry ? `-${basename(options.entry, '.c')}` : '');
  const hasher = createHash('sha256');
  for (const part of await sourcesOf(source)) hasher.update(part);
  if (options.entry) for (const part of await sourcesOf(options.entry)) hasher.update(part);
  hasher.update(CFLAGS.join(' ')).update(LIBS.join(' '));
  // The default adds nothing, so x86-64 binaries cached before other architectures keep their hash.
  if (arch !== 'x86-64') hasher.update(`arch=${arch} compiler=${TOOLCHAINS[arch].compiler}`);
  const hash = hasher.digest('hex').slice(0, 16);
  const binDir = join(cacheDir, 'bin');
  const path = join(binDir, arch === 'x86-64' ? `${name}-${hash}` : `${name}-${arch}-${hash}`);
  // Before trusting a binary by its name: no one else can change the directory it is in, nor the way there.
  await ensureTrustedDirectory(binDir);
  // A trusted directory does not keep others from writing into a file in it that they own or may write
  // (left group-writable by a umask of 002, or copied in keeping its owner): such a binary is built again.
  const cached = await pathFacts(path).catch(() => undefined);
  const distrust = cached && (untrustedFileReason(cached, process.geteuid?.() ?? 0) ?? (await damage(path)));
  if (cached && !distrust) return { name, path, hash };
  if (distrust) (options.log ?? createLog('build'))(`rebuilding rather than running the cached binary: ${distrust}`);
  const missing = missingToolchain(arch);
  if (missing) throw new BuildFailedError(`cannot build ${source} for ${arch}: ${missing}\nfix: ${toolchainFix(arch)}`);

  await mkdir(binDir, { recursive: true, mode: 0o700 });
  // Build in a private directory and rename: an interrupted or concurrent build never leaves a half binary.
  const scratch = await mkdtemp(join(binDir, '.build-'));
  try {
    const output = join(scratch, name);
    if (options.entry) {
      const object = join(scratch, 'workload.o');
      await gcc(arch, [...CFLAGS, '-Dmain=workload_main', '-c', '-o', object, source], source);
      await gcc(arch, [...CFLAGS, '-o', output, options.entry, object, ...LIBS], options.entry);
    } else {
      await gcc(arch, [...CFLAGS, '-o', output, source, ...LIBS], source);
    }
    // The host's gcc builds for the host, whatever it is; a cross compiler must build for its target.
    if (arch !== 'x86-64') await checkBuilt(output, arch, source);
    // Whatever the umask: a group-writable binary would be refused, and rebuilt, on every later run.
    await chmod(output, 0o755);
    // rename replaces a refused file or link, but cannot put a file over a directory.
    if (cached?.isDirectory) await rm(path, { recursive: true, force: true });
    // The digest first: a reader that finds the binary also finds what it must hash to.
    const digestFile = join(scratch, 'sha256');
    await writeFile(digestFile, `${await sha256Of(output)}\n`);
    await rename(digestFile, `${path}.sha256`);
    await rename(output, path);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { name, path, hash };
}

/** A cross compiler that is not what its name says (a wrapper, a misconfigured alternative) would put another architecture's binary in the cache. */
async function checkBuilt(output: string, arch: TargetArch, source: string): Promise<void> {
  const elf = await readElfFacts(output);
  const { compiler, elfMachine } = TOOLCHAINS[arch];
  if (typeof elf === 'string') throw new BuildFailedError(`building ${source} for ${arch} with ${compiler} made no ELF binary: ${elf}`);
  if (elf.machine !== elfMachine || !elf.static) {
    throw new BuildFailedError(
      `building ${source} for ${arch} with ${compiler} made ${elf.static ? 'a static' : 'a dynamically linked'} binary for ` +
        `${elf.arch ?? `ELF machine ${elf.machine}`}, not a static ${arch} one\nfix: make \`${compiler}\` on the PATH Debian's compiler for ${arch}`,
    );
  }
}

async function sha256Of(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/**
 * Why a cached binary is not the one that was built (truncated by a full disk, a byte flipped), or
 * undefined when its content hashes to the digest recorded beside it. A binary is about 1 MB: hashing
 * it at every use costs about a millisecond. One from before digests were recorded is built again once.
 */
async function damage(path: string): Promise<string | undefined> {
  const recorded = (await readFile(`${path}.sha256`, 'utf8').catch(() => '')).trim();
  if (!recorded) return `${path} has no recorded digest (${path}.sha256)`;
  const actual = await sha256Of(path);
  return actual === recorded
    ? undefined
    : `${path} is damaged: its sha256 is ${actual.slice(0, 12)}…, not the ${recorded.slice(0, 12)}… recorded when it was built`;
}
