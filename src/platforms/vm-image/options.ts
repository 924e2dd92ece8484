import { isAbsolute, resolve } from 'node:path';
import { BadOptionError } from '../../errors.js';

/*
 * The user's own VM images, each a platform per accelerator under a name of the user's:
 * virtbench({ vmImages: { myvm: { image: '/srv/images/app.qcow2' } } }) adds myvm-tcg and myvm-kvm.
 * Pure rules over the options; nothing here touches the image.
 */

export type VmAccel = 'tcg' | 'kvm';
export const VM_ACCELS: readonly VmAccel[] = ['tcg', 'kvm'];

/** One image, as a user writes it. */
export interface VmImageOptions {
  /** A raw or qcow2 disk that boots with its own bootloader and kernel (BIOS; QEMU's SeaBIOS). Never written. */
  image: string;
  /** Default: what qemu-img detects; only raw and qcow2 are booted. */
  format?: 'raw' | 'qcow2';
  /** Which accelerators to measure it under; default both (kvm is skipped where KVM cannot run). */
  accel?: readonly VmAccel[];
  /** Who virtbench logs in as; default root. */
  user?: string;
  /** Default 2048. */
  memoryMiB?: number;
  /** Default 2. */
  cpus?: number;
  /** From QEMU's start to the guest's ssh banner; default 300 under TCG, 120 under KVM. */
  bootTimeoutSeconds?: number;
  /**
   * Your own login instead of the NoCloud seed (for an image without cloud-init): the key that logs in,
   * and a known_hosts file with the image's host key under the image's name (or `*`).
   */
  login?: { privateKeyPath: string; knownHostsPath: string };
}

export type VmImagesOptions = Readonly<Record<string, VmImageOptions>>;

/** One image under one accelerator, every default filled in: a platform. */
export interface VmImageSettings {
  /** The project name: <image name>-<accel>. */
  name: string;
  /** The image's name in the options. */
  key: string;
  image: string;
  format?: 'raw' | 'qcow2';
  accel: VmAccel;
  user: string;
  memoryMiB: number;
  cpus: number;
  bootTimeoutMs: number;
  login?: { privateKeyPath: string; knownHostsPath: string };
}

const FIELDS = ['image', 'format', 'accel', 'user', 'memoryMiB', 'cpus', 'bootTimeoutSeconds', 'login'] as const;
const IMAGE_NAME = /^[a-z][a-z0-9-]{0,39}$/;
const EXAMPLE = "{ myvm: { image: '/path/to/disk.qcow2' } }";

function bad(where: string, message: string, fix: string): BadOptionError {
  return new BadOptionError(`${where}: ${message}\nfix: ${fix}`);
}

function positiveInteger(value: unknown, max: number): boolean {
  return Number.isInteger(value) && (value as number) > 0 && (value as number) <= max;
}

