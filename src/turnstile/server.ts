import { timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { printable } from '../host/printable.js';
import { randomRoundSeed, roundSeedFromEnv, type RoundOrder } from './round-order.js';
import {
  AUTH_LINE_MAX,
  LINE_MAX,
  LineReader,
  TurnstileError,
  isAbstract,
  renamedAddress,
  showAddress,
  splitAddress,
  type ClientMessage,
} from './protocol.js';
import { TurnstileState, type Conn, type Grant, type UntilDecided } from './rooms.js';

/*
 * The turnstile's server, in Vitest's main process (or virtbench ab's): it listens, checks each
 * connection's secret, and hands each message to the rooms and locks (rooms.ts).
 */

export interface TurnstileOptions {
  /**
   * A Unix socket path, or a Linux abstract name starting with "\0", and "#" and the secret a
   * connection presents first. A name that is taken is changed: the server's `address` is where it listens.
   */
  address: string;
  /** How long a connection may take to present the secret before it is closed. Default 5 s. */
  authMs?: number;
  /** How long a room waits for an expected platform that has no connection, and how long a stalled run waits at all. Default 60 s. */
  gatherMs?: number;
  /** How long a round waits for a member between two of its samples. Default 10 s. */
  barrierMs?: number;
  /**
   * How long a turn waits for the other members to go quiet: a worker that just had its turn is still
   * recording it, and on a small machine that work lands in the next platform's sample. Default 1 s.
   */
  settleMs?: number;
  /** How many exclusive steps (of different platforms) may run at once; never during a turn. Default 2. */
  stepsAtOnce?: number;
  /**
   * How long a platform finishing a bench file waits for the platforms planned before it to have
   * finished that file (see TurnRoom.finishFile). Default 3 s.
   */
  finishOrderMs?: number;
  /**
   * How many other processes' runs will plan here (virtbench ab: 2). No room starts before they all
   * have, or gatherMs after its first member came: a run that starts faster must not take its first
   * samples alone because the other's plan has not arrived yet.
   */
  planners?: number;
  /** Seeds the order of the turns in each round (see roundOrder). Default: VIRTBENCH_ROUND_SEED, else a random one. */
  roundSeed?: number;
  /** Rounds until the findings' comparisons are decided (src/statistics/until-decided.ts); absent: each platform takes its own count. */
  untilDecided?: UntilDecided;
  /** Notable events (a platform given up on). */
  log?: (line: string) => void;
}

export interface TurnstileServer {
  readonly address: string;
  /**
   * Which platforms will run each bench file (absolute path), in the order
   * they finish it (see TurnRoom.finishFile). A room of a file without a plan waits for nobody.
   */
  plan(files: Iterable<readonly [file: string, platforms: readonly string[]]>): void;
  /** This platform cannot run here: no room waits for it. */
  unavailable(platform: string): void;
  isUnavailable(platform: string): boolean;
  /** The platform's worker for this file ended (passed, failed, crashed): no room of the file waits for it any more. */
  moduleEnded(platform: string, file: string): void;
  /** Every turn granted so far. */
  readonly grants: readonly Grant[];
  /**
   * How the turns of a round are ordered, for results.json. Another process's turnstile says so once
   * planned to; one of an older virtbench (which rotated the order) never does: undefined.
   */
  readonly roundOrder: RoundOrder | undefined;
  close(): Promise<void>;
}

/**
 * Serves one connection: the secret first, then one message per line; a bad message ends its
 * connection, not the server. Any local user can connect: until the secret, a line may hold an auth
 * message and no more, the connection is closed unless it presents the secret within authMs, and
 * what it sends moves nothing (the stall detector's lastProgress).
 */
function serve(state: TurnstileState, socket: net.Socket, secret: string, authMs: number): void {
  const { log } = state.settings;
  const conn: Conn = { socket, authenticated: secret === '', platform: '', members: new Map(), cpuSources: [] };
  state.conns.add(conn);
  socket.unref();
  socket.setEncoding('utf8');
  const reader = new LineReader(conn.authenticated ? LINE_MAX : AUTH_LINE_MAX);
  const drop = (why: string) => {
    log(`dropped a connection that ${why}`);
    socket.destroy();
    return false;
  };
  // Judged once what has arrived by then is read (setImmediate runs after the poll for input): a main
  // process busy past the deadline does not close a worker whose secret is waiting to be read.
  const authTimer = conn.authenticated
    ? undefined
    : setTimeout(
        () =>
          setImmediate(() => {
            if (!conn.authenticated && !socket.destroyed) drop(`did not present the turnstile's secret within ${authMs} ms`);
          }),
        authMs,
      );
  authTimer?.unref();

  /** One line; false once the connection is dropped. */
  const take = (line: string): boolean => {
    let message: ClientMessage;
    try {
      message = JSON.parse(line) as ClientMessage;
    } catch {
      return drop(`sent something other than JSON: ${printable(line.slice(0, 80))}`);
    }
    if (!conn.authenticated) {
      const presented = Buffer.from(message?.op === 'auth' ? String(message.secret) : '');
      if (presented.length !== secret.length || !timingSafeEqual(presented, Buffer.from(secret))) {
        log("refused a connection that did not present the turnstile's secret (another local user, or an older virtbench)");
        socket.destroy();
        return false;
      }
      conn.authenticated = true;
      reader.maxLength = LINE_MAX;
      clearTimeout(authTimer);
    } else {
      try {
        state.handle(conn, message);
      } catch (error) {
        // A malformed message (a plan that is not a list) ends its connection, not the server.
        return drop(`sent a malformed ${String(message?.op)} message: ${(error as Error).message}`);
      }
    }
    state.lastProgress = Date.now();
    return true;
  };

  socket.on('data', (chunk: string) => {
    try {
      for (const line of reader.lines(chunk)) if (!take(line)) return;
    } catch (error) {
      // The reader's (take catches its own): a line over its length, said before the secret or after.
      drop(`sent ${(error as Error).message}${conn.authenticated ? '' : " before presenting the turnstile's secret"}`);
      return;
    }
    state.schedule();
  });
  const gone = () => {
    clearTimeout(authTimer);
    state.disconnect(conn);
  };
  socket.on('close', gone);
  socket.on('error', gone);
}

/**
 * Listens on the address's socket; on a name that is taken (bound first by another local process),
 * on the same address renamed. Returns the address it listens on.
 */
async function listen(server: net.Server, address: string, log: (line: string) => void): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const { socket } = splitAddress(address);
    removeSocketFile(socket);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(socket, () => {
          server.off('error', reject);
          resolve();
        });
      });
      return address;
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      if (code !== 'EADDRINUSE' || attempt >= 5) {
        throw new TurnstileError(`the turnstile cannot listen on ${showAddress(address)}: ${message}`, { cause: error });
      }
      const renamed = renamedAddress(address);
      log(`${showAddress(address)} is taken (another process listens there): listening on ${showAddress(renamed)} instead`);
      address = renamed;
    }
  }
}

