import net from 'node:net';
import {
  LineReader,
  TurnstileError,
  encode,
  roomKey,
  showAddress,
  splitAddress,
  type ClientMessage,
  type LockKind,
  type ServerMessage,
} from './protocol.js';
import type { CpuSource } from '../host/cpu-time.js';
import type { StopReason } from '../results/schema.js';

/** What a turn's sample is told: its round, and where the other platforms' CPU time can be read. */
export interface TurnGrant {
  round: number;
  others: CpuSource[];
}

/** What a client does with what it hears: each line the turnstile sends, and the connection's failure and end. */
export interface LinkHandlers {
  line(line: string): void;
  error(error: Error): void;
  close?(): void;
}

/**
 * The one handshake of every client: connects to the turnstile at `address` and presents its secret,
 * the first message of every connection (the turnstile serves nothing before). A connection that
 * cannot be made is a TurnstileError with the message `cannotReach` makes of the cause.
 */
export async function openLink(address: string, cannotReach: (error: Error) => string, on: LinkHandlers): Promise<net.Socket> {
  const { socket: connectTo, secret } = splitAddress(address);
  const socket = net.createConnection(connectTo);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (error) => reject(new TurnstileError(cannotReach(error), { cause: error })));
  });
  socket.unref();
  socket.setEncoding('utf8');
  const reader = new LineReader();
  socket.on('data', (chunk: string) => {
    const lines: string[] = [];
    let tooLong: Error | undefined;
    try {
      for (const line of reader.lines(chunk)) lines.push(line);
    } catch (error) {
      tooLong = error as Error;
    }
    for (const line of lines) on.line(line);
    if (tooLong) socket.destroy(new TurnstileError(`the turnstile at ${showAddress(address)} sent ${tooLong.message}`, { cause: tooLong }));
  });
  socket.on('error', on.error);
  if (on.close) socket.on('close', on.close);
  if (secret) socket.write(encode({ op: 'auth', secret }));
  return socket;
}

