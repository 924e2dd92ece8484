import { buffer } from 'node:stream/consumers';
import { pack } from 'tar-stream';

/*
 * The Docker API takes files only as tar archives: a file copied into a
 * container, an image's build context.
 */

export interface ArchiveEntry {
  /** Path inside the archive, relative, "/"-separated; parent directories get their own entries. */
  name: string;
  data: Buffer;
  /** Default 0644. */
  mode?: number;
}

/** The parent directories of a relative path, outermost first ("a/b/c" gives "a/", "a/b/"). */
function parents(segments: readonly string[]): string[] {
  return segments.slice(0, -1).map((_, depth) => segments.slice(0, depth + 1).join('/') + '/');
}

/** An uncompressed tar archive of the entries, owned by root; names that would leave the target directory are refused. */
export async function tarOf(entries: readonly ArchiveEntry[]): Promise<Buffer> {
  const archive = pack();
  const directories = new Set<string>();
  const mtime = new Date();
  for (const entry of entries) {
    const segments = entry.name.split('/').filter(Boolean);
    if (segments.length === 0 || segments.includes('..') || entry.name.startsWith('/'))
      throw new RangeError(`bad tar entry name: ${entry.name}`);
    for (const dir of parents(segments).filter((d) => !directories.has(d))) {
      directories.add(dir);
      archive.entry({ name: dir, type: 'directory', mode: 0o755, uid: 0, gid: 0, mtime });
    }
    archive.entry({ name: segments.join('/'), type: 'file', mode: entry.mode ?? 0o644, uid: 0, gid: 0, mtime }, entry.data);
  }
  archive.finalize();
  return buffer(archive);
}
