import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { COPYUP_MIB } from '../../workloads.js';
import { VirtbenchError } from '../../../errors.js';
import { hostAptSource, requireMirror } from '../../host/apt-sources.js';
import { findExecutable, isAlive, removeTreeSync } from '../../host/process.js';
import { tarArchive } from './tar.js';

/*
 * The benchmark image, built offline (no registry is reachable): a Debian
 * minbase root file system from debootstrap, imported as a base image, then a
 * Dockerfile that installs the tools. Both are tagged by a hash of their
 * recipe and reused while it is unchanged. Every step writes under a private
 * name first, so an interrupted build leaves nothing that a later run would
 * take for finished.
 */

const PACKAGES = ['fio', 'nginx-light', 'procps'];
/** Changing this (or the Dockerfile) gives new tags, so old images are never reused by mistake. */
const BASE_RECIPE_VERSION = 1;
export const IMAGE_LABEL = 'virtbench.image';

export interface BenchImage {
  tag: string;
  id: string;
  built: boolean;
}

interface Context {
  cacheDir: string;
  log: (line: string) => void;
}

/** As many as copyup.c expects (LINKS): more than the 48 runs of the assignment profile. */
const COPYUP_LINKS = 64;

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

function dockerfile(baseTag: string): string {
  // The host pins a dated snapshot on some machines, so apt must not reject an old Release file.
  return `FROM ${baseTag}
RUN apt-get -o Acquire::Check-Valid-Until=false update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${PACKAGES.join(' ')} \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN mkdir -m 0755 /bench
# disk-copyup: one file in the image layer under ${COPYUP_LINKS} names (hard links); overlay (index=off)
# copies each name up on its first write, so every run gets an untouched file.
RUN mkdir -m 0755 /opt/virtbench-copyup \
 && dd if=/dev/urandom of=/opt/virtbench-copyup/0 bs=1M count=${COPYUP_MIB} status=none \
 && for i in $(seq 1 ${COPYUP_LINKS - 1}); do ln /opt/virtbench-copyup/0 /opt/virtbench-copyup/$i; done
WORKDIR /bench
LABEL ${IMAGE_LABEL}=bench
`;
}

/** The tags the current recipe produces, without building anything. */
export function imageTags(suite: string): { base: string; bench: string; dockerfile: string } {
  const base = `virtbench-base:${suite}-${hash(JSON.stringify({ suite, variant: 'minbase', version: BASE_RECIPE_VERSION }))}`;
  const text = dockerfile(base);
  return { base, bench: `virtbench-bench:${hash(text)}`, dockerfile: text };
}

async function imageId(docker: Dockerode, tag: string): Promise<string | undefined> {
  try {
    return (await docker.getImage(tag).inspect()).Id;
  } catch {
    return undefined;
  }
}

/** Passes lines on at most every few seconds, so a long build shows life without flooding the console. */
function throttled(log: (line: string) => void, everyMs = 4_000): (line: string) => void {
  let last = 0;
  return (line) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    log(line);
  };
}

/** Runs argv, feeding its output lines to onLine; rejects with the last lines when it fails. */
function run(argv: string[], onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const take = (line: string) => {
      tail.push(line);
      if (tail.length > 12) tail.shift();
      onLine(line);
    };
    createInterface({ input: child.stdout }).on('line', take);
    createInterface({ input: child.stderr }).on('line', take);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new VirtbenchError('VIRTBENCH_BUILD_FAILED', `\`${argv.join(' ')}\` failed (${signal ?? `exit ${code}`}):\n${tail.join('\n')}`, { platform: 'docker' }));
    });
  });
}

/** Reads a Docker progress stream (JSON lines) to its end; rejects on an error item. */
function follow(stream: NodeJS.ReadableStream, onItem: (item: { stream?: string; status?: string }) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false;
    createInterface({ input: stream as Readable })
      .on('line', (line) => {
        if (!line.trim() || failed) return;
        const item = JSON.parse(line) as { stream?: string; status?: string; error?: string };
        if (item.error) {
          failed = true;
          reject(new VirtbenchError('VIRTBENCH_BUILD_FAILED', `docker: ${item.error.trim()}`, { platform: 'docker' }));
        } else onItem(item);
      })
      .on('close', () => failed || resolve());
    stream.once('error', reject);
  });
}

