import type { ExecResult } from './host/exec-result.js';
import { isKind, markKind } from './host/kind.js';

/*
 * Every error virtbench raises, one class per code, all in this file: a call site throws the class of
 * its code (`new BadOptionError(message, { platform, cause })`), never a VirtbenchError with a code of
 * its own (eslint.config.js refuses `new VirtbenchError(` outside this file). Tell one apart with
 * isVirtbenchError(value, code), never instanceof: Vitest loads a module once per project and worker,
 * and the package may be loaded from src/ and dist/ in one process, so the class an error was made
 * with may be another copy of the one in hand.
 */

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

/** The codes a failed command may carry (runChecked's FailureContext): a missing program is VIRTBENCH_MISSING_TOOL. */
export type CommandFailureCode = Extract<
  VirtbenchErrorCode,
  | 'VIRTBENCH_MISSING_TOOL'
  | 'VIRTBENCH_BUILD_FAILED'
  | 'VIRTBENCH_BOOT_FAILED'
  | 'VIRTBENCH_WORKLOAD_FAILED'
  | 'VIRTBENCH_PLATFORM_UNAVAILABLE'
>;

/** The platform, when there is one, prefixes the message ("[qemu] ..."); the cause is kept as error.cause. */
export interface VirtbenchErrorOptions {
  platform?: string;
  cause?: unknown;
}

/** Every error virtbench raises: a stable code, the platform when there is one, and the cause. */
export class VirtbenchError extends Error {
  static {
    markKind(this.prototype, 'error');
  }

  readonly code: VirtbenchErrorCode;
  readonly platform?: string;

  constructor(code: VirtbenchErrorCode, message: string, options: VirtbenchErrorOptions = {}) {
    super(options.platform ? `[${options.platform}] ${message}` : message, { cause: options.cause });
    this.name = 'VirtbenchError';
    this.code = code;
    this.platform = options.platform;
  }
}

/** Whether value is a VirtbenchError (of that code, when given), whichever copy of this module made it. */
export function isVirtbenchError(value: unknown): value is VirtbenchError;
export function isVirtbenchError<C extends VirtbenchErrorCode>(value: unknown, code: C): value is VirtbenchError & { readonly code: C };
export function isVirtbenchError(value: unknown, code?: VirtbenchErrorCode): boolean {
  return isKind(value, 'error') && (code === undefined || (value as VirtbenchError).code === code);
}

/** The error again with the platform it happened on in its message: same code, the original as its cause. */
export function onPlatform(error: VirtbenchError, platform: string): VirtbenchError {
  return new VirtbenchError(error.code, error.message, { platform, cause: error });
}

/** The class of one code: `new X(message, { platform, cause })`, its code fixed. */
function errorOf<const C extends VirtbenchErrorCode>(code: C) {
  return class extends VirtbenchError {
    declare readonly code: C;
    constructor(message: string, options?: VirtbenchErrorOptions) {
      super(code, message, options);
    }
  };
}

/** An option, variable or argument is not valid: the message lists the valid values. */
export class BadOptionError extends errorOf('VIRTBENCH_BAD_OPTION') {}

/** A host tool is missing: the Debian package that brings it. */
export class MissingToolError extends errorOf('VIRTBENCH_MISSING_TOOL') {}

/** A workload or image did not build. */
export class BuildFailedError extends errorOf('VIRTBENCH_BUILD_FAILED') {}

/** A results file, baseline or history that is not valid: the file and the field. */
export class BadResultsFileError extends errorOf('VIRTBENCH_BAD_RESULTS_FILE') {}

/** A guest did not boot. */
export class BootFailedError extends errorOf('VIRTBENCH_BOOT_FAILED') {}

/** A guest did not answer in time. */
export class BootTimeoutError extends errorOf('VIRTBENCH_BOOT_TIMEOUT') {}

/** A guest or remote host offered another host key than the pinned one. */
export class HostKeyMismatchError extends errorOf('VIRTBENCH_HOST_KEY_MISMATCH') {}

/** A guest died or stopped answering during a run. */
export class GuestLostError extends errorOf('VIRTBENCH_GUEST_LOST') {}

/** One side of `virtbench ab` could not measure. */
export class AbRunFailedError extends errorOf('VIRTBENCH_AB_RUN_FAILED') {}

/**
 * Why a turnstile wait failed: the connection closed, the request was aborted or refused, or the
 * turnstile could not be reached or listen. The CLI (virtbench ab) prints its message, not a stack.
 */
