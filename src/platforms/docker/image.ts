import { createHash } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { BuildFailedError, MissingToolError } from '../../errors.js';
import { DEBIAN_KEYRING, hostAptSource, relaxesValidUntil, requireMirror } from '../../host/apt-sources.js';
import { runChecked, runSync, type FailureContext } from '../../host/command.js';
import { withLock } from '../../host/file-lock.js';
import type { Log } from '../../host/log.js';
import { onExitSync } from '../../host/exit-cleanup.js';
import { isAlive, ownerOfTag, ownerTag, parseOwnerOrPid, type Owner } from '../../host/owner.js';
import { findExecutable, removeTreeSync, stopProcessesUsingSync } from '../../host/process.js';
import { installFix, type ProvisionContext } from '../platform.js';
import { workloadNeeds, type ImageStep } from '../../workloads/index.js';
import { tarOf } from './archive.js';

/*
 * The benchmark image, built offline (no registry is reachable): a Debian
 * minbase root file system from debootstrap, imported as a base image, then a
 * Dockerfile that installs the tools. Both are tagged by a hash of their
 * recipe and reused while it is unchanged. Every step writes under a private
 * name first, so an interrupted build leaves nothing that a later run would
 * take for finished.
 */

/**
 * Upper bounds of the build's steps, so a stalled mirror or engine fails the
 * run instead of hanging it. Generous: from a local mirror debootstrap takes
 * about a minute and the whole build a few.
 */
/** Another run's build of the image is waited for this long at most: longer than the build's bounded steps together. */
const BUILD_LOCK_TIMEOUT_MS = 75 * 60_000;

export const STEP_TIMEOUT_MS = {
  bootstrap: 20 * 60_000,
  pack: 10 * 60_000,
  import: 10 * 60_000,
  build: 20 * 60_000,
};

/** Changing this (or the Dockerfile) gives new tags, so old images are never reused by mistake. */
const BASE_RECIPE_VERSION = 1;
const IMAGE_LABEL = 'virtbench.image';
/** The container's work directory, made by the image. */
export const WORK_DIR = '/bench';

export interface BenchImage {
  tag: string;
  id: string;
}

const hash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** A workload's files, baked into the image: its reason as a comment, then its shell step. */
function imageStep({ why, shell }: ImageStep): string {
  return `${why
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n')}\nRUN ${shell}\n`;
}

/** The workloads' tools, and ps for looking into a running container. */
function imagePackages(): string[] {
  return [...workloadNeeds().packages, 'procps'];
}

function dockerfile(baseTag: string, relaxValidUntil: boolean): string {
  // As the host's apt does (relaxesValidUntil): a host pinned to a dated snapshot accepts its old Release file.
  const update = relaxValidUntil ? 'apt-get -o Acquire::Check-Valid-Until=false update' : 'apt-get update';
  return `FROM ${baseTag}
RUN ${update} \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${imagePackages().join(' ')} \\
 && apt-get clean && rm -rf /var/lib/apt/lists/*
RUN mkdir -m 0755 ${WORK_DIR}
${workloadNeeds().imageSteps.map(imageStep).join('')}WORKDIR ${WORK_DIR}
LABEL ${IMAGE_LABEL}=bench
`;
}

/** The tags the current recipe produces, without building anything. */
export function imageTags(suite: string, relaxValidUntil = false): { base: string; bench: string; dockerfile: string } {
  const base = `virtbench-base:${suite}-${hash(JSON.stringify({ suite, variant: 'minbase', version: BASE_RECIPE_VERSION }))}`;
  const text = dockerfile(base, relaxValidUntil);
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
function throttled(log: Log, everyMs = 4_000): Log {
  let last = 0;
  return (line) => {
    const now = Date.now();
    if (now - last < everyMs) return;
    last = now;
    log(line);
  };
}

/** Reads a Docker progress stream (JSON lines) to its end; rejects on an error item. */
export function follow(stream: NodeJS.ReadableStream, onItem: (item: { stream?: string; status?: string }) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let failed = false;
    createInterface({ input: stream as Readable })
      .on('line', (line) => {
        if (!line.trim() || failed) return;
        const item = JSON.parse(line) as { stream?: string; status?: string; error?: string };
        if (item.error) {
          failed = true;
          reject(new BuildFailedError(`docker: ${item.error.trim()}`, { platform: 'docker' }));
        } else onItem(item);
      })
      .on('close', () => failed || resolve());
    stream.once('error', reject);
  });
}

/** A step of the build done by the engine (an import, a build) and what to do when it stalls. */
export interface EngineStep {
  what: string;
  timeoutMs: number;
  fix: string;
}

