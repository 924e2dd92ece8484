import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { BadOptionError, BuildFailedError } from '../../errors.js';
import type { ProvisionContext } from '../platform.js';
import { tarOf, type ArchiveEntry } from './archive.js';
import { follow, withinDeadline, STEP_TIMEOUT_MS } from './image.js';
import type { UserImagePlatform } from './user-images.js';

/*
 * The user's image on the engine: found by its reference, or built offline from the user's Dockerfile
 * and context under a tag of ours named by a hash of both (reused while they are unchanged). The engine
 * tags an image only once its build has finished, so an interrupted build leaves no tag of ours.
 */

export interface UserImage {
  tag: string;
  id: string;
  /** The image's architecture as the engine records it (amd64, arm64). */
  architecture: string;
}

/** The Dockerfile goes into the context under this name, so it may live outside the context and be named anything. */
const DOCKERFILE_ENTRY = '.virtbench.Dockerfile';
/** Lines of the build's output an error shows. */
const TAIL_LINES = 12;

/** Every file of a directory, relative "/"-separated names, sorted (the hash must not depend on readdir's order). */
async function contextEntries(dir: string): Promise<ArchiveEntry[]> {
  const entries: ArchiveEntry[] = [];
  const walk = async (path: string): Promise<void> => {
    for (const entry of (await readdir(path, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = join(path, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile())
        entries.push({
          name: relative(dir, full).split('\\').join('/'),
          data: await readFile(full),
          mode: (await stat(full)).mode & 0o777,
        });
    }
  };
  await walk(dir);
  return entries;
}

/** The tag of ours for a user's Dockerfile build: its name and a hash of the Dockerfile and every context file. */
export function buildTag(name: string, dockerfile: Buffer, context: readonly ArchiveEntry[]): string {
  const hash = createHash('sha256').update(dockerfile);
  for (const entry of context) hash.update(`\0${entry.name}\0${entry.mode ?? 0o644}\0`).update(entry.data);
  return `virtbench-user-${name}:${hash.digest('hex').slice(0, 12)}`;
}

async function inspect(docker: Dockerode, reference: string): Promise<UserImage | undefined> {
  try {
    const info = await docker.getImage(reference).inspect();
    return { tag: reference, id: info.Id, architecture: info.Architecture };
  } catch {
    return undefined;
  }
}

/** The user's image on this engine (engineName: for messages), built first when it comes from a Dockerfile. */
export async function ensureUserImage(
  docker: Dockerode,
  engineName: string,
  user: UserImagePlatform,
  { log }: ProvisionContext,
): Promise<UserImage> {
  if (user.image !== undefined) {
    const found = await inspect(docker, user.image);
    if (found) return found;
    throw new BadOptionError(
      `container image "${user.name}": the image ${user.image} does not exist in ${engineName}, and no registry is pulled from\n` +
        `fix: load it into that engine first (docker load -i <file>, or build it there), or give "dockerfile" for virtbench to build`,
      { platform: user.platform },
    );
  }
  const dockerfile = readFileSync(user.dockerfile!);
  const context = await contextEntries(user.context!);
  const tag = buildTag(user.name, dockerfile, context);
  const found = await inspect(docker, tag);
  if (found) return found;
  log(`building ${tag} from ${user.dockerfile} (context ${user.context})`);
  const tar = await tarOf([...context.filter((e) => e.name !== DOCKERFILE_ENTRY), { name: DOCKERFILE_ENTRY, data: dockerfile }]);
  const output: string[] = [];
  const step = {
    what: `building ${tag} from ${user.dockerfile}`,
    timeoutMs: STEP_TIMEOUT_MS.build,
    fix: "check that the Dockerfile's steps need no network (no registry is reachable) and the engine has free space, then run again",
  };
  try {
    await withinDeadline(step, async (abortSignal) => {
      const stream = await docker.buildImage(Readable.from(tar), {
        t: tag,
        dockerfile: DOCKERFILE_ENTRY,
        rm: true,
        forcerm: true,
        // Offline (never pull): FROM scratch, or an image already in the engine.
        pull: false,
        networkmode: 'host',
        abortSignal,
      });
      await follow(stream, (item) => {
        for (const line of (item.stream ?? '').split('\n').map((l) => l.trimEnd())) if (line) output.push(line);
      });
    });
  } catch (error) {
    const tail = output.slice(-TAIL_LINES).join('\n');
    throw new BuildFailedError(
      `container image "${user.name}": building ${user.dockerfile} failed: ${(error as Error).message}` +
        (tail ? `\nits output ends with:\n${tail}` : '') +
        `\nfix: make the Dockerfile build offline (FROM scratch or an image already in ${engineName}; no network steps), then run again`,
      { platform: user.platform, cause: error },
    );
  }
  const built = await inspect(docker, tag);
  if (!built) throw new BuildFailedError(`the build finished but ${tag} does not exist`, { platform: user.platform });
  return built;
}

/** The engine's architecture in the image's terms (Docker reports the kernel's, x86_64; images say amd64). */
export function imageArchitecture(engineArchitecture: string): string {
  const names: Record<string, string> = {
    x86_64: 'amd64',
    aarch64: 'arm64',
    armv7l: 'arm',
    i686: '386',
    ppc64le: 'ppc64le',
    s390x: 's390x',
  };
  return names[engineArchitecture] ?? engineArchitecture;
}

/** The binfmt_misc handler that runs an architecture's programs on another (qemu-user-static registers them). */
const QEMU_NAMES: Record<string, string> = {
  arm64: 'aarch64',
  arm: 'arm',
  amd64: 'x86_64',
  '386': 'i386',
  ppc64le: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
};

/** Whether this kernel runs programs of `architecture` through an enabled binfmt handler. */
function binfmtRuns(architecture: string): boolean {
  const handler = `/proc/sys/fs/binfmt_misc/qemu-${QEMU_NAMES[architecture] ?? architecture}`;
  try {
    return existsSync(handler) && readFileSync(handler, 'utf8').startsWith('enabled');
  } catch {
    return false;
  }
}

/**
 * Why the engine cannot run the image's programs, or undefined when it can: another architecture than
 * the engine's, with no binfmt handler for it (engineLocal: the handler is looked for on this kernel).
 */
export function wrongArchitecture(
  image: UserImage,
  engineArchitecture: string,
  engineLocal: boolean,
  reference: string,
): string | undefined {
  const engine = imageArchitecture(engineArchitecture);
  if (!image.architecture || image.architecture === engine) return undefined;
  if (engineLocal && binfmtRuns(image.architecture)) return undefined;
  return (
    `wrong architecture: the image ${reference} is linux/${image.architecture}, and the engine runs linux/${engine} ` +
    `without a binfmt handler for ${image.architecture} (exec format error); ` +
    `fix: build the image for linux/${engine}, or let the kernel run ${image.architecture} programs (apt-get install qemu-user-static binfmt-support)`
  );
}
