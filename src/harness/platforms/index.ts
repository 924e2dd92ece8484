import { VirtbenchError } from '../../errors.js';
import type { Platform } from '../platform.js';
import { createNativePlatform } from './native.js';

/** Every platform virtbench can run, by project name. A platform is added here and in its own file. */
const factories: Record<string, () => Platform> = {
  native: createNativePlatform,
};

export const PLATFORM_NAMES = Object.keys(factories);

export function createPlatform(name: string): Platform {
  const factory = factories[name];
  if (!factory) {
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `unknown platform "${name}"; valid platforms: ${PLATFORM_NAMES.join(', ')}`);
  }
  return factory();
}
