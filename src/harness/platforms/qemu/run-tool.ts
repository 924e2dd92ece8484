import { execa } from 'execa';
import { VirtbenchError, type VirtbenchErrorCode } from '../../../errors.js';

export interface ToolOptions {
  cwd?: string;
  input?: string;
  /** Send stdout to this file instead of returning it. */
  stdoutFile?: string;
  timeoutMs?: number;
  /** The code for a failure of the tool itself (a missing tool is always VIRTBENCH_MISSING_TOOL). */
  code: VirtbenchErrorCode;
}

/**
 * Runs a host tool (apt-get, mmdebstrap, mkfs.ext4, qemu-img...) from an argv
 * array and returns its stdout. A failure names the command and shows the
 * tail of stderr; a missing tool says how to install it.
 */
export async function runTool(tool: string, args: readonly string[], options: ToolOptions): Promise<string> {
  try {
    const result = await execa(tool, args, {
      cwd: options.cwd,
      input: options.input,
      stdout: options.stdoutFile ? { file: options.stdoutFile } : 'pipe',
      timeout: options.timeoutMs ?? 600_000,
    });
    return options.stdoutFile ? '' : String(result.stdout);
  } catch (cause) {
    if ((cause as { code?: string }).code === 'ENOENT') {
      throw new VirtbenchError('VIRTBENCH_MISSING_TOOL', `${tool} not found: the QEMU platforms need it (run scripts/setup.sh as root)`, { cause });
    }
    const detail = String((cause as { stderr?: string }).stderr || (cause as Error).message).trim();
    const tail = detail.split('\n').slice(-15).join('\n');
    throw new VirtbenchError(options.code, `\`${tool} ${args.join(' ')}\` failed:\n${tail}`, { cause });
  }
}
