import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { GuestLostError } from '../src/errors.js';
import type { BuiltProgram } from '../src/workloads/build.js';
import type { ExecOptions, ExecResult, PlatformInfo, ServiceAddress, StartedPlatform } from '../src/platforms/platform.js';

/*
 * A StartedPlatform that runs nothing: each exec takes the next step of a script (a canned result, a
 * failure, a hang, a lost connection), and every call is recorded, so that a test drives the real
 * runner and then reads what it was asked to run. After hyperfine's MockExecutor, which answers a
 * benchmark's commands with scripted times instead of running them.
 */

/** What a command that ran printed and how it ended; what is left out is a quiet success. */
export interface Canned {
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  /** The exec's wall time as the platform reports it. */
  wallMs?: number;
}

export type Step =
  /** The command ran and ended like this. */
  | ({ kind: 'answer' } & Canned)
  /** exec itself rejects with this error (the platform could not start the command). */
  | { kind: 'fail'; error: unknown }
  /**
   * The command never ends on its own: the platform stops it at the exec's timeoutMs (a timed-out result,
   * as the real platforms give), and abort() or close() ends it sooner (exec rejects).
   */
  | { kind: 'hang' }
  /** The connection to the platform is lost while the command runs: this exec and every later one reject. */
  | { kind: 'lose' };

export const answer = (canned: Canned = {}): Step => ({ kind: 'answer', ...canned });
export const fail = (error: unknown): Step => ({ kind: 'fail', error });
export const hang = (): Step => ({ kind: 'hang' });
export const loseConnection = (): Step => ({ kind: 'lose' });

/** The exit code of a command the platform killed at its time limit (SIGKILL). */
const KILLED = 137;

export interface ExecCall {
  argv: string[];
  options?: ExecOptions;
}

export interface CopyCall {
  hostPath: string;
  name: string;
  executable: boolean;
  /** The file's text when it was copied (the runner may remove it afterwards); undefined when there was no file (a fake build's). */
  content?: string;
}

export interface MockPlatformOptions {
  name?: string;
  workDir?: string;
  /** What exec answers, in order; more with script(). An exec beyond the script rejects, naming its argv. */
  script?: Step[];
  /** What serviceAddress() returns, in order; the last one again once they run out. */
  addresses?: ServiceAddress[];
  /** Offer buildProgram (a fake that compiles nothing: the source itself, hash "mock"); default true. */
  buildProgram?: boolean;
  /** copyIn rejects with this error. */
  copyInError?: Error;
}

export class MockPlatform implements StartedPlatform {
  readonly name: string;
  readonly workDir: string;
  /** Every exec, in order, also those that failed, hung or found the connection lost. */
  readonly calls: ExecCall[] = [];
  readonly copies: CopyCall[] = [];
  readonly builds: string[] = [];
  readonly buildProgram?: (source: string, cacheDir: string) => Promise<BuiltProgram>;
  flushes = 0;
  closed = false;
  /** Set by a 'lose' step: every exec from then on rejects. */
  lost = false;
  private readonly steps: Step[];
  private readonly addresses: ServiceAddress[];
  private readonly copyInError?: Error;
  private readonly hanging = new Set<(error: unknown) => void>();

  constructor(options: MockPlatformOptions = {}) {
    this.name = options.name ?? 'mock';
    this.workDir = options.workDir ?? '/mock/work';
    this.steps = [...(options.script ?? [])];
    this.addresses = [...(options.addresses ?? [])];
    this.copyInError = options.copyInError;
    if (options.buildProgram !== false) {
      this.buildProgram = async (source) => {
        this.builds.push(source);
        return { name: basename(source, '.c'), path: source, hash: 'mock' };
      };
    }
  }

  /** Adds steps to the end of the script. */
  script(...steps: Step[]): this {
    this.steps.push(...steps);
    return this;
  }

  /** The argv of every exec so far. */
  get argvs(): string[][] {
    return this.calls.map((call) => call.argv);
  }

  /** Steps not yet taken. */
  get remaining(): number {
    return this.steps.length;
  }

  /** How many execs hang right now. */
  get pending(): number {
    return this.hanging.size;
  }

  async exec(argv: readonly string[], options?: ExecOptions): Promise<ExecResult> {
    const command = [...argv];
    this.calls.push({ argv: command, options });
    if (this.closed) throw new Error(`mock platform ${this.name}: exec after close(): \`${command.join(' ')}\``);
    if (this.lost) throw this.lostError(command);
    const step = this.steps.shift();
    if (!step) throw new Error(`mock platform ${this.name}: no step scripted for \`${command.join(' ')}\``);
    switch (step.kind) {
      case 'answer':
        return {
          command,
          exitCode: step.exitCode ?? 0,
          stdout: step.stdout ?? '',
          stderr: step.stderr ?? '',
          wallMs: step.wallMs ?? 1,
          timedOut: false,
        };
      case 'fail':
        throw step.error;
      case 'lose':
        this.lost = true;
        throw this.lostError(command);
      case 'hang':
        return this.hangUntilStopped(command, options?.timeoutMs);
    }
  }

  /** Ends every hanging exec now: each rejects with this reason. */
  abort(reason: unknown = new Error(`mock platform ${this.name}: aborted`)): void {
    for (const reject of [...this.hanging]) reject(reason);
  }

  async copyIn(hostPath: string, name: string, options: { executable?: boolean } = {}): Promise<string> {
    const content = existsSync(hostPath) ? readFileSync(hostPath, 'utf8') : undefined;
    this.copies.push({ hostPath, name, executable: options.executable ?? false, content });
    if (this.copyInError) throw this.copyInError;
    return `${this.workDir}/${name}`;
  }

  async serviceAddress(): Promise<ServiceAddress> {
    const address = this.addresses.length > 1 ? this.addresses.shift() : this.addresses[0];
    if (!address) throw new Error(`mock platform ${this.name}: no service address given`);
    return address;
  }

  async flushCaches(): Promise<boolean> {
    this.flushes++;
    return true;
  }

  async describe(): Promise<PlatformInfo> {
    return { mock: true };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.abort(new Error(`mock platform ${this.name}: closed`));
  }

  private lostError(command: string[]): GuestLostError {
    return new GuestLostError(`lost the mock platform while running \`${command.join(' ')}\`: connection reset`, {
      platform: this.name,
    });
  }

  private hangUntilStopped(command: string[], timeoutMs: number | undefined): Promise<ExecResult> {
    return new Promise((resolve, reject) => {
      const started = Date.now();
      const end = () => {
        clearTimeout(timer);
        this.hanging.delete(stop);
      };
      const stop = (error: unknown) => {
        end();
        reject(error);
      };
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              end();
              resolve({ command, exitCode: KILLED, stdout: '', stderr: '', wallMs: Date.now() - started, timedOut: true });
            }, timeoutMs);
      this.hanging.add(stop);
    });
  }
}
