import type { ExecResult } from './harness/platform.js';

export type VirtbenchErrorCode =
  | 'VIRTBENCH_BAD_OPTION'
  | 'VIRTBENCH_PLATFORM_UNAVAILABLE'
  | 'VIRTBENCH_MISSING_TOOL'
  | 'VIRTBENCH_BUILD_FAILED'
  | 'VIRTBENCH_WORKLOAD_FAILED'
  | 'VIRTBENCH_BAD_OUTPUT'
  | 'VIRTBENCH_BAD_RESULTS_FILE'
  | 'VIRTBENCH_BOOT_FAILED'
  | 'VIRTBENCH_BOOT_TIMEOUT'
  | 'VIRTBENCH_HOST_KEY_MISMATCH'
  | 'VIRTBENCH_GUEST_LOST';

/** Every error virtbench raises: a stable code, the platform when there is one, and the cause. */
export class VirtbenchError extends Error {
  readonly code: VirtbenchErrorCode;
  readonly platform?: string;

  constructor(code: VirtbenchErrorCode, message: string, options: { platform?: string; cause?: unknown } = {}) {
    super(options.platform ? `[${options.platform}] ${message}` : message, { cause: options.cause });
    this.name = 'VirtbenchError';
    this.code = code;
    this.platform = options.platform;
  }
}

const STDERR_TAIL_LINES = 15;

function tail(text: string, lines: number): string {
  const all = text.trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/** A workload exited non-zero or timed out: shows the command, the exit code and the tail of stderr. */
export class WorkloadFailedError extends VirtbenchError {
  readonly result: ExecResult;

  constructor(platform: string, workload: string, result: ExecResult) {
    const how = result.timedOut ? `timed out after ${Math.round(result.wallMs)} ms` : `exited with code ${result.exitCode}`;
    const stderr = result.stderr.trim() ? `\nstderr:\n${tail(result.stderr, STDERR_TAIL_LINES)}` : '\n(no stderr)';
    const stdout = result.stdout.trim() ? `\nstdout:\n${tail(result.stdout, 5)}` : '';
    super('VIRTBENCH_WORKLOAD_FAILED', `${workload} failed: \`${result.command.join(' ')}\` ${how}${stderr}${stdout}`, {
      platform,
    });
    this.result = result;
  }
}

/** A workload's output did not contain what its parser needs. */
export class BadOutputError extends VirtbenchError {
  constructor(workload: string, problem: string, output: string, platform?: string) {
    const shown = output.trim() ? tail(output, 8) : '(empty output)';
    super('VIRTBENCH_BAD_OUTPUT', `${workload}: ${problem}\noutput was:\n${shown}`, { platform });
  }
}
