import { BadOptionError } from '../errors.js';
import type { Question } from '../results/schema.js';
import { BUILD_PACKAGES } from '../workloads/build.js';
import type { HostRequirements, Platform, PlatformFamily } from './platform.js';
import type { Variant } from './variants.js';
import { dockerPlatforms, type ContainerImagesOptions } from './docker/index.js';
import { nativePlatforms } from './native/index.js';
import { qemuPlatforms } from './qemu/index.js';
import { qemuUserPlatforms } from './qemu-user/index.js';
import { remotePlatforms, type RemotesOptions } from './remote/index.js';
import { unikernelPlatforms, type UnikernelImageOptions } from './unikernel/index.js';
import { vmImagePlatforms, type VmImagesOptions } from './vm-image/index.js';

/*
 * The registry: every platform virtbench can run, by project name. A new
 * platform is its own folder with an index.ts exporting a PlatformFamily, and
 * one line here (two when it takes options).
 */

const FAMILIES: readonly PlatformFamily[] = [
  nativePlatforms,
  dockerPlatforms as PlatformFamily,
  qemuPlatforms,
  unikernelPlatforms,
  qemuUserPlatforms,
  // Named by the user; never one of the built-in names.
  remotePlatforms(() => PLATFORM_NAMES) as PlatformFamily,
  vmImagePlatforms(() => PLATFORM_NAMES) as PlatformFamily,
];

/** The platforms' own options in virtbench({...}), typed for users' configs. */
export interface PlatformOptions {
  /** Boot your own unikernel images (rumprun, Unikraft builds of our workloads) on the unikernel platform. */
  unikernel?: UnikernelImageOptions;
  /**
   * Other machines, reached over SSH, each a platform under its name (`--project lab1`):
   * { lab1: { host, port, username, privateKeyPath, knownHostsPath, workRoot } }. A JSON file of the same
   * shape named by VIRTBENCH_REMOTES adds to them.
   */
  remotes?: RemotesOptions;
  /**
   * Your own VM images (raw or qcow2, booting with their own bootloader), each a platform per accelerator
   * (`--project myvm-tcg`, `myvm-kvm`): { myvm: { image, format, accel, user, memoryMiB, cpus, bootTimeoutSeconds, login } }.
   */
  vmImages?: VmImagesOptions;
  /**
   * Your own container images, each run under the container platforms you name, each pair a platform
   * "<name>-<platform>" (`--project myapp-docker`): { myapp: { image: 'myapp:1.0', under: ['docker', 'podman'] } },
   * or { dockerfile, context } for one virtbench builds. A JSON file of the same shape named by
   * VIRTBENCH_CONTAINER_IMAGES adds to them.
   */
  containerImages?: ContainerImagesOptions;
}

/** Validated platform options by key: plain data, so it reaches the workers too. */
export type PlatformSettings = Readonly<Record<string, unknown>>;

/** The built-in platforms (remote hosts come from the options: see platformNames). */
export const PLATFORM_NAMES: readonly string[] = FAMILIES.flatMap((family) => family.names);
export const PLATFORM_OPTION_KEYS: readonly string[] = FAMILIES.flatMap((family) => (family.optionsKey ? [family.optionsKey] : []));

/** The platforms the user's options add (remote hosts), from the validated settings. */
export function optionPlatformNames(settings: PlatformSettings): string[] {
  return FAMILIES.flatMap((family) => (family.namesFor && family.optionsKey ? family.namesFor(settings[family.optionsKey]) : []));
}

/** Every platform a config can name: the built-in ones, then those of its options. */
export function platformNames(settings: PlatformSettings = {}): string[] {
  return [...PLATFORM_NAMES, ...optionPlatformNames(settings)];
}

/**
 * A platform may run under a second name, "<platform>#<label>" (native#2):
 * the same platform measured as another project, for A/A runs that show how
 * small a difference this machine can resolve.
 */
export function basePlatform(name: string): string {
  const hash = name.indexOf('#');
  return hash < 0 ? name : name.slice(0, hash);
}

export function isKnownPlatform(name: string, settings: PlatformSettings = {}): boolean {
  const base = basePlatform(name);
  return platformNames(settings).includes(base) && (base === name || /^[a-z0-9-]+$/.test(name.slice(base.length + 1)));
}

function familyOf(name: string, settings: PlatformSettings): PlatformFamily {
  const base = basePlatform(name);
  const family = FAMILIES.find(
    (f) => f.names.includes(base) || (f.namesFor && f.optionsKey && f.namesFor(settings[f.optionsKey]).includes(base)),
  );
  if (!family) throw new BadOptionError(`unknown platform "${name}"; valid platforms: ${platformNames(settings).join(', ')}`);
  return family;
}

/** Checks every platform option present in options (keys of PLATFORM_OPTION_KEYS); returns them validated. */
export function validatePlatformOptions(
  options: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv = process.env,
): PlatformSettings {
  const settings: Record<string, unknown> = {};
  for (const family of FAMILIES) {
    const key = family.optionsKey;
    if (!key || (options[key] === undefined && !family.namesFor)) continue;
    settings[key] = family.validateOptions ? family.validateOptions(options[key], env) : options[key];
  }
  refuseSharedNames(settings);
  return settings;
}

/** Two options may not name the same platform (a remote "app-tcg" and the VM image "app" under TCG). */
function refuseSharedNames(settings: PlatformSettings): void {
  const owners = new Map<string, string>();
  for (const family of FAMILIES) {
    if (!family.namesFor || !family.optionsKey) continue;
    for (const name of family.namesFor(settings[family.optionsKey])) {
      const first = owners.get(name);
      if (first && first !== family.optionsKey) {
        throw new BadOptionError(
          `the options "${first}" and "${family.optionsKey}" both name a platform "${name}"\n` +
            `fix: rename the entry of one of them, so that every platform has a name of its own`,
        );
      }
      owners.set(name, family.optionsKey);
    }
  }
}

/** The families' questions (with those about the platforms of the options), reduced to the comparisons whose platforms are all in `platforms`. */
export function questionsFor(platforms: readonly string[], settings: PlatformSettings = {}): Question[] {
  const asked = FAMILIES.flatMap((family) => [
    ...(family.questions ?? []),
    ...(family.questionsFor && family.optionsKey ? family.questionsFor(settings[family.optionsKey]) : []),
  ]);
  return asked.flatMap(({ question, comparisons }) => {
    const runnable = comparisons.filter((c) => platforms.includes(c.platform) && platforms.includes(c.against));
    return runnable.length > 0 ? [{ question, comparisons: runnable }] : [];
  });
}

/** What a built-in platform needs of the host (`virtbench setup`): its family's requirements and the C compiler. */
export function requirementsOf(name: string): HostRequirements {
  const own = familyOf(name, {}).requirements[basePlatform(name)] ?? { packages: [] };
  return { ...own, packages: [...BUILD_PACKAGES, ...own.packages] };
}

/** What a variant changes of which base platform; undefined for a platform of its own (and for "<platform>#<label>"). */
export function variantOf(name: string): Variant | undefined {
  if (name !== basePlatform(name)) return undefined;
  return FAMILIES.find((f) => f.names.includes(name))?.variants?.[name];
}

export function createPlatform(name: string, settings: PlatformSettings = {}): Platform {
  const family = familyOf(name, settings);
  const platform = family.create(basePlatform(name), family.optionsKey ? settings[family.optionsKey] : undefined);
  return platform.name === name ? platform : { ...platform, name };
}
export type { ContainerImagesOptions, RemotesOptions, UnikernelImageOptions, VmImagesOptions };
