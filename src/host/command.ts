import { spawn, spawnSync } from 'node:child_process';
import { constants } from 'node:os';
import { execa, type Result } from 'execa';
import { CommandFailedError, type CommandFailureCode } from '../errors.js';
import type { ExecResult } from './exec-result.js';
import { onExitSync } from './exit-cleanup.js';

/*
 * The one way virtbench runs a program on the host: an argv array (never a
 * shell string), the same result shape for success and failure, and one
 * failure message (the command, its exit code, the tail of stderr, the fix).
 */

export interface CommandOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Text or bytes for stdin; without it stdin is closed. */
  input?: string | Buffer;
  /** Send stdout to this file instead of returning it. */
  stdoutFile?: string;
  /** Kill the command (SIGTERM, then SIGKILL 2 s later) after this long. */
  timeoutMs?: number;
  /** Called with every line of stdout and stderr as it arrives (progress of long builds). */
  onLine?: (line: string) => void;
  /** Most bytes kept of stdout and of stderr; more fails the command. Default 64 MiB. */
  maxBuffer?: number;
  /** Kills the command (SIGTERM, then SIGKILL) when aborted. */
  signal?: AbortSignal;
}

export interface FailureContext {
  /** What the command was for, in the error's first words ("building linpack.c"). */
  what: string;
  /** The code of a failure of the command itself; a missing program is VIRTBENCH_MISSING_TOOL. */
  code: CommandFailureCode;
  platform?: string;
  /** How to fix a failure, or how to install the program when it is missing. */
  fix?: string;
}

const MAX_BUFFER = 64 * 1024 * 1024;
const KILL_AFTER_MS = 2_000;
const NOT_FOUND = 127;

function exitCodeOf(exitCode: number | undefined, signal: string | undefined): number {
  if (exitCode !== undefined) return exitCode;
  return signal ? 128 + (constants.signals[signal as keyof typeof constants.signals] ?? 0) : 1;
}

/** The result for a program that does not exist, whichever way it was started. */
function notFound(argv: readonly string[], wallMs: number): ExecResult {
  return { command: [...argv], exitCode: NOT_FOUND, stdout: '', stderr: `${argv[0]}: command not found`, wallMs, timedOut: false };
}

function toExecResult(argv: readonly string[], result: Result, wallMs: number): ExecResult {
  if ((result.cause as { code?: string } | undefined)?.code === 'ENOENT') return notFound(argv, wallMs);
  const signal = result.signal ?? undefined;
  return {
    command: [...argv],
    exitCode: exitCodeOf(result.exitCode, signal),
    stdout: typeof result.stdout === 'string' ? result.stdout : '',
    stderr: (typeof result.stderr === 'string' ? result.stderr : '') + (signal && !result.timedOut ? `\nkilled by ${signal}` : ''),
    wallMs,
    timedOut: Boolean(result.timedOut),
  };
}

/** Runs argv on the host. Never throws for a failing command: look at exitCode (127: not found). */
export async function runCommand(argv: readonly string[], options: CommandOptions = {}): Promise<ExecResult> {
  const plain = options.input === undefined && !options.onLine && !options.stdoutFile && !options.signal;
  return plain ? spawnCommand(argv, options) : execaCommand(argv, options);
}

/**
 * A command without input, streaming or cancelling (every exec of the native platform): straight
 * through child_process, since execa costs milliseconds more per command than spawn with the same
 * pipes and timer, which every native exec would pay (docs/measurements.md). The result, the time
 * limit (SIGTERM, then SIGKILL), the output limit and the kill at exit are execa's.
 */
