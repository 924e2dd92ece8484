import { execa } from 'execa';
import type { ExecResult } from '../platform.js';
import { normalizeResult } from './guest-command.js';

const EXIT_LINE = /^VIRTBENCH-EXIT (\d+)$/m;
const RESULT_LINE = /^RESULT /m;

export interface ConsoleRun extends ExecResult {
  /** From QEMU's start to the result on the console. */
  bootToResultMs?: number;
}

export interface ConsoleRunOptions {
  timeoutMs: number;
  resultPattern?: string;
  /** How long a guest that printed its result may take to power off before it is killed. */
  graceMs?: number;
}

/**
 * Boots one single-application guest and reads its serial console until it
 * powers off (our /init prints VIRTBENCH-EXIT first), or until a result was
 * seen and the grace period ends (images that never power off), or until the
 * timeout. QEMU is always gone when this returns.
 */
export async function runToResult(argv: readonly string[], options: ConsoleRunOptions): Promise<ConsoleRun> {
  const started = performance.now();
  const [file, ...args] = argv;
  // execa itself, not host/command's runner: the console is read while it streams, and a guest that printed
  // its result is killed after the grace period, while the runner only returns once the command has ended.
  const child = execa(file!, args, { reject: false, stdin: 'ignore', forceKillAfterDelay: 2_000 });
  let output = '';
  let bootToResultMs: number | undefined;
  let timedOut = false;
  let grace: NodeJS.Timeout | undefined;

  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8').replaceAll('\r', '');
    const hasResult = options.resultPattern ? new RegExp(options.resultPattern, 'm').test(output) : RESULT_LINE.test(output);
    if (hasResult && bootToResultMs === undefined) {
      bootToResultMs = performance.now() - started;
      grace = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 5_000);
    }
  });

  const finished = await child;
  clearTimeout(timer);
  clearTimeout(grace);
  const wallMs = performance.now() - started;
  const exit = EXIT_LINE.exec(output);
  const stdout = normalizeResult(output.replace(EXIT_LINE, '').trimEnd() + '\n', options.resultPattern);

  let exitCode: number;
  let stderr = String(finished.stderr ?? '').trim();
  if (exit) exitCode = Number(exit[1]);
  else if (bootToResultMs !== undefined) exitCode = 0;
  else {
    exitCode = finished.exitCode && finished.exitCode !== 0 ? finished.exitCode : 1;
    const why =
      (finished.cause as { code?: string } | undefined)?.code === 'ENOENT'
        ? `${file}: command not found`
        : 'the guest ended without a result';
    stderr = [stderr, why].filter(Boolean).join('\n');
  }
  return { command: [...argv], exitCode, stdout, stderr, wallMs, timedOut, bootToResultMs };
}
