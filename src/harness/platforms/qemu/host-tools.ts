import { runChecked, type FailureContext } from '../../host/command.js';
import { findExecutable } from '../../host/process.js';
import { QEMU_BINARY } from './qemu-argv.js';

/*
 * The host tools the QEMU image and guests need (the qemu platforms and the
 * unikernel alike): QEMU itself, and the builders while the image is not
 * built yet.
 */

export const QEMU_TOOLS = [QEMU_BINARY, 'qemu-img', 'mkfs.ext4'];
export const BUILD_TOOLS = ['mmdebstrap', 'dpkg-deb', 'apt-get'];

/** Shown with a failed host tool: the fix when it is missing. */
const SETUP_FIX = 'scripts/setup.sh (as root) installs the tools the QEMU platforms use';

/** Most host tool runs finish in seconds; a stuck one is given up after this long. */
export const TOOL_TIMEOUT_MS = 600_000;

/** runChecked's failure context for the host tools here: a missing one is VIRTBENCH_MISSING_TOOL naming scripts/setup.sh. */
export function toolFailure(what: string, code: 'VIRTBENCH_BUILD_FAILED' | 'VIRTBENCH_BOOT_FAILED', platform?: string): FailureContext {
  return { what, code, platform, fix: SETUP_FIX };
}

export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => findExecutable(tool) === undefined);
}

export async function qemuVersion(): Promise<string> {
  const { stdout } = await runChecked([QEMU_BINARY, '--version'], toolFailure('reading the QEMU version', 'VIRTBENCH_BOOT_FAILED'), {
    timeoutMs: 30_000,
  });
  return /version\s+(.+)/.exec(stdout.split('\n')[0] ?? '')?.[1]?.trim() ?? 'unknown';
}