/** A socket file left by an earlier run (not Linux: an abstract name vanishes with its process); one that cannot be removed is taken. */
function removeSocketFile(socket: string): void {
  try {
    if (!isAbstract(socket)) rmSync(socket, { force: true });
  } catch {
    // listen() then finds the name taken.
  }
}

export async function startTurnstile(options: TurnstileOptions): Promise<TurnstileServer> {
  const { secret } = splitAddress(options.address);
  const state = new TurnstileState({
    gatherMs: options.gatherMs ?? 60_000,
    barrierMs: options.barrierMs ?? 10_000,
    settleMs: options.settleMs ?? 1_000,
    stepsAtOnce: Math.max(1, options.stepsAtOnce ?? 2),
    finishOrderMs: options.finishOrderMs ?? 3_000,
    planners: options.planners ?? 0,
    roundSeed: options.roundSeed ?? roundSeedFromEnv(process.env) ?? randomRoundSeed(),
    ...(options.untilDecided ? { untilDecided: options.untilDecided } : {}),
    log: options.log ?? (() => {}),
  });
  const server = net.createServer((socket) => serve(state, socket, secret, options.authMs ?? 5_000));
  const address = await listen(server, options.address, state.settings.log);
  server.unref();

  return {
    address,
    grants: state.grants,
    roundOrder: { kind: 'random', seed: state.settings.roundSeed },
    plan: (files) => state.planLocal(files),
    unavailable(platform) {
      state.unavailable.add(platform);
      state.schedule();
    },
    isUnavailable: (platform) => state.unavailable.has(platform),
    moduleEnded(platform, file) {
      state.ended.add(`${platform}\0${file}`);
      state.schedule();
    },
    close() {
      state.closed = true;
      clearTimeout(state.timer);
      for (const conn of state.conns) conn.socket.destroy();
      return new Promise<void>((resolve) =>
        server.close(() => {
          removeSocketFile(splitAddress(address).socket);
          resolve();
        }),
      );
    },
  };
}
