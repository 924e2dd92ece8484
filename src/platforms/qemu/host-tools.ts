import { BootFailedError, BuildFailedError, describeFailure, isVirtbenchError, type CommandFailedError } from '../../errors.js';
import type { ExecResult } from '../../host/exec-result.js';
import { runChecked, type CommandOptions, type FailureContext } from '../../host/command.js';
import { findExecutable } from '../../host/process.js';
import { installFix } from '../platform.js';
import { QEMU_BINARY } from './qemu-argv.js';

/*
 * The host tools the QEMU image and guests need (the qemu platforms and the
 * unikernel alike): QEMU itself, and the builders while the image is not
 * built yet. Every run of one is bounded: a stuck step fails, naming itself.
 */

export const QEMU_TOOLS = [QEMU_BINARY, 'qemu-img', 'mkfs.ext4'];
export const BUILD_TOOLS = ['mmdebstrap', 'dpkg-deb', 'apt-get', 'xz'];

/**
 * The Debian packages of the host the QEMU platforms and the unikernel need (virtbench setup): the emulator,
 * qemu-img for qcow2 disks, and the guest image builder (mmdebstrap builds the root file system, mkfs.ext4 -d
 * turns it into a disk without a loop mount; xz unpacks the kernel, which then boots without decompressing
 * itself under emulation; the keyring and certificates let mmdebstrap trust the mirror).
 */
export const QEMU_PACKAGES: readonly string[] = [
  'qemu-system-x86',
  'qemu-utils',
  'mmdebstrap',
  'debian-archive-keyring',
  'e2fsprogs',
  'ca-certificates',
  'xz-utils',
];

/** The package of each tool above (dpkg-deb and apt-get come with every Debian system). */
const PACKAGE_OF: Record<string, string> = {
  [QEMU_BINARY]: 'qemu-system-x86',
  'qemu-img': 'qemu-utils',
  'mkfs.ext4': 'e2fsprogs',
  mmdebstrap: 'mmdebstrap',
  'dpkg-deb': 'dpkg',
  'apt-get': 'apt',
  xz: 'xz-utils',
};

/** The fix for missing host tools: the setup command, or the packages that have them. */
export function toolsFix(tools: readonly string[] = [...QEMU_TOOLS, ...BUILD_TOOLS]): string {
  return installFix(...new Set(tools.map((tool) => PACKAGE_OF[tool] ?? tool)));
}

/** Shown with a failed host tool: the fix when it is missing. */
const SETUP_FIX = toolsFix();

/** Local tools (dpkg-deb, cpio, mkfs.ext4, qemu-img, apt-cache) finish in seconds; a stuck one is given up after this long. */
export const TOOL_TIMEOUT_MS = 120_000;
/** apt-get fetching lists or the kernel package (~70 MB) from the mirror. */
export const DOWNLOAD_TIMEOUT_MS = 300_000;
/** mmdebstrap: 1-3 min from a local mirror; more for a distant one. */
export const ROOT_TREE_TIMEOUT_MS = 1_200_000;

/** The fix for a local tool that timed out: nothing it does should take this long. */
const STALLED_FIX =
  'this takes seconds normally: the host was stalled (CPU, or a slow or full disk: see top, dmesg, df -h) or the tool hangs; ' +
  'run again, and if it hangs again, run the command above by hand to see where';

/** runChecked's failure context for the host tools here: a missing one is VIRTBENCH_MISSING_TOOL naming virtbench setup. */
export function toolFailure(what: string, code: 'VIRTBENCH_BUILD_FAILED' | 'VIRTBENCH_BOOT_FAILED', platform?: string): FailureContext {
  return { what, code, platform, fix: SETUP_FIX };
}

/** One run of a host tool: what it is for, and how long it may take (required: nothing here runs unbounded). */
export interface ToolStep {
  /** In the error's first words ("building the guest image: unpacking the kernel package"). */
  what: string;
  code: 'VIRTBENCH_BUILD_FAILED' | 'VIRTBENCH_BOOT_FAILED';
  platform?: string;
  timeoutMs: number;
  /** How to fix a timeout of this step; default: the host was stalled. */
  timeoutFix?: string;
}

function duration(ms: number): string {
  return ms >= 120_000 ? `${Math.round(ms / 60_000)} min` : `${ms / 1000} s`;
}

/** Runs a host tool; throws like runChecked, and on a timeout with an error naming the step, its limit and the fix. */
export async function runTool(
  argv: readonly string[],
  step: ToolStep,
  options: Omit<CommandOptions, 'timeoutMs'> = {},
): Promise<ExecResult> {
  try {
    return await runChecked(argv, toolFailure(step.what, step.code, step.platform), { ...options, timeoutMs: step.timeoutMs });
  } catch (error) {
    const result = isVirtbenchError(error) ? (error as Partial<CommandFailedError>).result : undefined;
    if (!result?.timedOut) throw error;
    const Failed = step.code === 'VIRTBENCH_BOOT_FAILED' ? BootFailedError : BuildFailedError;
    throw new Failed(
      `${step.what} did not finish within ${duration(step.timeoutMs)} and was killed: ${describeFailure(result)}\n` +
        `fix: ${step.timeoutFix ?? STALLED_FIX}`,
      { platform: step.platform, cause: error },
    );
  }
}

export function missingTools(tools: readonly string[]): string[] {
  return tools.filter((tool) => findExecutable(tool) === undefined);
}

export async function qemuVersion(): Promise<string> {
  const { stdout } = await runTool([QEMU_BINARY, '--version'], {
    what: 'reading the QEMU version',
    code: 'VIRTBENCH_BOOT_FAILED',
    timeoutMs: 30_000,
  });
  return /version\s+(.+)/.exec(stdout.split('\n')[0] ?? '')?.[1]?.trim() ?? 'unknown';
}