/** One benchmark's place at the turnstile. */
export interface TurnRoom {
  /** Runs fn (connect, prepare, dispose...) while no platform takes a sample; another platform's step may run alongside. */
  exclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Runs fn (one sample) in this benchmark's next turn; fn gets the round and the others' CPU sources. */
  turn<T>(fn: (grant: TurnGrant) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /**
   * Rounds until decided: hands in this platform's figure of the round and returns once the round is
   * over, with whether this platform takes another round (and if not, why).
   */
  more(round: number, value: number, signal?: AbortSignal): Promise<{ more: boolean; stop?: StopReason }>;
  /** This platform does not run this benchmark (n/a): nobody waits for it. */
  skip(): void;
  /** End barrier: returns once every platform is done with this benchmark. */
  done(signal?: AbortSignal): Promise<void>;
  /** Leaves the room, dropping whatever it still held or asked for. */
  leave(): void;
  /** Where this platform's processes' CPU time can be read on the host (handed to the other platforms' turns). */
  sources(sources: CpuSource[]): void;
  /**
   * Call after leave() in the file's last benchmark: returns once the platforms planned before this
   * one have ended the file (or have gone), at most finishOrderMs later. The platforms' workers then
   * end their files in the plan's order, which is the order their next files wait in Vitest's queue:
   * Vitest hands a finished worker the next file only when that file is first in the queue and of the
   * same project, and otherwise starts a new worker (its modules and connections made again: seconds
   * on a small machine).
   */
  finishFile(signal?: AbortSignal): Promise<void>;
}

export interface TurnstileClient {
  readonly platform: string;
  room(file: string, test: string): TurnRoom;
  /** Where this platform's processes' CPU time can be read on the host (handed to the other platforms' turns). */
  sources(sources: CpuSource[]): void;
  readonly closed: boolean;
  close(): void;
}

interface Pending {
  resolve(message: ServerMessage): void;
  reject(error: Error): void;
}

/** A benchmark worker's connection: each request carries an id, which the turnstile's answer names. */
export async function connectTurnstile(address: string, platform: string): Promise<TurnstileClient> {
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let closedBy: TurnstileError | undefined;

  // Used once connected: the turnstile answers requests only, and the first is written below.
  const write = (message: ClientMessage) => {
    if (!closedBy) socket.write(encode(message));
  };
  const fail = (error: TurnstileError) => {
    closedBy ??= error;
    for (const waiter of pending.values()) waiter.reject(closedBy);
    pending.clear();
  };
  const socket = await openLink(
    address,
    (error) =>
      `cannot reach the virtbench turnstile of the main process at ${showAddress(address)}: ${error.message} ` +
      '(run bench files through `vitest bench` with the virtbench() plugin)',
    {
      line(line) {
        const message = JSON.parse(line) as ServerMessage;
        const waiter = pending.get(message.id);
        if (waiter) {
          pending.delete(message.id);
          if (message.error) waiter.reject(new TurnstileError(`the turnstile refused: ${message.error}`));
          else waiter.resolve(message);
        } else if (!message.error) {
          // Granted after its waiter gave up: give it back at once.
          write({ op: 'release', id: message.id });
        }
      },
      error: (error) => fail(new TurnstileError(`the turnstile connection failed: ${error.message}`, { cause: error })),
      close: () => fail(new TurnstileError('the turnstile in the main process closed the connection (the run is ending or it crashed)')),
    },
  );
  write({ op: 'hello', platform });

  /** Sends a request and waits for its answer; an abort cancels it on the server too. */
  function request(make: (id: number) => ClientMessage, what: string, signal?: AbortSignal): Promise<ServerMessage> {
    if (closedBy) return Promise.reject(closedBy);
    if (signal?.aborted) return Promise.reject(new TurnstileError(`aborted before waiting for ${what}`, { cause: signal.reason }));
    const id = ++nextId;
    return new Promise<ServerMessage>((resolve, reject) => {
      const onAbort = () => {
        if (!pending.delete(id)) return;
        write({ op: 'cancel', id });
        reject(new TurnstileError(`aborted while waiting for ${what}`, { cause: signal?.reason }));
      };
      pending.set(id, {
        resolve: (m) => (signal?.removeEventListener('abort', onAbort), resolve(m)),
        reject: (e) => (signal?.removeEventListener('abort', onAbort), reject(e)),
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      write(make(id));
    });
  }

  async function locked<T>(kind: LockKind, room: string, fn: (grant: TurnGrant) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const granted = await request(
      (id) => ({ op: 'lock', id, kind, room }),
      kind === 'turn' ? `a turn in ${room}` : 'an exclusive step',
      signal,
    );
    try {
      return await fn({ round: granted.round ?? 0, others: granted.others ?? [] });
    } finally {
      write({ op: 'release', id: granted.id });
    }
  }

  return {
    platform,
    get closed() {
      return closedBy !== undefined;
    },
    room(file, test) {
      const key = roomKey(file, test);
      write({ op: 'enter', room: key, file });
      return {
        exclusive: (fn, signal) => locked('exclusive', key, () => fn(), signal),
        turn: (fn, signal) => locked('turn', key, fn, signal),
        more: async (round, value, signal) => {
          const answer = await request(
            (id) => ({ op: 'more', id, room: key, round, value }),
            `the end of round ${round} of ${test}`,
            signal,
          );
          return { more: answer.more !== false, ...(answer.stop ? { stop: answer.stop } : {}) };
        },
        skip: () => write({ op: 'skip', room: key, file }),
        done: async (signal) => {
          await request((id) => ({ op: 'done', id, room: key }), `the other platforms to finish ${test}`, signal);
        },
        leave: () => write({ op: 'leave', room: key }),
        sources: (sources) => write({ op: 'sources', sources }),
        finishFile: async (signal) => {
          await request((id) => ({ op: 'finish', id, file }), `the platforms before ${platform} to finish ${file}`, signal);
        },
      };
    },
    sources: (sources) => write({ op: 'sources', sources }),
    close() {
      fail(new TurnstileError('the turnstile connection was closed by this worker'));
      socket.destroy();
    },
  };
}

const connections = new Map<string, Promise<TurnstileClient>>();

/** This worker's one connection per turnstile and platform, made when first needed. */
export function workerTurnstile(address: string, platform: string): Promise<TurnstileClient> {
  const key = `${address}\0${platform}`;
  let connection = connections.get(key);
  if (connection) {
    // A closed connection (the server restarted between runs) is made again.
    connection = connection.then((c) => (c.closed ? connectTurnstile(address, platform) : c));
  } else {
    connection = connectTurnstile(address, platform);
  }
  connection.catch(() => connections.delete(key));
  connections.set(key, connection);
  return connection;
}
