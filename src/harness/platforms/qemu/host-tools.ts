import { execa } from 'execa';
import type { Availability } from '../../platform.js';
import { findGuestImage } from './guest-image.js';
import { QEMU_BINARY } from './qemu-argv.js';

/*
 * What the host needs to boot guests of the QEMU image (the qemu platforms
 * and the unikernel alike): QEMU itself, and the builders while the image is
 * not built yet.
 */

const QEMU_TOOLS = [QEMU_BINARY, 'qemu-img', 'mkfs.ext4'];
const BUILD_TOOLS = ['mmdebstrap', 'dpkg-deb', 'apt-get'];

async function missingTools(tools: string[]): Promise<string[]> {
  // The script is constant; the tool name travels as an argument.
  const found = await Promise.all(tools.map((t) => execa('sh', ['-c', 'command -v "$1"', 'sh', t], { reject: false })));
  return tools.filter((_, i) => found[i]!.exitCode !== 0);
}

export async function guestHostAvailability(cacheDir: string): Promise<Availability> {
  const built = findGuestImage(cacheDir) !== undefined;
  const missing = await missingTools(built ? QEMU_TOOLS : [...QEMU_TOOLS, ...BUILD_TOOLS]);
  if (missing.length) return { available: false, reason: `${missing.join(', ')} not installed; run scripts/setup.sh (as root)` };
  if (!built && process.getuid?.() !== 0) {
    return { available: false, reason: 'the guest image is not built yet and building it (mmdebstrap) needs root' };
  }
  return { available: true };
}

export async function qemuVersion(): Promise<string> {
  const { stdout } = await execa(QEMU_BINARY, ['--version']);
  return /version\s+(.+)/.exec(stdout.split('\n')[0] ?? '')?.[1]?.trim() ?? 'unknown';
}
