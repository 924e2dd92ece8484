import { VirtbenchError } from '../../errors.js';
import type { Platform } from '../platform.js';
import type { PlatformSettings } from '../session.js';
import { createDockerPlatform } from './docker/index.js';
import { createNativePlatform } from './native/index.js';
import { createQemuPlatform } from './qemu/index.js';
import { createUnikernelPlatform } from './unikernel/index.js';

/** Every platform virtbench can run, by project name. A platform is added here and in its own file. */
const factories: Record<string, (settings: PlatformSettings) => Platform> = {
  native: createNativePlatform,
  docker: () => createDockerPlatform('layer'),
  'docker-volume': () => createDockerPlatform('volume'),
  'docker-hostnet': () => createDockerPlatform('hostnet'),
  'qemu-tcg': () => createQemuPlatform({ accel: 'tcg' }),
  'qemu-tcg-qcow2': () => createQemuPlatform({ accel: 'tcg', format: 'qcow2' }),
  'qemu-tcg-ide': () => createQemuPlatform({ accel: 'tcg', bus: 'ide' }),
  'qemu-kvm': () => createQemuPlatform({ accel: 'kvm' }),
  'qemu-kvm-qcow2': () => createQemuPlatform({ accel: 'kvm', format: 'qcow2' }),
  'qemu-kvm-ide': () => createQemuPlatform({ accel: 'kvm', bus: 'ide' }),
  unikernel: (settings) => createUnikernelPlatform(settings.unikernel),
};

export const PLATFORM_NAMES = Object.keys(factories);

/** Settings are the plugin's platform-specific options (plain data, so they reach workers too). */
export function createPlatform(name: string, settings: PlatformSettings = {}): Platform {
  const factory = factories[name];
  if (!factory) {
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `unknown platform "${name}"; valid platforms: ${PLATFORM_NAMES.join(', ')}`);
  }
  return factory(settings);
}