/**
 * Runs an engine step under its deadline. At the deadline the request is
 * aborted (the engine cancels a build whose client went away) and the step
 * fails, named, even if the engine never answers the abort.
 */
export async function withinDeadline<T>(step: EngineStep, run: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(
        new BuildFailedError(
          `${step.what} did not finish within ${step.timeoutMs % 60_000 === 0 ? `${step.timeoutMs / 60_000} min` : `${step.timeoutMs} ms`}; fix: ${step.fix}`,
          { platform: 'docker' },
        ),
      );
    }, step.timeoutMs);
  });
  try {
    return await Promise.race([run(controller.signal), expired]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The build a directory or partial tarball belongs to: `build-<owner tag>-<ms>`, `<tarball>.<owner tag>.partial`
 * (owner.ts), or undefined for any other name.
 */
export function buildOwner(entry: string): Owner | undefined {
  const tag = /^build-([^-]+)-\d+$/.exec(entry)?.[1] ?? /\.([^.]+)\.partial$/.exec(entry)?.[1];
  // An older version's names held a bare pid, judged by it alone as they were.
  return tag === undefined ? undefined : (ownerOfTag(tag) ?? parseOwnerOrPid(tag));
}

/** Build directories and partial tarballs of runs provably gone (owner.ts): may still hold debootstrap's /proc mount. */
function removeStaleBuilds(dir: string): void {
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    const owner = buildOwner(entry);
    if (owner && !isAlive(owner)) removeTreeSync(join(dir, entry));
  }
}

function buildStep(what: string, fix?: string): FailureContext {
  return { what, code: 'VIRTBENCH_BUILD_FAILED', platform: 'docker', fix };
}

/**
 * debootstrap's command: minbase, its Release file's signature checked with the Debian archive keyring,
 * and refused when it cannot be checked (without --force-check-gpg debootstrap goes on unverified).
 */
export function debootstrapArgv(suite: string, rootfs: string, mirror: string, keyring = DEBIAN_KEYRING): string[] {
  return ['debootstrap', '--variant=minbase', `--keyring=${keyring}`, '--force-check-gpg', suite, rootfs, mirror];
}

/** debootstrap into a private directory, then a tarball next to it, renamed into place when complete. */
async function bootstrapTarball(tarball: string, suite: string, { log }: ProvisionContext): Promise<void> {
  if (!findExecutable('debootstrap')) {
    throw new MissingToolError(`building the container image needs debootstrap; fix: ${installFix('debootstrap')}`, {
      platform: 'docker',
    });
  }
  if (process.getuid?.() !== 0) {
    throw new BuildFailedError('building the container image runs debootstrap, which needs root; run once as root', {
      platform: 'docker',
    });
  }
  if (!existsSync(DEBIAN_KEYRING)) {
    throw new MissingToolError(
      `building the container image checks the mirror's signatures with ${DEBIAN_KEYRING}, which is missing; fix: ${installFix('debian-archive-keyring')}`,
      { platform: 'docker' },
    );
  }
  const mirror = requireMirror(hostAptSource());
  const work = join(tarball, '..', `build-${ownerTag()}-${Date.now()}`);
  const partial = `${tarball}.${ownerTag()}.partial`;
  // Ctrl-C exits without this function's finally: debootstrap (and the dpkg it runs chrooted) stopped, its mounts and files gone.
  const unregister = onExitSync(() => {
    stopProcessesUsingSync(work);
    removeTreeSync(work);
    rmSync(partial, { force: true });
  });
  try {
    log(`bootstrapping Debian ${suite} (minbase) from the host's apt mirror; takes about a minute`);
    const rootfs = join(work, 'rootfs');
    // On a timeout runChecked kills it and fails with "timed out after N ms" and the fix.
    await runChecked(
      debootstrapArgv(suite, rootfs, mirror),
      buildStep(
        'bootstrapping the container image',
        `check that the apt mirror ${mirror} answers quickly from this host (VIRTBENCH_DEBIAN_MIRROR chooses another), then run again`,
      ),
      { onLine: throttled(log), timeoutMs: STEP_TIMEOUT_MS.bootstrap },
    );
    await runChecked(
      ['tar', '-C', rootfs, '--numeric-owner', '-cf', partial, '.'],
      buildStep("packing the container image's root file system", `check that ${join(tarball, '..')} has free space, then run again`),
      { timeoutMs: STEP_TIMEOUT_MS.pack },
    );
    await rename(partial, tarball);
  } finally {
    unregister();
    stopProcessesUsingSync(work);
    removeTreeSync(work);
    await rm(partial, { force: true });
  }
}

const building = new Map<string, Promise<BenchImage>>();

/**
 * Builds the benchmark image from its Dockerfile (no other context) under tag, instead of the engine's
 * build API: the podman platform's, whose API build ignores networkmode=host.
 */
export type BuildBench = (dockerfile: string, tag: string, log: Log, signal: AbortSignal) => Promise<void>;

export interface ImageOptions {
  /** Which engine (its DOCKER_HOST): images of two engines in one process are built apart. */
  engine: string;
  build?: BuildBench;
}

/** The benchmark image on this engine: found by its recipe tag, else built (once per process, even when asked concurrently). */
export function ensureImage(docker: Dockerode, context: ProvisionContext, options: ImageOptions): Promise<BenchImage> {
  const { suite } = hostAptSource();
  const tags = imageTags(suite, relaxesValidUntil(runSync(['apt-config', 'dump'], { timeoutMs: 10_000 }).stdout));
  const key = `${options.engine} ${tags.bench}`;
  let pending = building.get(key);
  if (!pending) {
    pending = buildImage(docker, suite, tags, context, options.build).finally(() => building.delete(key));
    building.set(key, pending);
  }
  return pending;
}

async function buildImage(
  docker: Dockerode,
  suite: string,
  tags: ReturnType<typeof imageTags>,
  context: ProvisionContext,
  build: BuildBench | undefined,
): Promise<BenchImage> {
  const found = await imageId(docker, tags.bench);
  if (found) return { tag: tags.bench, id: found };
  const { log } = context;
  const dir = join(context.cacheDir, 'docker');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // Two runs sharing a cache (and so the private dockerd) build once: the second waits, then finds the image.
  return await withLock(
    join(dir, 'image-build'),
    async () => {
      const builtMeanwhile = await imageId(docker, tags.bench);
      if (builtMeanwhile) return { tag: tags.bench, id: builtMeanwhile };
      return await buildUnderLock(docker, tags, context, dir, build);
    },
    {
      what: 'building the container image',
      timeoutMs: BUILD_LOCK_TIMEOUT_MS,
      onWait: () => log('waiting for another virtbench process to build the container image'),
      platform: 'docker',
    },
  );
}

async function buildUnderLock(
  docker: Dockerode,
  tags: ReturnType<typeof imageTags>,
  context: ProvisionContext,
  dir: string,
  build: BuildBench | undefined,
): Promise<BenchImage> {
  const started = performance.now();
  const { log } = context;
  const { suite } = hostAptSource();

  if (!(await imageId(docker, tags.base))) {
    removeStaleBuilds(dir);
    const tarball = join(dir, `${tags.base.replace(':', '-')}.tar`);
    if (!existsSync(tarball)) await bootstrapTarball(tarball, suite, context);
    log(`importing ${tags.base}`);
    const baseImport: EngineStep = {
      what: `importing ${tarball} as ${tags.base}`,
      timeoutMs: STEP_TIMEOUT_MS.import,
      fix: 'check that the Docker engine answers (docker info) and its data root has free space (docker system df), then run again; delete the tarball if it may be damaged',
    };
    await withinDeadline(baseImport, async (abortSignal) =>
      // The tag inside repo: Podman's API ignores a separate tag (the image became :latest).
      follow(await docker.importImage(tarball, { repo: tags.base, abortSignal }), () => {}),
    );
  }

  log(`building ${tags.bench}: apt-get install ${imagePackages().join(' ')}`);
  const show = throttled(log, 3_000);
  const buildContext = Readable.from(await tarOf([{ name: 'Dockerfile', data: Buffer.from(tags.dockerfile) }]));
  const benchBuild: EngineStep = {
    what: `building ${tags.bench} (apt-get install in the image)`,
    timeoutMs: STEP_TIMEOUT_MS.build,
    fix: "check that the host's apt mirror answers quickly (the build uses the host network) and the engine's data root has free space (docker system df), then run again",
  };
  await withinDeadline(benchBuild, async (abortSignal) => {
    if (build) return build(tags.dockerfile, tags.bench, show, abortSignal);
    // Host network: the build reaches the apt mirror without NAT rules (the private dockerd installs none).
    const stream = await docker.buildImage(buildContext, { t: tags.bench, networkmode: 'host', rm: true, forcerm: true, abortSignal });
    await follow(stream, (item) => {
      const line = item.stream?.trim();
      if (!line) return;
      if (line.startsWith('Step ')) log(line);
      else show(line);
    });
  });
  const id = await imageId(docker, tags.bench);
  if (!id) throw new BuildFailedError(`the build finished but ${tags.bench} does not exist`, { platform: 'docker' });
  log(`image ${tags.bench} ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return { tag: tags.bench, id };
}
