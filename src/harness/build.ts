import { createHash } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { VirtbenchError } from '../errors.js';
import { fixturesDir } from './paths.js';

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
  /** Hash of source and flags; part of the binary's file name. */
  hash: string;
}

/** Path of one of our own workloads' C sources. */
export function workloadSource(name: string): string {
  return join(fixturesDir, 'workloads', `${name}.c`);
}

/** Compiles a C source once per source hash into cacheDir/bin, reusing earlier builds. */
export async function buildProgram(source: string, cacheDir: string): Promise<BuiltProgram> {
  const name = basename(source, '.c');
  let text: Buffer;
  try {
    text = await readFile(source);
  } catch (cause) {
    throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `cannot read workload source ${source}: ${(cause as Error).message}`, { cause });
  }
  const hash = createHash('sha256').update(text).update(CFLAGS.join(' ')).update(LIBS.join(' ')).digest('hex').slice(0, 16);
  const binDir = join(cacheDir, 'bin');
  const path = join(binDir, `${name}-${hash}`);
  if (await isFile(path)) return { name, path, hash };

  await mkdir(binDir, { recursive: true });
  // Build to a private name and rename: an interrupted or concurrent build never leaves a half binary.
  const partial = `${path}.${process.pid}.partial`;
  try {
    await execa('gcc', [...CFLAGS, '-o', partial, source, ...LIBS], { timeout: 120_000 });
    await rename(partial, path);
  } catch (cause) {
    await rm(partial, { force: true });
    const missing = (cause as { code?: string }).code === 'ENOENT';
    throw new VirtbenchError(
      missing ? 'VIRTBENCH_MISSING_TOOL' : 'VIRTBENCH_BUILD_FAILED',
      missing
        ? `gcc not found: the workloads are C programs built on the host; install it with \`apt-get install gcc libc6-dev\``
        : `building ${name} from ${source} failed: ${(cause as { stderr?: string }).stderr ?? (cause as Error).message}`,
      { cause },
    );
  }
  return { name, path, hash };
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
