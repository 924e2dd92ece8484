import { describe, expect, it } from 'vitest';
import { hasPvhEntry } from '../../src/platforms/qemu/guest-build.js';

/** A minimal ELF64 little-endian image with one PT_NOTE segment holding the given notes. */
function elfWithNotes(notes: { name: string; type: number; desc?: Buffer }[]): Buffer {
  const body = Buffer.concat(
    notes.map(({ name, type, desc = Buffer.alloc(8) }) => {
      const nameBytes = Buffer.from(`${name}\0`, 'latin1');
      const header = Buffer.alloc(12);
      header.writeUInt32LE(nameBytes.length, 0);
      header.writeUInt32LE(desc.length, 4);
      header.writeUInt32LE(type, 8);
      const pad = (b: Buffer) => Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
      return Buffer.concat([header, pad(nameBytes), pad(desc)]);
    }),
  );
  const elf = Buffer.alloc(64 + 56);
  elf.writeUInt32BE(0x7f454c46, 0);
  elf[4] = 2; // ELFCLASS64
  elf[5] = 1; // little-endian
  elf.writeBigUInt64LE(64n, 0x20); // e_phoff
  elf.writeUInt16LE(56, 0x36); // e_phentsize
  elf.writeUInt16LE(1, 0x38); // e_phnum
  elf.writeUInt32LE(4, 64); // PT_NOTE
  elf.writeBigUInt64LE(BigInt(elf.length), 64 + 8); // p_offset
  elf.writeBigUInt64LE(BigInt(body.length), 64 + 0x20); // p_filesz
  return Buffer.concat([elf, body]);
}

describe('the PVH entry of a kernel', () => {
  it.each([
    {
      when: "is found among the kernel's Xen notes",
      notes: [
        { name: 'GNU', type: 3 },
        { name: 'Xen', type: 6 },
        { name: 'Xen', type: 18 },
      ],
      found: true,
    },
    {
      when: 'is not there without the Xen note of type 18 (a kernel built without CONFIG_PVH)',
      notes: [
        { name: 'Xen', type: 6 },
        { name: 'GNU', type: 18 },
      ],
      found: false,
    },
  ])('$when', ({ notes, found }) => {
    expect(hasPvhEntry(elfWithNotes(notes))).toBe(found);
  });

  it('is not read from what is not an ELF64 little-endian image (a bzImage, a truncated file)', () => {
    const elf = elfWithNotes([{ name: 'Xen', type: 18 }]);
    expect(hasPvhEntry(Buffer.concat([Buffer.from('MZ'), elf.subarray(2)]))).toBe(false);
    expect(hasPvhEntry(elf.subarray(0, 40))).toBe(false);
  });
});
