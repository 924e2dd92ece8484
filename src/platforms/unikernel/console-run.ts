import { StringDecoder } from 'node:string_decoder';
import { execa } from 'execa';
import type { ExecResult } from '../platform.js';
import { normalizeResult } from './guest-command.js';

const EXIT_LINE = /^VIRTBENCH-EXIT (\d+)$/m;
const RESULT_LINE = /^RESULT /m;

/**
 * What runToResult keeps of a console, in characters: a guest that prints without end (a loop, a
 * kernel that panics over and over) must not fill the host's memory. The head holds the boot and
 * the program's first lines, the tail its last ones; a result or exit line from the middle is kept
 * too (up to keptLines of them), and the text says what was left out. A line longer than `line` is
 * broken there.
 */
export const CONSOLE_LIMITS: Readonly<ConsoleLimits> = { head: 512 * 1024, tail: 512 * 1024, line: 64 * 1024, keptLines: 100 };

export interface ConsoleLimits {
  head: number;
  tail: number;
  line: number;
  keptLines: number;
}

/**
 * A console read line by line under CONSOLE_LIMITS. `important` picks the lines kept wherever they
 * come (the result and exit lines); push says when one came, also as the unfinished last line, so
 * a result is noticed before the guest powers off.
 */
export class ConsoleBuffer {
  private head = '';
  private headFull = false;
  /** The tail's lines from tailStart on (a queue: the oldest leave at the front). */
  private tail: string[] = [];
  private tailStart = 0;
  private tailChars = 0;
  private readonly middle: string[] = [];
  private dropped = 0;
  private pending = '';

  constructor(
    private readonly important: (line: string) => boolean,
    private readonly limits: Readonly<ConsoleLimits> = CONSOLE_LIMITS,
  ) {}

  /** Adds console output (carriage returns removed); returns whether a line of it, or the unfinished last one, is important. */
  push(text: string): boolean {
    const all = this.pending + text.replaceAll('\r', '');
    let seen = false;
    let start = 0;
    for (;;) {
      const newline = all.indexOf('\n', start);
      const end =
        newline >= 0 && newline - start < this.limits.line
          ? newline + 1
          : all.length - start >= this.limits.line
            ? start + this.limits.line
            : -1;
      if (end < 0) break;
      seen = this.keep(all.slice(start, end)) || seen;
      start = end;
    }
    this.pending = all.slice(start);
    return seen || this.important(this.pending);
  }

  private keep(line: string): boolean {
    const important = this.important(line);
    if (!this.headFull && this.head.length + line.length <= this.limits.head) {
      this.head += line;
      return important;
    }
    this.headFull = true; // what follows goes to the tail, in order
    this.tail.push(line);
    this.tailChars += line.length;
    while (this.tailChars > this.limits.tail) {
      const old = this.tail[this.tailStart++]!;
      this.tailChars -= old.length;
      if (this.important(old) && this.middle.length < this.limits.keptLines) this.middle.push(old);
      else this.dropped += old.length;
    }
    if (this.tailStart > 1024 && this.tailStart * 2 > this.tail.length) {
      this.tail = this.tail.slice(this.tailStart);
      this.tailStart = 0;
    }
    return important;
  }

  /** The console as kept: head, a line saying how much was left out (if anything was), the important lines of the middle, the tail. */
  text(): string {
    const cut =
      this.dropped > 0
        ? `[virtbench: ${this.dropped} characters of console output left out here; kept the first ${this.limits.head} and the last ${this.limits.tail}, and the result lines between]\n`
        : '';
    const head = cut && !this.head.endsWith('\n') ? `${this.head}\n` : this.head;
    return head + cut + this.middle.join('') + this.tail.slice(this.tailStart).join('') + this.pending;
  }
}

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
  // The console is kept by ConsoleBuffer alone: execa buffers only stderr.
  const child = execa(file!, args, { reject: false, stdin: 'ignore', forceKillAfterDelay: 2_000, buffer: { stdout: false } });
  const resultLine = options.resultPattern ? new RegExp(options.resultPattern, 'm') : RESULT_LINE;
  const serial = new ConsoleBuffer((line) => resultLine.test(line) || EXIT_LINE.test(line));
  let bootToResultMs: number | undefined;
  let timedOut = false;
  let grace: NodeJS.Timeout | undefined;

  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, options.timeoutMs);
  const decoder = new StringDecoder('utf8'); // a character split between two chunks stays whole
  child.stdout?.on('data', (chunk: Buffer) => {
    // Only when a result or exit line came is the kept text (at most about a MiB) searched.
    const important = serial.push(decoder.write(chunk));
    if (important && bootToResultMs === undefined && resultLine.test(serial.text())) {
      bootToResultMs = performance.now() - started;
      grace = setTimeout(() => child.kill('SIGKILL'), options.graceMs ?? 5_000);
    }
  });

  const finished = await child;
  clearTimeout(timer);
  clearTimeout(grace);
  const wallMs = performance.now() - started;
  serial.push(decoder.end());
  const output = serial.text();
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