function spawnCommand(argv: readonly string[], options: CommandOptions): Promise<ExecResult> {
  const [file, ...args] = argv;
  const limit = options.maxBuffer ?? MAX_BUFFER;
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(file!, args, {
      cwd: options.cwd,
      env: options.env ? { ...process.env, ...options.env } : undefined,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Like execa's cleanup: a command never outlives the process that ran it (Ctrl-C, a crash).
    const unregister = onExitSync(() => child.kill('SIGKILL'));
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let overflow = false;
    let settled = false;
    let escalate: NodeJS.Timeout | undefined;
    const stop = () => {
      child.kill('SIGTERM');
      escalate ??= setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    };
    const keep = (into: Buffer[]) => {
      let bytes = 0;
      return (chunk: Buffer) => {
        const room = limit - bytes;
        bytes += chunk.length;
        if (chunk.length <= room) return void into.push(chunk);
        if (room > 0) into.push(chunk.subarray(0, room));
        if (!overflow) {
          overflow = true;
          stop();
        }
      };
    };
    child.stdout!.on('data', keep(out));
    child.stderr!.on('data', keep(err));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true;
            stop();
          }, options.timeoutMs);
    const done = (result: Omit<ExecResult, 'command' | 'wallMs'>) => {
      if (settled) return; // a failed spawn reports 'error', then 'close'
      settled = true;
      clearTimeout(timer);
      clearTimeout(escalate);
      unregister();
      resolve({ command: [...argv], ...result, wallMs: performance.now() - started });
    };
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') done(notFound(argv, 0));
      else done({ exitCode: 1, stdout: '', stderr: `${file}: ${error.message}`, timedOut: false });
    });
    child.once('close', (code, signal) => {
      const stdout = Buffer.concat(out).toString('utf8');
      let stderr = Buffer.concat(err).toString('utf8');
      if (overflow) stderr += `\noutput beyond ${limit} bytes: the command was stopped`;
      else if (signal && !timedOut) stderr += `\nkilled by ${signal}`;
      done({ exitCode: exitCodeOf(code ?? undefined, signal ?? undefined), stdout, stderr, timedOut });
    });
  });
}

async function execaCommand(argv: readonly string[], options: CommandOptions): Promise<ExecResult> {
  const [file, ...args] = argv;
  const tap = options.onLine
    ? function* (line: unknown) {
        options.onLine!(String(line));
        yield line;
      }
    : undefined;
  const started = performance.now();
  const result = await execa(file!, args, {
    cwd: options.cwd,
    env: options.env,
    ...(options.input !== undefined ? { input: options.input } : { stdin: 'ignore' as const }),
    stdout: options.stdoutFile ? { file: options.stdoutFile } : tap ? [tap, 'pipe'] : 'pipe',
    stderr: tap ? [tap, 'pipe'] : 'pipe',
    timeout: options.timeoutMs,
    forceKillAfterDelay: KILL_AFTER_MS,
    maxBuffer: options.maxBuffer ?? MAX_BUFFER,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
    reject: false,
    stripFinalNewline: false,
  });
  return toExecResult(argv, result, performance.now() - started);
}

function check(result: ExecResult, context: FailureContext): ExecResult {
  if (result.exitCode === 0 && !result.timedOut) return result;
  if (result.exitCode === NOT_FOUND && result.stderr.endsWith('command not found')) {
    throw new CommandFailedError('VIRTBENCH_MISSING_TOOL', context.what, result, context);
  }
  throw new CommandFailedError(context.code, context.what, result, context);
}

/** Runs argv on the host and throws a CommandFailedError, naming context.what, unless it exits 0. */
export async function runChecked(argv: readonly string[], context: FailureContext, options: CommandOptions = {}): Promise<ExecResult> {
  return check(await runCommand(argv, options), context);
}

/** The same, synchronously: for exit and signal handlers, where nothing asynchronous gets to finish. */
export function runSync(argv: readonly string[], options: { timeoutMs?: number } = {}): ExecResult {
  const [file, ...args] = argv;
  const started = performance.now();
  const result = spawnSync(file!, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: options.timeoutMs });
  const wallMs = performance.now() - started;
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return notFound(argv, wallMs);
  const timedOut = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return {
    command: [...argv],
    exitCode: exitCodeOf(result.status ?? undefined, result.signal ?? undefined),
    stdout: result.stdout ?? '',
    stderr: result.stderr ?? '',
    wallMs,
    timedOut,
  };
}

/** runSync that throws like runChecked. */
export function runSyncChecked(argv: readonly string[], context: FailureContext, options: { timeoutMs?: number } = {}): ExecResult {
  return check(runSync(argv, options), context);
}
