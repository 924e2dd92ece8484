import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TurnstileError } from '../errors.js';
import type { RoundOrder } from './round-order.js';
import type { CpuSource } from '../host/cpu-time.js';
import type { StopReason } from '../results/schema.js';

// Defined with every error in src/errors.ts; the turnstile's modules and its users import it from here.
export { TurnstileError };

/*
 * What the turnstile and its clients say to each other. Wire format: one JSON object per line, on a
 * Unix socket. A worker keeps one connection; so does a run's main process that plans at another
 * process's turnstile (virtbench ab). The two sides of virtbench ab may be different versions: a
 * change an older side would not understand raises "sharedTurnstile" in package.json (canShareTurnstile).
 */

export type LockKind = 'exclusive' | 'turn';

export type ClientMessage =
  | { op: 'hello'; platform: string }
  | { op: 'enter'; room: string; file: string }
  | { op: 'skip'; room: string; file: string }
  | { op: 'lock'; id: number; kind: LockKind; room: string }
  | { op: 'release'; id: number }
  | { op: 'cancel'; id: number }
  | { op: 'done'; id: number; room: string }
  | { op: 'leave'; room: string }
  | { op: 'finish'; id: number; file: string }
  // Rounds until decided: this platform's figure of the round; answered once the round is over, with whether it takes another.
  | { op: 'more'; id: number; room: string; round: number; value: number }
  // Where this platform's processes' CPU time can be read on the host: handed to the others' turns.
  | { op: 'sources'; sources: CpuSource[] }
  // The first message of every connection: the secret of the turnstile's address.
  | { op: 'auth'; secret: string }
  // From the main process of a run that uses another process's turnstile (virtbench ab):
  | { op: 'plan'; files: [file: string, platforms: string[]][] }
  | { op: 'unavailable'; platform: string }
  | { op: 'ended'; platform: string; file: string };

export type ServerMessage = {
  id: number;
  round?: number;
  error?: string;
  /** With a turn: the CPU sources of every other platform of the run, to read around the sample. */
  others?: CpuSource[];
  /** The answer to 'more': take another round, or why not. */
  more?: boolean;
  stop?: StopReason;
};
/** To a run's main process that planned here (virtbench ab): how this turnstile orders its rounds, for its results.json. */
export type PlannerNotice = { roundOrder: RoundOrder };

/** One message as it goes on the wire. */
export const encode = (message: ClientMessage | ServerMessage | PlannerNotice) => JSON.stringify(message) + '\n';

/** The longest line a connection may send before it presented the secret: an auth message is 50 characters. */
export const AUTH_LINE_MAX = 1024;
/** The longest line of anything else: far above a plan of thousands of bench files, far below what a string can hold. */
export const LINE_MAX = 16 * 1024 * 1024;

/**
 * Cuts what a socket receives into lines of at most maxLength characters (raise it once a
 * connection has authenticated). Only each new chunk is searched for the line's end. A line longer
 * than maxLength, ended or not, throws a TurnstileError: the connection is to be closed.
 */
export class LineReader {
  #pending = '';
  constructor(public maxLength = LINE_MAX) {}

  /** The lines a chunk completes; each is checked against maxLength as it is taken, so a line may raise it for the next. */
  *lines(chunk: string): Generator<string, void, undefined> {
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      this.#check(this.#pending.length + nl - start);
      const line = this.#pending + chunk.slice(start, nl);
      this.#pending = '';
      start = nl + 1;
      yield line;
    }
    this.#check(this.#pending.length + chunk.length - start);
    this.#pending += chunk.slice(start);
  }

  #check(length: number): void {
    if (length > this.maxLength) {
      this.#pending = '';
      throw new TurnstileError(`a line longer than ${this.maxLength} characters`);
    }
  }
}

/** A notice of the turnstile to a run that planned there, or undefined for anything else. */
export function parseNotice(line: string): PlannerNotice | undefined {
  try {
    const { roundOrder } = JSON.parse(line) as Partial<PlannerNotice>;
    return roundOrder?.kind === 'random' && Number.isInteger(roundOrder.seed) ? { roundOrder } : undefined;
  } catch {
    return undefined;
  }
}

/** An abstract name on Linux, else a socket file in the temporary directory. */
const socketName = (name: string) => (process.platform === 'linux' ? `\0${name}` : join(tmpdir(), `${name}.sock`));

/**
 * A Unix socket address for this process's turnstile: abstract on Linux, so that nothing is left
 * behind, and with a secret after "#". Any local user can connect to an abstract socket; only a
 * connection that first presents the secret (handed to the run's workers, and to the runs of
 * virtbench ab through their environment, which only their user can read) is served. The name ends
 * in random characters: another local user cannot bind it first to make the run fail.
 */
export function turnstileAddress(tag = String(process.pid)): string {
  const secret = randomBytes(16).toString('hex');
  return `${socketName(`virtbench-turns-${tag}-${randomBytes(8).toString('hex')}`)}#${secret}`;
}

/** The same address (its secret too) on another socket, for a name that is taken: new random characters at the name's end. */
export function renamedAddress(address: string): string {
  const { socket, secret } = splitAddress(address);
  // A socket file's path stays as long (macOS allows 104 bytes): the random part is replaced, not added to.
  const renamed = socket.replace(/(-[0-9a-f]{16})?(\.sock)?$/, `-${randomBytes(8).toString('hex')}$2`);
  return secret ? `${renamed}#${secret}` : renamed;
}

/** The socket to listen on or connect to, and the secret a connection presents first ('' for an address without one). */
export function splitAddress(address: string): { socket: string; secret: string } {
  const at = address.lastIndexOf('#');
  return at < 0 ? { socket: address, secret: '' } : { socket: address.slice(0, at), secret: address.slice(at + 1) };
}

/** A Linux abstract name: no file to remove, it vanishes with its process. */
export const isAbstract = (socket: string) => socket.startsWith('\0');

/** For messages: the socket only, never the secret. */
export function showAddress(address: string): string {
  const { socket } = splitAddress(address);
  return isAbstract(socket) ? `@${socket.slice(1)}` : socket;
}

/** VIRTBENCH_TURNSTILE: a Unix socket path, or "@name" for a Linux abstract name (environment values cannot hold a NUL). */
export const TURNSTILE_ENV = 'VIRTBENCH_TURNSTILE';
/** VIRTBENCH_TURNSTILE_TAG: what this run's platforms are called there, after an "@" (base, head). */
export const TURNSTILE_TAG_ENV = 'VIRTBENCH_TURNSTILE_TAG';

/** The turnstile address as an environment value; and back. */
export const addressToEnv = (address: string) => (address.startsWith('\0') ? `@${address.slice(1)}` : address);
export const addressFromEnv = (value: string) => (value.startsWith('@') ? `\0${value.slice(1)}` : value);

/** The room of one benchmark: its bench file and test name. */
export function roomKey(file: string, test: string): string {
  return `${file} > ${test}`;
}

/** A CPU source as a client may send it: a cgroup directory or a pid, nothing else. */
export function isCpuSource(value: unknown): value is CpuSource {
  const source = value as Partial<Record<string, unknown>> | null;
  if (typeof source !== 'object' || source === null) return false;
  if (source.kind === 'cgroup')
    return typeof source.path === 'string' && source.path.startsWith('/sys/fs/cgroup/') && !source.path.includes('..');
  return source.kind === 'process' && Number.isInteger(source.pid) && (source.pid as number) > 0;
}

/** A CPU source as one string, for telling two apart. */
export function sourceKey(source: CpuSource): string {
  return source.kind === 'cgroup' ? `cgroup ${source.path}` : `process ${source.pid}`;
}
