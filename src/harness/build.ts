import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { VirtbenchError } from '../errors.js';
import { runChecked } from './host/command.js';
import { fixturesDir } from './host/paths.js';

/*
 * Every platform runs the same statically linked binary: native, containers
 * and guests then differ only in the platform, not in libc or compiler.
 * Generic x86-64 code (no -march=native) so a binary-translated guest CPU can
 * run it too.
 */
const CFLAGS = ['-O2', '-static', '-pthread', '-Wall'];
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
}

/** Path of one of our own workloads' C sources. */
export function workloadSource(name: string): string {
  return join(fixturesDir, 'workloads', `${name}.c`);
}

async function readSource(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `cannot read workload source ${path}: ${(cause as Error).message}`, { cause });
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

async function gcc(args: string[], source: string): Promise<void> {
  await runChecked(
    ['gcc', ...args],
    {
      what: `building ${source}`,
      code: 'VIRTBENCH_BUILD_FAILED',
      fix: 'the workloads are C programs built on the host with gcc: apt-get install gcc libc6-dev',
    },
    { timeoutMs: 120_000 },
  );
}

/** Compiles a C source once per hash of its sources and flags into cacheDir/bin, reusing earlier builds. */
export async function buildProgram(source: string, cacheDir: string, options: BuildOptions = {}): Promise<BuiltProgram> {
  const name = basename(source, '.c') + (options.entry ? `-${basename(options.entry, '.c')}` : '');
  const hasher = createHash('sha256').update(await readSource(source));
  if (options.entry) hasher.update(await readSource(options.entry));
  const hash = hasher.update(CFLAGS.join(' ')).update(LIBS.join(' ')).digest('hex').slice(0, 16);
  const binDir = join(cacheDir, 'bin');
  const path = join(binDir, `${name}-${hash}`);
  if (await isFile(path)) return { name, path, hash };

  await mkdir(binDir, { recursive: true });
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
    await rename(output, path);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return { name, path, hash };
}
