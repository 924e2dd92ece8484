import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { extract } from 'tar-stream';

/*
 * Files of a container looked at through the engine's archive API, never by running a program in it: a
 * user's image may have no shell (FROM scratch), so `command -v` and `cat` are not there to ask.
 */

/** Where a user image's container gets our idle program (idle.c), which also serves as its `timeout`. */
export const IDLE_PATH = '/.virtbench/idle';

/** PATH where the image sets none: what the engine gives an exec. */
export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Go's os.FileMode bits in the engine's path stat: directory, symlink. */
const GO_DIR = 2 ** 31;
const GO_SYMLINK = 2 ** 27;

/** The engine's stat of a path in the container (X-Docker-Container-Path-Stat), or undefined when there is none. */
async function pathStat(docker: Dockerode, containerId: string, path: string): Promise<{ mode: number; linkTarget?: string } | undefined> {
  try {
    const response = (await docker.getContainer(containerId).infoArchive({ path })) as unknown as Readable & {
      headers?: Record<string, string>;
    };
    response.resume?.();
    const header = response.headers?.['x-docker-container-path-stat'];
    return header ? (JSON.parse(Buffer.from(header, 'base64').toString('utf8')) as { mode: number; linkTarget?: string }) : { mode: 0o755 };
  } catch {
    return undefined; // 404: no such path
  }
}

/** Whether a stat names a program: a symlink (to one, as far as the API tells), or a file with an execute bit. */
function isProgram(stat: { mode: number }): boolean {
  if (stat.mode >= GO_DIR) return false;
  return (stat.mode & GO_SYMLINK) !== 0 || (stat.mode & 0o111) !== 0;
}

/** The image's PATH from the container's environment (Config.Env), else the engine's default. */
export function pathOf(env: readonly string[] | undefined): string {
  return env?.find((v) => v.startsWith('PATH='))?.slice('PATH='.length) || DEFAULT_PATH;
}

/** Where `command` is in the container, as execvp would find it (an absolute path as is); undefined when nowhere. */
export async function findInContainer(docker: Dockerode, containerId: string, command: string, path: string): Promise<string | undefined> {
  const candidates = command.includes('/')
    ? [posix.resolve('/', command)]
    : path
        .split(':')
        .filter(Boolean)
        .map((dir) => posix.join(dir, command));
  for (const candidate of candidates) {
    const stat = await pathStat(docker, containerId, candidate);
    if (stat && isProgram(stat)) return candidate;
  }
  return undefined;
}

/** A regular file's bytes from the container, following symlinks (os-release often is one); undefined when missing. */
export async function readContainerFile(docker: Dockerode, containerId: string, path: string, hops = 0): Promise<Buffer | undefined> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.getContainer(containerId).getArchive({ path });
  } catch {
    return undefined;
  }
  const entry = await new Promise<{ data?: Buffer; link?: string }>((resolve, reject) => {
    const tar = extract();
    let found: { data?: Buffer; link?: string } = {};
    tar.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      body.on('end', () => {
        if (!found.data && !found.link) {
          if (header.type === 'symlink') found = { link: header.linkname ?? '' };
          else if (header.type === 'file') found = { data: Buffer.concat(chunks) };
        }
        next();
      });
    });
    tar.on('finish', () => resolve(found));
    tar.on('error', reject);
    stream.pipe(tar);
  });
  if (entry.link !== undefined && hops < 8)
    return readContainerFile(docker, containerId, posix.resolve(posix.dirname(path), entry.link), hops + 1);
  return entry.data;
}

/** The OS an os-release file names (PRETTY_NAME, else NAME and VERSION_ID). */
export function osFromRelease(text: string | undefined): string {
  if (text === undefined) return 'unknown (no /etc/os-release)';
  const fields = Object.fromEntries(
    text
      .split('\n')
      .map((line) => /^([A-Z_]+)=(.*)$/.exec(line.trim()))
      .filter((m) => m !== null)
      .map((m) => [m[1], m[2]!.replace(/^["']|["']$/g, '')]),
  );
  return fields.PRETTY_NAME || [fields.NAME, fields.VERSION_ID].filter(Boolean).join(' ') || 'unknown (an /etc/os-release without NAME)';
}