/** Checks option "vmImages"; image paths come back absolute (resolved against baseDir). */
export function validateVmImages(value: unknown, reserved: readonly string[], baseDir = process.cwd()): VmImagesOptions {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad('option "vmImages"', `must map names to images, got ${JSON.stringify(value)}`, `write ${EXAMPLE}`);
  }
  const images: Record<string, VmImageOptions> = {};
  for (const [key, entry] of Object.entries(value)) {
    const where = `vmImages.${key}`;
    if (!IMAGE_NAME.test(key))
      throw bad(where, 'a name is lower-case letters, digits and dashes, starting with a letter', 'rename it, e.g. myvm');
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
      throw bad(where, 'must be an object with at least "image"', `write ${EXAMPLE}`);
    const fields = entry as Record<string, unknown>;
    const unknown = Object.keys(fields).find((f) => !(FIELDS as readonly string[]).includes(f));
    if (unknown) throw bad(where, `unknown field "${unknown}"`, `use only ${FIELDS.join(', ')}`);
    if (typeof fields.image !== 'string' || fields.image === '')
      throw bad(where, '"image" must be the path of a disk image', `write ${EXAMPLE}`);
    if (fields.format !== undefined && fields.format !== 'raw' && fields.format !== 'qcow2') {
      throw bad(
        where,
        `"format" must be "raw" or "qcow2", got ${JSON.stringify(fields.format)}`,
        'leave it out to use the format qemu-img detects',
      );
    }
    const accel = fields.accel ?? VM_ACCELS;
    if (!Array.isArray(accel) || accel.length === 0 || !accel.every((a) => (VM_ACCELS as readonly unknown[]).includes(a))) {
      throw bad(
        where,
        `"accel" must be a non-empty list of "tcg" and "kvm", got ${JSON.stringify(fields.accel)}`,
        "write accel: ['tcg'] or leave it out",
      );
    }
    if (fields.user !== undefined && !(typeof fields.user === 'string' && /^[a-z_][a-z0-9_.-]*$/i.test(fields.user))) {
      throw bad(where, `"user" must be a user name, got ${JSON.stringify(fields.user)}`, 'leave it out to log in as root');
    }
    if (fields.memoryMiB !== undefined && !positiveInteger(fields.memoryMiB, 1 << 20))
      throw bad(where, '"memoryMiB" must be a whole number of MiB', 'e.g. 2048');
    if (fields.cpus !== undefined && !positiveInteger(fields.cpus, 256)) throw bad(where, '"cpus" must be a whole number from 1', 'e.g. 2');
    if (fields.bootTimeoutSeconds !== undefined && !(typeof fields.bootTimeoutSeconds === 'number' && fields.bootTimeoutSeconds > 0)) {
      throw bad(where, '"bootTimeoutSeconds" must be a number of seconds', 'e.g. 300, or leave it out');
    }
    const login = fields.login as Record<string, unknown> | undefined;
    if (
      login !== undefined &&
      !(typeof login === 'object' && login !== null && typeof login.privateKeyPath === 'string' && typeof login.knownHostsPath === 'string')
    ) {
      throw bad(
        where,
        '"login" must be { privateKeyPath, knownHostsPath }',
        "name your key and a known_hosts file with the image's host key, or leave it out to use a NoCloud seed",
      );
    }
    for (const a of accel as VmAccel[]) {
      if (reserved.includes(`${key}-${a}`)) throw bad(where, `"${key}-${a}" is a platform of virtbench's own`, 'name the image otherwise');
    }
    images[key] = {
      ...(fields as unknown as VmImageOptions),
      image: isAbsolute(fields.image) ? fields.image : resolve(baseDir, fields.image),
      ...(login
        ? {
            login: {
              privateKeyPath: resolve(baseDir, login.privateKeyPath as string),
              knownHostsPath: resolve(baseDir, login.knownHostsPath as string),
            },
          }
        : {}),
    };
  }
  return images;
}

/** The platforms the images make: <name>-<accel> for each accelerator asked for. */
export function vmImageNames(options: VmImagesOptions | undefined): string[] {
  return Object.entries(options ?? {}).flatMap(([key, o]) => (o.accel ?? VM_ACCELS).map((a) => `${key}-${a}`));
}

/** The settings of platform name, or undefined when no image makes it. */
export function vmImageSettings(name: string, options: VmImagesOptions | undefined): VmImageSettings | undefined {
  for (const [key, o] of Object.entries(options ?? {})) {
    const accel = (o.accel ?? VM_ACCELS).find((a) => `${key}-${a}` === name);
    if (!accel) continue;
    return {
      name,
      key,
      image: o.image,
      format: o.format,
      accel,
      user: o.user ?? 'root',
      memoryMiB: o.memoryMiB ?? 2048,
      cpus: o.cpus ?? 2,
      bootTimeoutMs: (o.bootTimeoutSeconds ?? (accel === 'kvm' ? 120 : 300)) * 1000,
      login: o.login,
    };
  }
  return undefined;
}
