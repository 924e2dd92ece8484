import { createHash } from 'node:crypto';
import { readFileSync, realpathSync } from 'node:fs';
import { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { BuildFailedError } from '../../errors.js';
import { runCommand } from '../../host/command.js';
import { missingToolchain, toolchainFix } from '../../workloads/build.js';
import { toolOf, type Workload } from '../../workloads/index.js';
import type { Availability, PlatformInfo, ProvisionContext } from '../platform.js';
import { parseEmulatorVersion } from '../qemu-user/index.js';
import { tarOf } from './archive.js';
import { aarch64BinfmtProblem, readBinfmtHandler } from './binfmt.js';
import { IDLE_PATH } from './container-files.js';
import { follow, STEP_TIMEOUT_MS, withinDeadline, type BenchImage } from './image.js';

/*
 * docker-arm64: an arm64 container on this x86-64 engine, its programs run by the kernel through the
 * binfmt_misc handler qemu-user-static registers (qemu-aarch64-static, each process emulated). Its image
 * is virtbench's own, made offline: `docker load` of an archive holding only our idle program built for
 * aarch64 (idle.c), as linux/arm64; the workloads, cross-built for aarch64, are copied in as for any
 * container. The handler needs the F flag: the kernel opens the interpreter when it is registered, so
 * that it is found from inside a container, whose root file system has no qemu.
 */

export const ARM64_PLATFORM = 'docker-arm64';
export const ARM64_ARCH = 'aarch64';
/** Changing it (or idle.c) gives a new tag, so an older image is never taken for the current one. */
const IMAGE_RECIPE_VERSION = 1;
const IMAGE_REPO = 'virtbench-arm64';
/** Our images carry this label (image.ts labels virtbench's own image "bench"). */
export const ARM64_IMAGE_LABEL = 'virtbench.image=arm64';

function realPath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}

/** Whether this host can run the platform beyond the engine: the binfmt handler, the aarch64 cross compiler. */
export function arm64Availability(env: NodeJS.ProcessEnv = process.env): Availability {
  const binfmt = aarch64BinfmtProblem();
  if (binfmt) return { available: false, reason: binfmt };
  const compiler = missingToolchain(ARM64_ARCH, env);
  if (compiler)
    return { available: false, reason: `${compiler}, which builds the workloads for aarch64; fix: ${toolchainFix(ARM64_ARCH)}` };
  return { available: true };
}

/** The image's tag: a hash of what it holds (the idle program's bytes) and of its recipe. */
export function arm64ImageTag(idle: Buffer): string {
  const hash = createHash('sha256').update(`recipe ${IMAGE_RECIPE_VERSION}\0`).update(idle).digest('hex').slice(0, 12);
  return `${IMAGE_REPO}:${hash}`;
}

/**
 * The image as a docker-save archive (what `docker load` takes): one layer holding the idle program, and a
 * config that says linux/arm64. Not `docker import`: Debian's dockerd (20.10) records an import as the
 * engine's own architecture whatever platform is asked for.
 */
