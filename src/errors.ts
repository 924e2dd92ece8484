import type { ExecResult } from './host/exec-result.js';

export type VirtbenchErrorCode =
  | 'VIRTBENCH_BAD_OPTION'
  | 'VIRTBENCH_PLATFORM_UNAVAILABLE'
  | 'VIRTBENCH_MISSING_TOOL'
  | 'VIRTBENCH_BUILD_FAILED'
  | 'VIRTBENCH_WORKLOAD_FAILED'
  | 'VIRTBENCH_BAD_OUTPUT'
  | 'VIRTBENCH_IMPLAUSIBLE_FIGURE'
  | 'VIRTBENCH_BAD_RESULTS_FILE'
  | 'VIRTBENCH_BOOT_FAILED'
  | 'VIRTBENCH_BOOT_TIMEOUT'
  | 'VIRTBENCH_HOST_KEY_MISMATCH'
  | 'VIRTBENCH_GUEST_LOST'
  | 'VIRTBENCH_AB_RUN_FAILED'
  | 'VIRTBENCH_TURNSTILE_FAILED';

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

/** How many lines of a failed command's output an error shows: enough for the cause, short enough to read. */
const STDERR_TAIL_LINES = 15;
const STDOUT_TAIL_LINES = 5;

/** The last lines of text. */
export function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** "`argv` exited with code N", then the tails of stderr and stdout: one shape for every failed command. */
export function describeFailure(result: ExecResult): string {
  const how = result.timedOut ? `timed out after ${Math.round(result.wallMs)} ms` : `exited with code ${result.exitCode}`;
  const stderr = result.stderr.trim() ? `\nstderr:\n${tail(result.stderr, STDERR_TAIL_LINES)}` : '\n(no stderr)';
  const stdout = result.stdout.trim() ? `\nstdout:\n${tail(result.stdout, STDOUT_TAIL_LINES)}` : '';
  return `\`${result.command.join(' ')}\` ${how}${stderr}${stdout}`;
}

/** A command failed: what it was for, the command, its exit code and the tail of its output, and the fix when there is one. */
export class CommandFailedError extends VirtbenchError {
  readonly result: ExecResult;

  constructor(
    code: VirtbenchErrorCode,
    what: string,
    result: ExecResult,
    options: { platform?: string; fix?: string; cause?: unknown } = {},
  ) {
    super(code, `${what} failed: ${describeFailure(result)}${options.fix ? `\nfix: ${options.fix}` : ''}`, options);
    this.result = result;
  }
}

/** A workload exited non-zero or timed out. */
export class WorkloadFailedError extends CommandFailedError {
  constructor(platform: string, workload: string, result: ExecResult, givenFix?: string) {
    const fix =
      givenFix ??
      (result.timedOut
        ? `${workload} was stopped at its time limit: a program that hangs, or a platform far slower than the limit allows; ` +
          "if it was making progress, raise the workload's timeoutMs (or use a smaller profile)"
        : /No space left on device/.test(result.stderr)
          ? `the disk ${workload} writes to is full: free space there (on the host, the work directory: VIRTBENCH_WORK_DIR, default /var/tmp), or use a smaller profile`
          : undefined);
    super('VIRTBENCH_WORKLOAD_FAILED', workload, result, { platform, fix });
  }
}

/** A workload's output did not contain what its parser needs, or no figure the report can use. */
export class BadOutputError extends VirtbenchError {
  constructor(workload: string, problem: string, output: string, platform?: string, fix?: string) {
    const shown = output.trim() ? tail(output, 8) : '(empty output)';
    super('VIRTBENCH_BAD_OUTPUT', `${workload}: ${problem}\noutput was:\n${shown}${fix ? `\nfix: ${fix}` : ''}`, { platform });
  }
}

/**
 * A workload reported a figure that cannot be true (a run of 1800 process
 * creations in 0 s): it fails its benchmark with the evidence rather than
 * enter the results as a measurement.
 */
export class ImplausibleFigureError extends VirtbenchError {
  constructor(platform: string, workload: string, figure: { value: number; unit: string }, problem: string, output: string) {
    super(
      'VIRTBENCH_IMPLAUSIBLE_FIGURE',
      `${workload} reported ${figure.value} ${figure.unit}, which cannot be true: ${problem}\n` +
        `output was:\n${tail(output, 3)}\n` +
        "fix: the platform's clock or the workload's output is wrong (see the platform's facts in results.json, e.g. guestClocksource); this run was not recorded",
      { platform },
    );
  }
}
