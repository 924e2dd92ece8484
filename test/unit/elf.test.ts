import { describe, expect, it } from 'vitest';
import { parseElf } from '../../src/workloads/elf.js';

/** A 64-bit little-endian ELF header for machine, with program headers of the given types after it. */
function elf(machine: number, programHeaders: number[]): Buffer {
  const phentsize = 56;
  const bytes = Buffer.alloc(64 + phentsize * programHeaders.length);
  bytes.writeUInt32BE(0x7f454c46, 0);
  bytes[4] = 2; // ELFCLASS64
  bytes[5] = 1; // little-endian
  bytes.writeUInt16LE(machine, 18);
  bytes.writeBigUInt64LE(64n, 32);
  bytes.writeUInt16LE(phentsize, 54);
  bytes.writeUInt16LE(programHeaders.length, 56);
  programHeaders.forEach((type, i) => bytes.writeUInt32LE(type, 64 + i * phentsize));
  return bytes;
}

describe('ELF header facts', () => {
  it('tells aarch64 from x86-64 by e_machine, and a static binary (no PT_INTERP) from a dynamic one', () => {
    expect(parseElf(elf(183, [1, 1, 4]))).toEqual({ machine: 183, arch: 'aarch64', static: true });
    expect(parseElf(elf(62, [6, 3, 1]))).toEqual({ machine: 62, arch: 'x86-64', static: false });
    expect(parseElf(elf(243, [1]))).toEqual({ machine: 243, arch: undefined, static: true });
  });

  it('says why bytes are not an ELF64 header it can read', () => {
    expect(parseElf(Buffer.from('#!/bin/sh\necho hello, this is a script and not a binary at all, really\n'))).toBe('not an ELF file');
    const elf32 = elf(40, []);
    elf32[4] = 1;
    expect(parseElf(elf32)).toBe('not a 64-bit little-endian ELF file');
    expect(parseElf(elf(183, [1, 1]).subarray(0, 100))).toBe('its program headers lie beyond the bytes read');
  });
});