export async function arm64ImageArchive(tag: string, idle: Buffer): Promise<Buffer> {
  const layer = await tarOf([{ name: IDLE_PATH.slice(1), data: idle, mode: 0o755 }]);
  const [label, value] = ARM64_IMAGE_LABEL.split('=') as [string, string];
  const config = {
    architecture: 'arm64',
    os: 'linux',
    config: { Cmd: [IDLE_PATH], Labels: { [label]: value } },
    rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layer).digest('hex')}`] },
  };
  const manifest = [{ Config: 'config.json', RepoTags: [tag], Layers: ['layer.tar'] }];
  return tarOf([
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
    { name: 'config.json', data: Buffer.from(JSON.stringify(config)) },
    { name: 'layer.tar', data: layer },
  ]);
}

const loading = new Map<string, Promise<BenchImage>>();

/**
 * The arm64 image on this engine: found by its tag, else loaded (once per process). The engine tags a
 * load only once its layer is in, so an interrupted one leaves no tag of ours to be taken for done.
 */
export function ensureArm64Image(docker: Dockerode, engine: string, idleProgram: string, { log }: ProvisionContext): Promise<BenchImage> {
  const idle = readFileSync(idleProgram);
  const tag = arm64ImageTag(idle);
  const key = `${engine} ${tag}`;
  let pending = loading.get(key);
  if (!pending) {
    pending = loadArm64Image(docker, tag, idle, log).finally(() => loading.delete(key));
    loading.set(key, pending);
  }
  return pending;
}

async function imageOf(docker: Dockerode, tag: string): Promise<BenchImage | undefined> {
  try {
    const info = await docker.getImage(tag).inspect();
    return { tag, id: info.Id };
  } catch {
    return undefined;
  }
}

async function loadArm64Image(docker: Dockerode, tag: string, idle: Buffer, log: (line: string) => void): Promise<BenchImage> {
  const found = await imageOf(docker, tag);
  if (found) return found;
  log(`loading ${tag} (linux/arm64: our idle program built for aarch64, nothing else)`);
  const archive = await arm64ImageArchive(tag, idle);
  const step = {
    what: `loading ${tag}`,
    timeoutMs: STEP_TIMEOUT_MS.import,
    fix: 'check that the Docker engine answers (docker info) and its data root has free space (docker system df), then run again',
  };
  await withinDeadline(step, async (abortSignal) => follow(await docker.loadImage(Readable.from([archive]), { abortSignal }), () => {}));
  const image = await imageOf(docker, tag);
  if (!image) throw new BuildFailedError(`the load finished but ${tag} does not exist`, { platform: ARM64_PLATFORM });
  const architecture = (await docker.getImage(tag).inspect()).Architecture;
  if (architecture !== 'arm64') {
    await docker
      .getImage(tag)
      .remove({ force: true })
      .catch(() => {});
    throw new BuildFailedError(
      `the engine loaded ${tag} as ${architecture}, not arm64\nfix: use a Docker engine that keeps an image's architecture (docker.io from Debian 12 or later)`,
      { platform: ARM64_PLATFORM },
    );
  }
  return image;
}

/** Why a workload cannot run in the arm64 container, or undefined: only our C programs are built for aarch64. */
export function arm64Unsupported(workload: Workload): string | undefined {
  if (workload.image) {
    return `the arm64 image holds only virtbench's idle program: it lacks the files ${workload.name} times (${workload.image.why.split('\n')[0]})`;
  }
  const tool = toolOf(workload);
  if (tool) {
    return `the arm64 image holds only virtbench's C workloads cross-built for aarch64, not \`${tool.command}\` (an arm64 ${tool.command} needs an arm64 Debian root file system, which no registry gives offline)`;
  }
  if (workload.kind === 'command' && 'script' in workload.program) {
    return "the arm64 image has no interpreter for a script's #! line";
  }
  return undefined;
}

/** The platform's own facts: the image's architecture, the binfmt handler, and the version of QEMU it runs. */
export async function describeArm64(docker: Dockerode, imageId: string): Promise<PlatformInfo> {
  const image = await docker.getImage(imageId).inspect();
  const handler = readBinfmtHandler();
  // The interpreter may be a wrapper that runs only under binfmt (Debian's aarch64-binfmt-P, for the P
  // flag), a link to qemu-aarch64-static: the emulator it links to says its version.
  const emulator = handler?.interpreter ? realPath(handler.interpreter) : undefined;
  const version = emulator
    ? await runCommand([emulator, '--version'], { timeoutMs: 10_000 })
        .then((r) => parseEmulatorVersion(r.stdout))
        .catch(() => undefined)
    : undefined;
  return {
    imageArchitecture: `${image.Os}/${image.Architecture}`,
    emulation: "each process of the container through the kernel's binfmt_misc handler (QEMU user-mode, static)",
    binfmtInterpreter: handler?.interpreter ?? 'none',
    ...(emulator && emulator !== handler?.interpreter ? { emulator } : {}),
    binfmtFlags: handler?.flags ?? '',
    qemu: version ?? 'unknown',
  };
}
