import { open } from 'node:fs/promises';

/*
 * Just enough of an ELF header to tell which architecture a binary is for and whether it is static:
 * a cached or user-given binary for another architecture fails with its cause before it runs.
 */

/** The architectures virtbench builds workloads for (build.ts): the host's x86-64, or aarch64 with a cross compiler. */
export type TargetArch = 'x86-64' | 'aarch64';

export interface ElfFacts {
  /** e_machine: EM_X86_64 = 62, EM_AARCH64 = 183. */
  machine: number;
  /** The architecture of machine, when it is one virtbench builds for. */
  arch?: TargetArch;
  /** No PT_INTERP program header: the kernel (or qemu-user) runs it without a dynamic loader. */
  static: boolean;
}

const MACHINES: Readonly<Record<number, TargetArch>> = { 62: 'x86-64', 183: 'aarch64' };
const PT_INTERP = 3;
/** ELF64 headers are 64 bytes; program headers follow at e_phoff. Enough for every header of ours. */
const READ_BYTES = 64 * 1024;

/** The facts of an ELF64 little-endian header in bytes, or a reason why it is not one. */
export function parseElf(bytes: Buffer): ElfFacts | string {
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) return 'not an ELF file';
  if (bytes[4] !== 2 || bytes[5] !== 1) return 'not a 64-bit little-endian ELF file';
  const machine = bytes.readUInt16LE(18);
  const phoff = Number(bytes.readBigUInt64LE(32));
  const phentsize = bytes.readUInt16LE(54);
  const phnum = bytes.readUInt16LE(56);
  let interp = false;
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (at + 4 > bytes.length) return 'its program headers lie beyond the bytes read';
    if (bytes.readUInt32LE(at) === PT_INTERP) interp = true;
  }
  return { machine, arch: MACHINES[machine], static: !interp };
}

/** The ELF facts of a file, or why it has none (not an ELF file, not readable). */
export async function readElfFacts(path: string): Promise<ElfFacts | string> {
  let file;
  try {
    file = await open(path, 'r');
    const buffer = Buffer.alloc(READ_BYTES);
    const { bytesRead } = await file.read(buffer, 0, READ_BYTES, 0);
    return parseElf(buffer.subarray(0, bytesRead));
  } catch (error) {
    return `cannot read it: ${(error as Error).message}`;
  } finally {
    await file?.close();
  }
}
