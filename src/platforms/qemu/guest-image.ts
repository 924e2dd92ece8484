import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BuildFailedError, isVirtbenchError } from '../../errors.js';
import { onExitSync } from '../../host/exit-cleanup.js';
import { withLock } from '../../host/file-lock.js';
import { removeTreeSync, stopProcessesUsingSync } from '../../host/process.js';
import { shareWhileRunning } from '../../host/shared.js';
import type { Log } from '../../host/log.js';
import { SETUP_HINT, type Availability } from '../platform.js';
import { aptSources, createApt } from './apt.js';
import { buildInitramfs, buildRootTree, customizeRootTree, extractPvhKernel, fetchKernel, makeRootImage } from './guest-build.js';
import { GUEST_PACKAGES, KERNEL_METAPACKAGE, recipeHash } from './guest-recipe.js';
import { BUILD_TOOLS, QEMU_TOOLS, missingTools, toolsFix } from './host-tools.js';
import { generateHostKey, writeClientKey } from './keys.js';

/*
 * The guest image cache: <cacheDir>/qemu/guest-<recipe>-<versions>/ holds
 * vmlinuz, vmlinux (the same kernel uncompressed, where it has a PVH entry),
 * initramfs.cpio, rootfs.img (the clean base), the client key pair
 * and image.json. A pointer file per recipe names the newest build, so a warm
 * run needs neither the network nor apt. An image directory appears only by
 * rename at the end of a successful build.
 *
 * rootfs.img holds the guest's private host key and root's authorized key,
 * client_key the key that logs in: the cache directories are 0700 and the
 * image's files 0600. Only this user (QEMU runs as it) reads them.
 */

export interface ImageManifest {
  recipe: string;
  key: string;
  suite: string;
  kernelPackage: string;
  kernelRelease: string;
  packages: Record<string, string>;
  hostKey: { publicBlob: string; fingerprint: string };
  builtAt: string;
  buildSeconds: number;
  /** Size and sha256 of each file of the image, recorded at build time (or at the first use of an older image). */
  files?: Record<string, FileDigest>;
}

export interface FileDigest {
  size: number;
  sha256: string;
}

export interface GuestImage {
  dir: string;
  /** What QEMU boots: vmlinux through its PVH entry when the build could unpack it, else vmlinuz. */
  kernel: string;
  /** How the kernel boots, for the report. */
  kernelEntry: 'PVH (uncompressed vmlinux)' | 'bzImage';
  initrd: string;
  /** The base root image; boots use a qcow2 overlay over it. */
  rootImage: string;
  /** Client private key, mode 0600. */
  clientKey: string;
  manifest: ImageManifest;
}

export interface ImageOptions {
  cacheDir: string;
  log: Log;
}

/** Another run building the same image is waited for this long at most: longer than a build's bounded steps together. */
const BUILD_LOCK_TIMEOUT_MS = 45 * 60_000;

const imageRoot = (cacheDir: string) => join(cacheDir, 'qemu');
const pointerPath = (cacheDir: string) => join(imageRoot(cacheDir), `guest-${recipeHash()}.current`);

function loadImage(dir: string): GuestImage | undefined {
  const manifestFile = join(dir, 'image.json');
  if (!existsSync(manifestFile)) return undefined;
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as ImageManifest;
  const pvh = existsSync(join(dir, PVH_KERNEL));
  return {
    dir,
    kernel: join(dir, pvh ? PVH_KERNEL : 'vmlinuz'),
    kernelEntry: pvh ? 'PVH (uncompressed vmlinux)' : 'bzImage',
    initrd: join(dir, 'initramfs.cpio'),
    rootImage: join(dir, 'rootfs.img'),
    clientKey: join(dir, 'client_key'),
    manifest,
  };
}

