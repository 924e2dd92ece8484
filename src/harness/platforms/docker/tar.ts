/*
 * The Docker API takes files only as tar archives (copy into a container,
 * build contexts). Our archives hold a handful of small regular files, so a
 * minimal ustar writer is enough and keeps tar-stream/archiver out of our
 * own dependencies.
 */

export interface TarEntry {
  /** Path inside the archive, relative, "/"-separated; parent directories get their own entries. */
  name: string;
  data: Buffer;
  mode?: number;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL terminator, as ustar expects.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name: string, size: number, mode: number, type: '0' | '5'): Buffer {
  if (Buffer.byteLength(name) > 100) throw new RangeError(`tar entry name longer than 100 bytes: ${name}`);
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(mode, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii'); // uid root
  block.write(octal(0, 8), 116, 'ascii'); // gid root
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(Math.floor(Date.now() / 1000), 12), 136, 'ascii');
  block.write(' '.repeat(8), 148, 'ascii'); // checksum field counts as spaces while summing
  block.write(type, 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 'ascii');
  return block;
}

function padding(size: number): Buffer {
  return Buffer.alloc((BLOCK - (size % BLOCK)) % BLOCK);
}

/** An uncompressed tar archive of the entries, owned by root. */
export function tarArchive(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  const directories = new Set<string>();
  for (const entry of entries) {
    const segments = entry.name.split('/').filter(Boolean);
    if (segments.length === 0 || segments.includes('..')) throw new RangeError(`bad tar entry name: ${entry.name}`);
    for (let depth = 1; depth < segments.length; depth++) {
      const dir = segments.slice(0, depth).join('/') + '/';
      if (directories.has(dir)) continue;
      directories.add(dir);
      parts.push(header(dir, 0, 0o755, '5'));
    }
    parts.push(header(segments.join('/'), entry.data.length, entry.mode ?? 0o644, '0'), entry.data, padding(entry.data.length));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
