import { VirtbenchError } from '../../errors.js';
import type { Platform, PlatformFamily } from '../platform.js';
import { dockerPlatforms } from './docker/index.js';
import { nativePlatforms } from './native/index.js';
import { qemuPlatforms } from './qemu/index.js';
import { unikernelPlatforms, type UnikernelImageOptions } from './unikernel/index.js';

/*
 * The registry: every platform virtbench can run, by project name. A new
 * platform is its own folder with an index.ts exporting a PlatformFamily, and
 * one line here (two when it takes options).
 */

const FAMILIES: readonly PlatformFamily[] = [nativePlatforms, dockerPlatforms, qemuPlatforms, unikernelPlatforms];

/** The platforms' own options in virtbench({...}), typed for users' configs. */
export interface PlatformOptions {
  /** Boot your own unikernel images (rumprun, Unikraft builds of our workloads) on the unikernel platform. */
  unikernel?: UnikernelImageOptions;
}

/** Validated platform options by key: plain data, so it reaches the workers too. */
export type PlatformSettings = Readonly<Record<string, unknown>>;

export const PLATFORM_NAMES: readonly string[] = FAMILIES.flatMap((family) => family.names);
export const PLATFORM_OPTION_KEYS: readonly string[] = FAMILIES.flatMap((family) => (family.optionsKey ? [family.optionsKey] : []));

function familyOf(name: string): PlatformFamily {
  const family = FAMILIES.find((f) => f.names.includes(name));
  if (!family)
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `unknown platform "${name}"; valid platforms: ${PLATFORM_NAMES.join(', ')}`);
  return family;
}

/** Checks every platform option present in options (keys of PLATFORM_OPTION_KEYS); returns them validated. */
export function validatePlatformOptions(options: Readonly<Record<string, unknown>>): PlatformSettings {
  const settings: Record<string, unknown> = {};
  for (const family of FAMILIES) {
    const key = family.optionsKey;
    if (key && options[key] !== undefined) settings[key] = family.validateOptions ? family.validateOptions(options[key]) : options[key];
  }
  return settings;
}

export function createPlatform(name: string, settings: PlatformSettings = {}): Platform {
  const family = familyOf(name);
  return family.create(name, family.optionsKey ? settings[family.optionsKey] : undefined);
}
export type { UnikernelImageOptions };