/** The cached image for the current recipe, if one was built; never builds and never touches the network. */
export function findGuestImage(cacheDir: string): GuestImage | undefined {
  try {
    const name = readFileSync(pointerPath(cacheDir), 'utf8').trim();
    return name ? loadImage(join(imageRoot(cacheDir), name)) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether this host can boot guests of the image (the qemu platforms and the
 * unikernel alike): QEMU, and the builders and root while the image is not
 * built yet. Cheap: looks for files only.
 */
export function guestHostAvailability(cacheDir: string): Availability {
  const built = findGuestImage(cacheDir) !== undefined;
  const missing = missingTools(built ? QEMU_TOOLS : [...QEMU_TOOLS, ...BUILD_TOOLS]);
  if (missing.length) return { available: false, reason: `${missing.join(', ')} not installed; fix: ${toolsFix(missing)}` };
  if (!built && process.getuid?.() !== 0) {
    return {
      available: false,
      reason: `the guest image is not built yet and building it (mmdebstrap) needs root; fix: run once as root ${SETUP_HINT}`,
    };
  }
  return { available: true };
}

/**
 * Returns the cached guest image, building it first when there is none (or,
 * with VIRTBENCH_QEMU_REFRESH=1, when the package versions changed). The
 * platforms that boot it provision at the same time (Platform.provisionEarly):
 * concurrent callers in this process share one look (one check of the files,
 * one build), and the lock keeps other processes out of a build.
 */
export function ensureGuestImage(options: ImageOptions): Promise<GuestImage> {
  return shareWhileRunning(`virtbench.qemu.guest-image:${resolve(options.cacheDir)}`, () => findOrBuildGuestImage(options));
}

async function findOrBuildGuestImage(options: ImageOptions): Promise<GuestImage> {
  const refresh = process.env.VIRTBENCH_QEMU_REFRESH === '1';
  const root = imageRoot(options.cacheDir);
  const cached = findGuestImage(options.cacheDir);
  if (cached && !refresh) {
    const damaged = await imageDamage(cached);
    if (!damaged) {
      // Also tightens a cache an older virtbench built world-readable.
      await makePrivate(root, cached.dir);
      return cached;
    }
    options.log(`guest image: the cached ${cached.dir} is damaged (${damaged}); building it again`);
  }

  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  return await withLock(
    join(root, 'guest-build'),
    async () => {
      // Someone else may have built it while we waited for the lock.
      let built = refresh ? undefined : findGuestImage(options.cacheDir);
      if (built && (await imageDamage(built))) {
        await rm(built.dir, { recursive: true, force: true });
        built = undefined;
      }
      const image = built ?? (await buildGuestImage(root, options.log));
      await makePrivate(root, image.dir);
      return image;
    },
    {
      what: 'building the guest image',
      timeoutMs: BUILD_LOCK_TIMEOUT_MS,
      onWait: () => options.log('waiting for another guest image build'),
    },
  );
}

/** The files a boot reads: each must still be what the build wrote (vmlinux too, when the build made one). */
const IMAGE_FILES = ['vmlinuz', 'initramfs.cpio', 'rootfs.img', 'client_key'] as const;
const PVH_KERNEL = 'vmlinux';
/** When each file was last hashed and found intact: a file unchanged since (size, mtime, inode) is not hashed again. */
const VERIFIED_FILE = 'verified.json';

interface Verified {
  size: number;
  mtimeMs: number;
  ino: number;
}

async function sha256Of(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function digestFiles(dir: string): Promise<Record<string, FileDigest>> {
  const files: Record<string, FileDigest> = {};
  const names = existsSync(join(dir, PVH_KERNEL)) ? [...IMAGE_FILES, PVH_KERNEL] : IMAGE_FILES;
  for (const name of names) files[name] = { size: (await stat(join(dir, name))).size, sha256: await sha256Of(join(dir, name)) };
  return files;
}

/**
 * Why a cached image is not what its build wrote (a truncated rootfs.img after a full disk, a byte
 * flipped), or undefined when it is intact. Sizes are compared every time; a file is hashed again
 * (seconds for the 1 GiB rootfs.img) only when it changed since it was last found intact. An image
 * from before digests were recorded gets them now.
 */
export async function imageDamage(image: GuestImage): Promise<string | undefined> {
  const verifiedPath = join(image.dir, VERIFIED_FILE);
  const verified = JSON.parse(await readFile(verifiedPath, 'utf8').catch(() => '{}')) as Record<string, Verified>;
  let digests = image.manifest.files;
  if (!digests) {
    digests = await digestFiles(image.dir);
    image.manifest.files = digests;
    await writeFile(join(image.dir, 'image.json'), JSON.stringify(image.manifest, null, 2) + '\n', { mode: 0o600 });
  }
  let changed = false;
  for (const name of new Set([...IMAGE_FILES, ...Object.keys(digests)])) {
    const expected = digests[name];
    const found = await stat(join(image.dir, name)).catch(() => undefined);
    if (!expected) return `image.json records no digest for ${name}`;
    if (!found) return `${name} is missing`;
    if (found.size !== expected.size) return `${name} is ${found.size} bytes, not the ${expected.size} it was built with`;
    const seen = verified[name];
    if (seen && seen.size === found.size && seen.mtimeMs === found.mtimeMs && seen.ino === found.ino) continue;
    const actual = await sha256Of(join(image.dir, name));
    if (actual !== expected.sha256)
      return `${name} has sha256 ${actual.slice(0, 12)}…, not the ${expected.sha256.slice(0, 12)}… it was built with`;
    verified[name] = { size: found.size, mtimeMs: found.mtimeMs, ino: found.ino };
    changed = true;
  }
  if (changed) await writeFile(verifiedPath, JSON.stringify(verified) + '\n', { mode: 0o600 });
  return undefined;
}

/**
 * The cache root and an image directory 0700, every file of the image 0600. The image directory
 * is flat (see loadImage); anything else in it is made private too rather than left readable.
 */
export async function makePrivate(root: string, imageDir: string): Promise<void> {
  await chmod(root, 0o700);
  await chmod(imageDir, 0o700);
  for (const entry of await readdir(imageDir, { withFileTypes: true })) {
    if (entry.isSymbolicLink()) continue; // chmod would follow it
    await chmod(join(imageDir, entry.name), entry.isDirectory() ? 0o700 : 0o600);
  }
}

async function writePointer(root: string, name: string): Promise<void> {
  const temp = join(root, `.pointer-${process.pid}`);
  await writeFile(temp, `${name}\n`);
  await rename(temp, join(root, `guest-${recipeHash()}.current`));
}

async function buildGuestImage(root: string, log: Log): Promise<GuestImage> {
  const started = performance.now();
  // Only the lock holder builds, so any half-built directory left here is from an interrupted run.
  for (const entry of await readdir(root)) {
    if (entry.startsWith('.building-')) await rm(join(root, entry), { recursive: true, force: true });
  }

  const { file: sourcesFile, suite } = await aptSources(join(root, 'apt'));
  const apt = await createApt(join(root, 'apt'), sourcesFile);
  log(`guest image: resolving package versions (${suite}, sources from ${sourcesFile})`);
  await apt.update();
  const kernelPackage = await apt.kernelPackage(KERNEL_METAPACKAGE);
  const packages = await apt.versions([kernelPackage, ...GUEST_PACKAGES]);
  const recipe = recipeHash();
  const key = createHash('sha256').update(recipe).update(JSON.stringify(packages)).digest('hex').slice(0, 12);
  const name = `guest-${recipe}-${key}`;
  const existing = loadImage(join(root, name));
  if (existing) {
    await writePointer(root, name);
    await pruneOldImages(root, name, log);
    log(`guest image: ${name} is up to date`);
    return existing;
  }

  const work = join(root, `.building-${process.pid}-${randomBytes(4).toString('hex')}`);
  // Ctrl-C exits without the finally below: mmdebstrap and what it runs stopped, the half-built image gone.
  const unregister = onExitSync(() => {
    stopProcessesUsingSync(work);
    removeTreeSync(work);
  });
  const partial = join(work, 'image');
  await mkdir(partial, { recursive: true, mode: 0o700 });
  try {
    log(`guest image: building ${name} (${kernelPackage} ${packages[kernelPackage]}; takes a minute or two)`);
    log('guest image: [1/4] kernel package');
    const kernel = await fetchKernel(apt, kernelPackage, packages[kernelPackage]!, work);

    log(`guest image: [2/4] root file system with ${GUEST_PACKAGES.join(', ')} (mmdebstrap)`);
    const tree = join(work, 'rootfs');
    await buildRootTree(tree, suite, sourcesFile, packages);
    const hostKey = generateHostKey();
    const clientKey = join(partial, 'client_key');
    const authorizedKey = await writeClientKey(clientKey);
    await customizeRootTree(tree, { hostKey: hostKey.dropbearPrivate, authorizedKey });

    log('guest image: [3/4] initramfs');
    await buildInitramfs(kernel, tree, join(work, 'initramfs'), join(partial, 'initramfs.cpio'));
    const noPvh = await extractPvhKernel(kernel.vmlinuz, join(partial, PVH_KERNEL));
    if (noPvh) log(`guest image: the guest boots the compressed kernel, a few seconds slower under TCG: ${noPvh}`);
    await rename(kernel.vmlinuz, join(partial, 'vmlinuz'));

    log('guest image: [4/4] ext4 root image');
    await makeRootImage(tree, join(partial, 'rootfs.img'));

    const manifest: ImageManifest = {
      recipe,
      key,
      suite,
      kernelPackage,
      kernelRelease: kernel.release,
      packages,
      hostKey: { publicBlob: hostKey.publicBlob, fingerprint: hostKey.fingerprint },
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round((performance.now() - started) / 100) / 10,
      files: await digestFiles(partial),
    };
    await writeFile(join(partial, 'image.json'), JSON.stringify(manifest, null, 2) + '\n');
    await makePrivate(root, partial);
    await rename(partial, join(root, name));
    await writePointer(root, name);
    await pruneOldImages(root, name, log);
    log(`guest image: ${name} built in ${manifest.buildSeconds} s`);
    return loadImage(join(root, name))!;
  } catch (cause) {
    if (isVirtbenchError(cause)) throw cause;
    throw new BuildFailedError(`guest image build failed: ${(cause as Error).message}`, { cause });
  } finally {
    unregister();
    stopProcessesUsingSync(work);
    removeTreeSync(work);
  }
}

/**
 * Older images (other recipes or package versions) take ~300 MB each. A guest
 * still running from one keeps working: QEMU holds its files open.
 */
async function pruneOldImages(root: string, keep: string, log: Log): Promise<void> {
  const current = `guest-${recipeHash()}.current`;
  for (const entry of await readdir(root)) {
    const old =
      (entry.startsWith('guest-') && entry.endsWith('.current') && entry !== current) ||
      (/^guest-[0-9a-f]+-[0-9a-f]+$/.test(entry) && entry !== keep);
    if (!old) continue;
    await rm(join(root, entry), { recursive: true, force: true });
    log(`guest image: removed the older ${entry}`);
  }
}