/** Build directories of runs that died (their pid in the name is gone): may still hold debootstrap's /proc mount. */
function removeStaleBuilds(dir: string): void {
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    const pid = Number(/^build-(\d+)/.exec(entry)?.[1]);
    if (pid > 0 && !isAlive(pid)) removeTreeSync(join(dir, entry));
    if (entry.endsWith('.partial') && !isAlive(Number(entry.split('.').at(-2)))) removeTreeSync(join(dir, entry));
  }
}

/** debootstrap into a private directory, then a tarball next to it, renamed into place when complete. */
async function bootstrapTarball(tarball: string, suite: string, { log }: Context): Promise<void> {
  if (!findExecutable('debootstrap')) {
    throw new VirtbenchError('VIRTBENCH_MISSING_TOOL', 'building the container image needs debootstrap; fix: apt-get install debootstrap', {
      platform: 'docker',
    });
  }
  if (process.getuid?.() !== 0) {
    throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', 'building the container image runs debootstrap, which needs root; run once as root', {
      platform: 'docker',
    });
  }
  const mirror = requireMirror(hostAptSource());
  const work = join(tarball, '..', `build-${process.pid}-${Date.now()}`);
  const partial = `${tarball}.${process.pid}.partial`;
  try {
    log(`bootstrapping Debian ${suite} (minbase) from the host's apt mirror; takes about a minute`);
    await run(['debootstrap', '--variant=minbase', suite, join(work, 'rootfs'), mirror], throttled(log));
    await run(['tar', '-C', join(work, 'rootfs'), '--numeric-owner', '-cf', partial, '.'], () => {});
    await rename(partial, tarball);
  } finally {
    removeTreeSync(work);
    await rm(partial, { force: true });
  }
}

const building = new Map<string, Promise<BenchImage>>();

/** The benchmark image on this engine: found by its recipe tag, else built (once per process, even when asked concurrently). */
export function ensureImage(docker: Dockerode, context: Context): Promise<BenchImage> {
  const { suite } = hostAptSource();
  const tags = imageTags(suite);
  let pending = building.get(tags.bench);
  if (!pending) {
    pending = buildImage(docker, suite, tags, context).finally(() => building.delete(tags.bench));
    building.set(tags.bench, pending);
  }
  return pending;
}

async function buildImage(docker: Dockerode, suite: string, tags: ReturnType<typeof imageTags>, context: Context): Promise<BenchImage> {
  const found = await imageId(docker, tags.bench);
  if (found) return { tag: tags.bench, id: found, built: false };
  const started = performance.now();
  const { log } = context;

  if (!(await imageId(docker, tags.base))) {
    const dir = join(context.cacheDir, 'docker');
    await mkdir(dir, { recursive: true });
    removeStaleBuilds(dir);
    const tarball = join(dir, `${tags.base.replace(':', '-')}.tar`);
    if (!existsSync(tarball)) await bootstrapTarball(tarball, suite, context);
    log(`importing ${tags.base}`);
    const [repo, tag] = tags.base.split(':');
    await follow(await docker.importImage(tarball, { repo, tag }), () => {});
  }

  log(`building ${tags.bench}: apt-get install ${PACKAGES.join(' ')}`);
  const show = throttled(log, 3_000);
  const context_ = Readable.from(tarArchive([{ name: 'Dockerfile', data: Buffer.from(tags.dockerfile) }]));
  // Host network: the build reaches the apt mirror without NAT rules (the private dockerd installs none).
  const stream = await docker.buildImage(context_, { t: tags.bench, networkmode: 'host', rm: true, forcerm: true });
  await follow(stream, (item) => {
    const line = item.stream?.trim();
    if (!line) return;
    if (line.startsWith('Step ')) log(line);
    else show(line);
  });
  const id = await imageId(docker, tags.bench);
  if (!id) throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `the build finished but ${tags.bench} does not exist`, { platform: 'docker' });
  log(`image ${tags.bench} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { tag: tags.bench, id, built: true };
}
