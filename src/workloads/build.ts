import { createHash } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BuildFailedError } from '../errors.js';
import { runChecked } from '../host/command.js';
import { createLog, type Log } from '../host/log.js';
import { sourceDir } from '../host/paths.js';
import { installFix } from '../host/setup-command.js';
import { ensureTrustedDirectory, pathFacts, untrustedFileReason } from '../host/trusted-dir.js';

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

async function gcc(args: string[], source: string): Promise<void> {
  await runChecked(
    ['gcc', ...args],
    {
      what: `building ${source}`,
      code: 'VIRTBENCH_BUILD_FAILED',
      fix: `the workloads are C programs built on the host with gcc: ${installFix(...BUILD_PACKAGES)}`,
    },
    { timeoutMs: 120_000 },
  );
}

/** Compiles a C source once per hash of its sources and flags into cacheDir/bin, reusing earlier builds. */
export async function buildProgram(source: string, cacheDir: string, options: BuildOptions = {}): Promise<BuiltProgram> {
  const name = basename(source, '.c') + (options.entry ? `-${basename(options.entry, '.c')}` : '');
  const hasher = createHash('sha256');
  for (const part of await sourcesOf(source)) hasher.update(part);
  if (options.entry) for (const part of await sourcesOf(options.entry)) hasher.update(part);
  const hash = hasher.update(CFLAGS.join(' ')).update(LIBS.join(' ')).digest('hex').slice(0, 16);
  const binDir = join(cacheDir, 'bin');
  const path = join(binDir, `${name}-${hash}`);
  // Before trusting a binary by its name: no one else can change the directory it is in, nor the way there.
  await ensureTrustedDirectory(binDir);
  // A trusted directory does not keep others from writing into a file in it that they own or may write
  // (left group-writable by a umask of 002, or copied in keeping its owner): such a binary is built again.
  const cached = await pathFacts(path).catch(() => undefined);
  const distrust = cached && (untrustedFileReason(cached, process.geteuid?.() ?? 0) ?? (await damage(path)));
  if (cached && !distrust) return { name, path, hash };
  if (distrust) (options.log ?? createLog('build'))(`rebuilding rather than running the cached binary: ${distrust}`);

  await mkdir(binDir, { recursive: true, mode: 0o700 });
  // Build in a private directory and rename: an interrupted or concurrent build never leaves a half binary.
  const scratch = await mkdtemp(join(binDir, '.build-'));
  try {
    const output = join(scratch, name);
    if (options.entry) {
      const object = join(scratch, 'workload.o');
      await gcc([...CFLAGS, '-Dmain=workload_main', '-c', '-o', object, source], source);
      await gcc([...CFLAGS, '-o', output, options.entry, object, ...LIBS], options.entry);
    } else {
      await gcc([...CFLAGS, '-o', output, source, ...LIBS], source);
    }
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