export class TurnstileError extends errorOf('VIRTBENCH_TURNSTILE_FAILED') {
  override name = 'TurnstileError';
}

/**
 * VIRTBENCH_PLATFORM_UNAVAILABLE, in two forms:
 *   new PlatformUnavailableError(platform, reason): provision() found, by a check too expensive for
 *     availability() (a probe boot), that this machine cannot run the platform: it is skipped with the
 *     reason, or fails the run when it was asked for by name (isPlatformUnavailable, in platform.ts);
 *   new PlatformUnavailableError(message, { platform, cause }): the platform cannot go on (its engine
 *     stopped answering, its container exited): the run fails, nothing is skipped.
 */
export class PlatformUnavailableError extends VirtbenchError {
  declare readonly code: 'VIRTBENCH_PLATFORM_UNAVAILABLE';
  /** Why this machine cannot run the platform: set by the (platform, reason) form only, which skips it. */
  declare readonly reason?: string;

  constructor(platform: string, reason: string);
  constructor(message: string, options?: VirtbenchErrorOptions);
  constructor(first: string, second: string | VirtbenchErrorOptions = {}) {
    if (typeof second === 'string') {
      super('VIRTBENCH_PLATFORM_UNAVAILABLE', second, { platform: first });
      this.reason = second;
    } else {
      super('VIRTBENCH_PLATFORM_UNAVAILABLE', first, second);
    }
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

/** "what failed: `argv` exited with code N ...", and the fix when there is one. */
function commandFailed(what: string, result: ExecResult, fix: string | undefined): string {
  return `${what} failed: ${describeFailure(result)}${fix ? `\nfix: ${fix}` : ''}`;
}

/**
 * A command failed: what it was for, the command, its exit code and the tail of its output, and the fix
 * when there is one. The one class that takes a code: runChecked passes its caller's through.
 */
export class CommandFailedError extends VirtbenchError {
  readonly result: ExecResult;

  constructor(
    code: CommandFailureCode,
    what: string,
    result: ExecResult,
    options: { platform?: string; fix?: string; cause?: unknown } = {},
  ) {
    super(code, commandFailed(what, result, options.fix), options);
    this.result = result;
  }
}

/**
 * VIRTBENCH_WORKLOAD_FAILED, in two forms:
 *   new WorkloadFailedError(platform, workload, result, fix?): the workload exited non-zero or timed out;
 *     the error carries its result, and the fix for a timeout or a full disk;
 *   new WorkloadFailedError(message, { platform, cause }): it failed without a command of its own
 *     to show (its server never listened, its input could not be copied to the platform).
 */
export class WorkloadFailedError extends VirtbenchError {
  declare readonly code: 'VIRTBENCH_WORKLOAD_FAILED';
  /** The workload's command that failed: set by the (platform, workload, result) form only. */
  declare readonly result?: ExecResult;

  constructor(platform: string, workload: string, result: ExecResult, givenFix?: string);
  constructor(message: string, options?: VirtbenchErrorOptions);
  constructor(first: string, second?: string | VirtbenchErrorOptions, result?: ExecResult, givenFix?: string) {
    if (typeof second === 'string' && result) {
      super('VIRTBENCH_WORKLOAD_FAILED', commandFailed(second, result, givenFix ?? workloadFix(second, result)), { platform: first });
      this.result = result;
    } else {
      super('VIRTBENCH_WORKLOAD_FAILED', first, second as VirtbenchErrorOptions | undefined);
    }
  }
}

/** The fix for a workload that timed out or filled its disk. */
function workloadFix(workload: string, result: ExecResult): string | undefined {
  return result.timedOut
    ? `${workload} was stopped at its time limit: a program that hangs, or a platform far slower than the limit allows; ` +
        "if it was making progress, raise the workload's timeoutMs (or use a smaller profile)"
    : /No space left on device/.test(result.stderr)
      ? `the disk ${workload} writes to is full: free space there (on the host, the work directory: VIRTBENCH_WORK_DIR, default /var/tmp), or use a smaller profile`
      : undefined;
}

/** A workload's output did not contain what its parser needs, or no figure the report can use. */
export class BadOutputError extends VirtbenchError {
  declare readonly code: 'VIRTBENCH_BAD_OUTPUT';

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
  declare readonly code: 'VIRTBENCH_IMPLAUSIBLE_FIGURE';

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
