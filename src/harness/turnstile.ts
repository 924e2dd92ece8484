import { randomBytes, timingSafeEqual } from 'node:crypto';
import { rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { VirtbenchError } from '../errors.js';
import { joinShared, peekShared } from './host/shared.js';
import { randomRoundSeed, roundOrder, roundSeedFromEnv, type RoundOrder } from './round-order.js';

/*
 * The turnstile: with several platforms in one run, their benchmark workers
 * run at the same time, one per platform, and take their samples in turns.
 * A server in Vitest's main process hands out the locks:
 *
 *   - exclusive steps (connect, describe, prepare; dispose, close) come first,
 *     in the order they were asked for, and up to `stepsAtOnce` of them run
 *     together (they measure nothing; one after another, the platforms' steps
 *     added up to seconds between benchmarks), never alongside a turn;
 *   - turns come in rooms, one per benchmark (bench file + test name). Every
 *     member of a room has one turn per round, so that round r holds one
 *     sample of each platform, in a seeded random order (round-order.ts):
 *     no platform always follows the same one.
 *
 * A room starts (start barrier) once every platform expected there has
 * joined it, said it skips it, or finished its bench file; `done()` returns
 * once the room is empty (end barrier), so the platforms start the next
 * benchmark together. Every wait ends: a worker that disconnects (finished,
 * crashed, killed) releases all it held and asked for; a platform that never
 * comes is given up after `gatherMs`; a member that does not ask for its
 * next turn is left out of a round after `barrierMs`; and when nothing at all
 * has moved for `gatherMs`, waiting rooms start with whoever is there.
 *
 * Wire format: one JSON object per line. A worker keeps one connection.
 */

/** Why a turnstile wait failed: the connection closed, the request was aborted or refused. */
export class TurnstileError extends Error {
  override name = 'TurnstileError';
}

/** A granted turn: in which round of its room. */
export interface Grant {
  platform: string;
  room: string;
  round: number;
  /** Date.now() when granted. */
  at: number;
}

export interface TurnstileOptions {
  /** A Unix socket path, or a Linux abstract name starting with "\0". */
  address: string;
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

type LockKind = 'exclusive' | 'turn';

type ClientMessage =
  | { op: 'hello'; platform: string }
  | { op: 'enter'; room: string; file: string }
  | { op: 'skip'; room: string; file: string }
  | { op: 'lock'; id: number; kind: LockKind; room: string }
  | { op: 'release'; id: number }
  | { op: 'cancel'; id: number }
  | { op: 'done'; id: number; room: string }
  | { op: 'leave'; room: string }
  | { op: 'finish'; id: number; file: string }
  // The first message of every connection: the secret of the turnstile's address.
  | { op: 'auth'; secret: string }
  // From the main process of a run that uses another process's turnstile (virtbench ab):
  | { op: 'plan'; files: [file: string, platforms: string[]][] }
  | { op: 'unavailable'; platform: string }
  | { op: 'ended'; platform: string; file: string };

type ServerMessage = { id: number; round?: number; error?: string };
/** To a run's main process that planned here (virtbench ab): how this turnstile orders its rounds, for its results.json. */
type PlannerNotice = { roundOrder: RoundOrder };

/**
 * A Unix socket address for this process's turnstile: abstract on Linux, so that nothing is left
 * behind, and with a secret after "#". Any local user can connect to an abstract socket; only a
 * connection that first presents the secret (handed to the run's workers, and to the runs of
 * virtbench ab through their environment, which only their user can read) is served.
 */
export function turnstileAddress(tag = String(process.pid)): string {
  const secret = randomBytes(16).toString('hex');
  return `${process.platform === 'linux' ? `\0virtbench-turns-${tag}` : join(tmpdir(), `virtbench-turns-${tag}.sock`)}#${secret}`;
}

/** The socket to listen on or connect to, and the secret a connection presents first ('' for an address without one). */
function splitAddress(address: string): { socket: string; secret: string } {
  const at = address.lastIndexOf('#');
  return at < 0 ? { socket: address, secret: '' } : { socket: address.slice(0, at), secret: address.slice(at + 1) };
}

/** For messages: the socket only, never the secret. */
function showAddress(address: string): string {
  const { socket } = splitAddress(address);
  return socket.startsWith('\0') ? `@${socket.slice(1)}` : socket;
}

/** The room of one benchmark: its bench file and test name. */
export function roomKey(file: string, test: string): string {
  return `${file} > ${test}`;
}

// ---------------------------------------------------------------- server

interface Conn {
  readonly socket: net.Socket;
  /** Presented the secret: until then, any other message ends the connection. */
  authenticated: boolean;
  platform: string;
  readonly members: Map<string, Member>;
  /** What this connection planned (a run's main process using this turnstile from outside). */
  planned?: Map<string, readonly string[]>;
}

interface Member {
  readonly conn: Conn;
  readonly platform: string;
  readonly room: Room;
  /** Asked for its first turn (preparation over). */
  joined: boolean;
  /** Had its turn in the room's current round. */
  served: boolean;
  /** The id of the turn it waits for. */
  turn?: number;
  /** When it last finished a turn, or entered. */
  since: number;
}

interface Room {
  readonly key: string;
  readonly file: string;
  readonly firstEnter: number;
  started: boolean;
  round: number;
  readonly members: Map<Conn, Member>;
  readonly doneWaiters: { conn: Conn; id: number }[];
  /** Platforms that said they do not run this benchmark, or are done with it. */
  readonly settled: Set<string>;
}

interface Lock {
  conn: Conn;
  id: number;
  kind: LockKind;
  room?: string;
  member?: Member;
}

export async function startTurnstile(options: TurnstileOptions): Promise<TurnstileServer> {
  const { address } = options;
  const { socket: listenOn, secret } = splitAddress(address);
  const gatherMs = options.gatherMs ?? 60_000;
  const barrierMs = options.barrierMs ?? 10_000;
  const settleMs = options.settleMs ?? 1_000;
  const stepsAtOnce = Math.max(1, options.stepsAtOnce ?? 2);
  const finishOrderMs = options.finishOrderMs ?? 3_000;
  const log = options.log ?? (() => {});
  const roundSeed = options.roundSeed ?? roundSeedFromEnv(process.env) ?? randomRoundSeed();

  const conns = new Set<Conn>();
  const rooms = new Map<string, Room>();
  /** Who plans which platforms for which file: this process ('local'), or another run's main process (its connection). */
  const plans = new Map<Conn | 'local', Map<string, readonly string[]>>();
  const expectedFor = (file: string) => [...plans.values()].flatMap((plan) => plan.get(file) ?? []);
  /** Connections that have planned, ever (one that ended still counts: its run came). */
  const planners = new Set<Conn>();
  const unavailable = new Set<string>();
  const ended = new Set<string>(); // platform \0 file
  const lastGone = new Map<string, number>();
  const exclusiveQueue: Lock[] = [];
  const grants: Grant[] = [];
  /** Workers about to end a bench file, waiting for the platforms planned before them to have ended it. */
  const finishWaiters: { conn: Conn; id: number; file: string; since: number }[] = [];
  /** What is granted now: one turn alone, or up to stepsAtOnce exclusive steps. */
  const holders: Lock[] = [];
  let lastProgress = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;

  const send = (conn: Conn, message: ServerMessage | PlannerNotice) => {
    if (conn.socket.writable) conn.socket.write(JSON.stringify(message) + '\n');
  };
  const connected = (platform: string) => [...conns].some((c) => c.platform === platform);
  /** The platforms planned before this one for a file, in the plan that has it (each run of virtbench ab plans its own). */
  const platformsAhead = (platform: string, file: string): readonly string[] => {
    for (const plan of plans.values()) {
      const platforms = plan.get(file) ?? [];
      const at = platforms.indexOf(platform);
      if (at >= 0) return platforms.slice(0, at);
    }
    return [];
  };
  /** Nothing held or queued, and nothing granted or released for gatherMs: a stall. */
  const stalled = (now: number) => holders.length === 0 && exclusiveQueue.length === 0 && now - lastProgress >= gatherMs;

  function roomFor(key: string, file: string): Room {
    let room = rooms.get(key);
    if (!room) {
      room = { key, file, firstEnter: Date.now(), started: false, round: 0, members: new Map(), doneWaiters: [], settled: new Set() };
      rooms.set(key, room);
    }
    return room;
  }

  function enter(conn: Conn, key: string, file: string): Member {
    const existing = conn.members.get(key);
    if (existing) return existing;
    const room = roomFor(key, file);
    // A retried benchmark enters again: it is no longer done with the room.
    room.settled.delete(conn.platform);
    const member: Member = { conn, platform: conn.platform, room, joined: false, served: false, since: Date.now() };
    room.members.set(conn, member);
    conn.members.set(key, member);
    return member;
  }

  /** The member leaves its room: whatever it held or asked for there is dropped. */
  function removeMember(member: Member): void {
    member.room.members.delete(member.conn);
    member.conn.members.delete(member.room.key);
    member.room.settled.add(member.platform);
    for (const held of holders.filter((h) => h.member === member || (h.conn === member.conn && h.room === member.room.key))) release(held);
    for (let i = exclusiveQueue.length - 1; i >= 0; i--) {
      if (exclusiveQueue[i]!.conn === member.conn && exclusiveQueue[i]!.room === member.room.key) exclusiveQueue.splice(i, 1);
    }
  }

  function release(lock: Lock): void {
    const at = holders.indexOf(lock);
    if (at < 0) return;
    holders.splice(at, 1);
    if (lock.member) lock.member.since = Date.now();
    lastProgress = Date.now();
  }

  function grant(lock: Lock): void {
    holders.push(lock);
    lastProgress = Date.now();
    const member = lock.member;
    if (member) {
      member.turn = undefined;
      member.served = true;
      grants.push({ platform: member.platform, room: member.room.key, round: member.room.round, at: Date.now() });
      send(lock.conn, { id: lock.id, round: member.room.round });
    } else {
      send(lock.conn, { id: lock.id });
    }
  }

  /** Whether a room may start now; otherwise when to look again. */
  function startable(room: Room, now: number): { start: true; missing: string[] } | { start: false; wakeAt: number } {
    if (planners.size < (options.planners ?? 0) && now < room.firstEnter + gatherMs) {
      return { start: false, wakeAt: room.firstEnter + gatherMs };
    }
    const present = [...room.members.values()];
    const here = new Set(present.map((m) => m.platform));
    const missing = expectedFor(room.file).filter(
      (p) => !here.has(p) && !room.settled.has(p) && !unavailable.has(p) && !ended.has(`${p}\0${room.file}`),
    );
    const preparing = present.some((m) => !m.joined);
    if (!preparing && missing.length === 0) return { start: true, missing };
    let wakeAt = Infinity;
    // Members still preparing, and platforms whose worker is on an earlier benchmark, are
    // waited for as long as anything moves; a platform without a worker for gatherMs is not.
    let whileMoving = preparing;
    let absent = false;
    for (const platform of missing) {
      if (connected(platform)) {
        whileMoving = true;
        continue;
      }
      const deadline = Math.max(room.firstEnter, lastGone.get(platform) ?? 0) + gatherMs;
      if (now < deadline) {
        absent = true;
        wakeAt = Math.min(wakeAt, deadline);
      }
    }
    if (whileMoving && !stalled(now)) {
      if (holders.length === 0 && exclusiveQueue.length === 0) wakeAt = Math.min(wakeAt, lastProgress + gatherMs);
      return { start: false, wakeAt };
    }
    if (absent) return { start: false, wakeAt };
    return { start: true, missing };
  }

  /** The member whose turn it is in a started room, or when to look again. */
  function nextTurn(room: Room, now: number): { member?: Member; wakeAt: number } {
    const active = [...room.members.values()].filter((m) => m.joined);
    for (let pass = 0; pass < 2; pass++) {
      let unserved = active.filter((m) => !m.served);
      if (unserved.length === 0) {
        // The next round, once anyone asks for a turn.
        if (!active.some((m) => m.turn !== undefined)) return { wakeAt: Infinity };
        room.round++;
        for (const m of active) m.served = false;
        unserved = active;
      }
      const order = roundOrder(
        unserved.map((m) => m.platform),
        roundSeed,
        room.round,
      );
      unserved.sort((a, b) => order.indexOf(a.platform) - order.indexOf(b.platform));
      const passedOver: string[] = [];
      for (const member of unserved) {
        if (member.turn !== undefined) return { member, wakeAt: Infinity };
        // Round barrier: a member between two samples gets barrierMs to ask for its turn in this round.
        if (now - member.since < barrierMs) return { wakeAt: member.since + barrierMs };
        member.served = true;
        passedOver.push(member.platform);
      }
      log(`${room.key}: round ${room.round} went on without ${passedOver.join(', ')}, who did not ask for a turn within ${barrierMs} ms`);
    }
    return { wakeAt: Infinity };
  }

  /**
   * Settle: until when another worker may still be busy with its last turn (it has not asked for its
   * next one or left), so that the chosen one's sample starts on a quiet machine; undefined when all are quiet.
   */
  function othersBusyUntil(chosen: Member, now: number): number | undefined {
    let until: number | undefined;
    for (const conn of conns) {
      if (conn === chosen.conn) continue;
      for (const member of conn.members.values()) {
        if (!member.joined || member.turn !== undefined || !member.room.started) continue;
        const quietAt = member.since + settleMs;
        if (now < quietAt) until = Math.max(until ?? 0, quietAt);
      }
    }
    return until;
  }

  function schedule(): void {
    if (closed) return;
    clearTimeout(timer);
    timer = undefined;
    const now = Date.now();
    let wakeAt = Infinity;

    for (const room of rooms.values()) {
      if (room.started || (room.members.size === 0 && room.doneWaiters.length === 0)) continue;
      const verdict = startable(room, now);
      if (verdict.start) {
        room.started = true;
        const gone = [
          ...verdict.missing,
          ...[...room.members.values()].filter((m) => !m.joined).map((m) => `${m.platform} (still preparing)`),
        ];
        if (gone.length) log(`${room.key}: started without ${gone.join(', ')}, who did not come in time`);
      } else {
        wakeAt = Math.min(wakeAt, verdict.wakeAt);
      }
    }
    // End barrier: done() returns once no member is left in a started room.
    for (const room of rooms.values()) {
      if (room.started && room.members.size === 0 && room.doneWaiters.length) {
        for (const waiter of room.doneWaiters.splice(0)) send(waiter.conn, { id: waiter.id });
      }
    }

    // Finishing order: a platform ends a file once those planned before it have, or have gone.
    for (let i = finishWaiters.length - 1; i >= 0; i--) {
      const waiter = finishWaiters[i]!;
      const waiting = platformsAhead(waiter.conn.platform, waiter.file).filter(
        (p) => !ended.has(`${p}\0${waiter.file}`) && !unavailable.has(p) && connected(p),
      );
      if (waiting.length === 0 || now >= waiter.since + finishOrderMs) {
        finishWaiters.splice(i, 1);
        send(waiter.conn, { id: waiter.id });
      } else {
        wakeAt = Math.min(wakeAt, waiter.since + finishOrderMs);
      }
    }

    // Steps first, several at once but never during a turn; a turn only when nothing is held.
    const turnHeld = holders.some((h) => h.kind === 'turn');
    while (!turnHeld && exclusiveQueue.length > 0 && holders.length < stepsAtOnce) grant(exclusiveQueue.shift()!);
    if (holders.length === 0) {
      const candidates: Member[] = [];
      for (const room of rooms.values()) {
        if (!room.started) continue;
        const next = nextTurn(room, now);
        if (next.member) candidates.push(next.member);
        else wakeAt = Math.min(wakeAt, next.wakeAt);
      }
      // Across rooms (two benchmarks at once), the longest waiting first.
      candidates.sort((a, b) => a.since - b.since);
      const chosen = candidates[0];
      const busyUntil = chosen ? othersBusyUntil(chosen, now) : undefined;
      if (busyUntil !== undefined) wakeAt = Math.min(wakeAt, busyUntil);
      else if (chosen) grant({ conn: chosen.conn, id: chosen.turn!, kind: 'turn', room: chosen.room.key, member: chosen });
    }
    if (wakeAt < Infinity) {
      timer = setTimeout(schedule, Math.max(0, wakeAt - Date.now()) + 5);
      timer.unref();
    }
  }

  function handle(conn: Conn, message: ClientMessage): void {
    switch (message.op) {
      case 'auth':
        break; // presented again: nothing to do
      case 'hello':
        conn.platform = String(message.platform);
        break;
      case 'enter':
        enter(conn, message.room, message.file);
        break;
      case 'skip': {
        const member = conn.members.get(message.room);
        if (member) removeMember(member);
        roomFor(message.room, message.file).settled.add(conn.platform);
        break;
      }
      case 'lock': {
        if (message.kind === 'exclusive') {
          exclusiveQueue.push({ conn, id: message.id, kind: 'exclusive', room: message.room });
          break;
        }
        const member = conn.members.get(message.room);
        if (!member) {
          send(conn, { id: message.id, error: `asked for a turn in ${message.room} without entering it` });
          break;
        }
        if (!member.joined) {
          member.joined = true;
          member.served = false;
        }
        member.turn = message.id;
        break;
      }
      case 'release':
        for (const held of holders.filter((h) => h.conn === conn && h.id === message.id)) release(held);
        break;
      case 'cancel': {
        for (const held of holders.filter((h) => h.conn === conn && h.id === message.id)) release(held);
        for (let i = exclusiveQueue.length - 1; i >= 0; i--) {
          if (exclusiveQueue[i]!.conn === conn && exclusiveQueue[i]!.id === message.id) exclusiveQueue.splice(i, 1);
        }
        for (const member of conn.members.values()) if (member.turn === message.id) member.turn = undefined;
        for (const room of rooms.values()) {
          const i = room.doneWaiters.findIndex((w) => w.conn === conn && w.id === message.id);
          if (i >= 0) room.doneWaiters.splice(i, 1);
        }
        const finishing = finishWaiters.findIndex((w) => w.conn === conn && w.id === message.id);
        if (finishing >= 0) finishWaiters.splice(finishing, 1);
        break;
      }
      case 'done': {
        const room = rooms.get(message.room);
        const member = conn.members.get(message.room);
        if (member) removeMember(member);
        if (!room) send(conn, { id: message.id });
        else room.doneWaiters.push({ conn, id: message.id });
        break;
      }
      case 'leave': {
        const member = conn.members.get(message.room);
        if (member) removeMember(member);
        break;
      }
      case 'finish':
        finishWaiters.push({ conn, id: message.id, file: String(message.file), since: Date.now() });
        break;
      case 'plan':
        conn.planned = new Map(message.files.map(([file, platforms]) => [String(file), platforms.map(String)]));
        plans.set(conn, conn.planned);
        planners.add(conn);
        send(conn, { roundOrder: { kind: 'random', seed: roundSeed } });
        break;
      case 'unavailable':
        unavailable.add(String(message.platform));
        break;
      case 'ended':
        ended.add(`${message.platform}\0${message.file}`);
        break;
    }
  }

  function disconnect(conn: Conn): void {
    if (!conns.delete(conn)) return;
    for (const member of [...conn.members.values()]) removeMember(member);
    for (let i = exclusiveQueue.length - 1; i >= 0; i--) if (exclusiveQueue[i]!.conn === conn) exclusiveQueue.splice(i, 1);
    for (const room of rooms.values()) {
      for (let i = room.doneWaiters.length - 1; i >= 0; i--) if (room.doneWaiters[i]!.conn === conn) room.doneWaiters.splice(i, 1);
    }
    for (let i = finishWaiters.length - 1; i >= 0; i--) if (finishWaiters[i]!.conn === conn) finishWaiters.splice(i, 1);
    for (const held of holders.filter((h) => h.conn === conn)) release(held);
    if (conn.platform) lastGone.set(conn.platform, Date.now());
    // Another run's main process is gone (ended or crashed): no room waits for what it planned.
    plans.delete(conn);
    schedule();
  }

  const server = net.createServer((socket) => {
    const conn: Conn = { socket, authenticated: secret === '', platform: '', members: new Map() };
    conns.add(conn);
    socket.unref();
    socket.setEncoding('utf8');
    let buffer = '';
    socket.on('data', (chunk: string) => {
      lastProgress = Date.now();
      buffer += chunk;
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let message: ClientMessage;
        try {
          message = JSON.parse(line) as ClientMessage;
        } catch {
          log(`dropped a connection that sent something other than JSON: ${line.slice(0, 80)}`);
          socket.destroy();
          return;
        }
        if (!conn.authenticated) {
          const presented = Buffer.from(message?.op === 'auth' ? String(message.secret) : '');
          if (presented.length !== secret.length || !timingSafeEqual(presented, Buffer.from(secret))) {
            log("refused a connection that did not present the turnstile's secret (another local user, or an older virtbench)");
            socket.destroy();
            return;
          }
          conn.authenticated = true;
          continue;
        }
        try {
          handle(conn, message);
        } catch (error) {
          // A malformed message (a plan that is not a list) ends its connection, not the server.
          log(`dropped a connection that sent a malformed ${String(message?.op)} message: ${(error as Error).message}`);
          socket.destroy();
          return;
        }
      }
      schedule();
    });
    socket.on('close', () => disconnect(conn));
    socket.on('error', () => disconnect(conn));
  });

  if (!listenOn.startsWith('\0')) rmSync(listenOn, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) =>
      reject(new TurnstileError(`the turnstile cannot listen on ${showAddress(address)}: ${error.message}`, { cause: error })),
    );
    server.listen(listenOn, () => resolve());
  });
  server.unref();

  return {
    address,
    grants,
    roundOrder: { kind: 'random', seed: roundSeed },
    plan(files) {
      // A new run (watch mode runs again): rooms and ended files of the last one are forgotten.
      ended.clear();
      for (const [key, room] of rooms) if (room.members.size === 0 && room.doneWaiters.length === 0) rooms.delete(key);
      const plan = new Map<string, readonly string[]>();
      for (const [file, platforms] of files) plan.set(file, [...platforms]);
      plans.set('local', plan);
      schedule();
    },
    unavailable(platform) {
      unavailable.add(platform);
      schedule();
    },
    isUnavailable: (platform) => unavailable.has(platform),
    moduleEnded(platform, file) {
      ended.add(`${platform}\0${file}`);
      schedule();
    },
    close() {
      closed = true;
      clearTimeout(timer);
      for (const conn of conns) conn.socket.destroy();
      return new Promise<void>((resolve) =>
        server.close(() => {
          if (!listenOn.startsWith('\0')) rmSync(listenOn, { force: true });
          resolve();
        }),
      );
    },
  };
}

// ---------------------------------------------------------------- client

/** One benchmark's place at the turnstile. */
export interface TurnRoom {
  /** Runs fn (connect, prepare, dispose...) while no platform takes a sample; another platform's step may run alongside. */
  exclusive<T>(fn: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Runs fn (one sample) in this benchmark's next turn; fn gets the round. */
  turn<T>(fn: (round: number) => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** This platform does not run this benchmark (n/a): nobody waits for it. */
  skip(): void;
  /** End barrier: returns once every platform is done with this benchmark. */
  done(signal?: AbortSignal): Promise<void>;
  /** Leaves the room, dropping whatever it still held or asked for. */
  leave(): void;
  /**
   * Call after leave() in the file's last benchmark: returns once the platforms planned before this
   * one have ended the file (or have gone), at most finishOrderMs later. The platforms' workers then
   * end their files in the plan's order, which is the order their next files wait in Vitest's queue:
   * Vitest hands a finished worker the next file only when that file is first in the queue and of the
   * same project, and otherwise starts a new worker (about 1.5 s each on a 2-core machine, its
   * modules and connections made again).
   */
  finishFile(signal?: AbortSignal): Promise<void>;
}

export interface TurnstileClient {
  readonly platform: string;
  room(file: string, test: string): TurnRoom;
  readonly closed: boolean;
  close(): void;
}

interface Pending {
  resolve(message: ServerMessage): void;
  reject(error: Error): void;
}

export async function connectTurnstile(address: string, platform: string): Promise<TurnstileClient> {
  const { socket: connectTo, secret } = splitAddress(address);
  const socket = net.createConnection(connectTo);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (error) =>
      reject(
        new TurnstileError(
          `cannot reach the virtbench turnstile of the main process at ${showAddress(address)}: ${error.message} ` +
            '(run bench files through `vitest bench` with the virtbench() plugin)',
          { cause: error },
        ),
      ),
    );
  });
  socket.unref();
  socket.setEncoding('utf8');
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let closedBy: TurnstileError | undefined;
  let buffer = '';

  const write = (message: ClientMessage) => {
    if (!closedBy) socket.write(JSON.stringify(message) + '\n');
  };
  const fail = (error: TurnstileError) => {
    closedBy ??= error;
    for (const waiter of pending.values()) waiter.reject(closedBy);
    pending.clear();
  };
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const message = JSON.parse(buffer.slice(0, nl)) as ServerMessage;
      buffer = buffer.slice(nl + 1);
      const waiter = pending.get(message.id);
      if (waiter) {
        pending.delete(message.id);
        if (message.error) waiter.reject(new TurnstileError(`the turnstile refused: ${message.error}`));
        else waiter.resolve(message);
      } else if (!message.error) {
        // Granted after its waiter gave up: give it back at once.
        write({ op: 'release', id: message.id });
      }
    }
  });
  socket.on('error', (error) => fail(new TurnstileError(`the turnstile connection failed: ${error.message}`, { cause: error })));
  socket.on('close', () =>
    fail(new TurnstileError('the turnstile in the main process closed the connection (the run is ending or it crashed)')),
  );
  if (secret) write({ op: 'auth', secret });
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

  async function locked<T>(kind: LockKind, room: string, fn: (round: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const granted = await request(
      (id) => ({ op: 'lock', id, kind, room }),
      kind === 'turn' ? `a turn in ${room}` : 'an exclusive step',
      signal,
    );
    try {
      return await fn(granted.round ?? 0);
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
        skip: () => write({ op: 'skip', room: key, file }),
        done: async (signal) => {
          await request((id) => ({ op: 'done', id, room: key }), `the other platforms to finish ${test}`, signal);
        },
        leave: () => write({ op: 'leave', room: key }),
        finishFile: async (signal) => {
          await request((id) => ({ op: 'finish', id, file }), `the platforms before ${platform} to finish ${file}`, signal);
        },
      };
    },
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

// ---------------------------------------------------------------- a turnstile of another process

/*
 * `virtbench ab` runs the base's and the head's `vitest bench` at the same time and makes them take
 * their samples in turns at one turnstile of its own, so that a drift of the machine falls on both
 * sides alike, sample by sample. Each run then reaches that turnstile from outside: its main process
 * plans through a control connection, and every platform goes by "<platform>@<tag>" (native@base),
 * in rooms named by the bench file's path relative to the project root, which both checkouts share.
 */

/** VIRTBENCH_TURNSTILE: a Unix socket path, or "@name" for a Linux abstract name (environment values cannot hold a NUL). */
export const TURNSTILE_ENV = 'VIRTBENCH_TURNSTILE';
/** VIRTBENCH_TURNSTILE_TAG: what this run's platforms are called there, after an "@" (base, head). */
export const TURNSTILE_TAG_ENV = 'VIRTBENCH_TURNSTILE_TAG';

/** The turnstile address as an environment value; and back. */
export const addressToEnv = (address: string) => (address.startsWith('\0') ? `@${address.slice(1)}` : address);
export const addressFromEnv = (value: string) => (value.startsWith('@') ? `\0${value.slice(1)}` : value);

/** Where a run's platforms meet: its own turnstile, or another process's under a tag. */
export interface TurnstilePlace {
  address: string;
  /** Set when the turnstile is another process's: platforms go by "<platform>@<tag>". */
  tag?: string;
  /** Set with tag: bench files go by their path relative to this directory. */
  root?: string;
}

/** The name a platform goes by at the turnstile. */
export function turnstileName(platform: string, place: Pick<TurnstilePlace, 'tag'>): string {
  return place.tag ? `${platform}@${place.tag}` : platform;
}

/**
 * The name a bench file goes by at the turnstile (an absolute path, or relative to the root of a shared
 * one). A file of an installed package (the shipped suite) goes by its path from its node_modules: a
 * worktree whose node_modules is a link to the other checkout's finds it there, not under its own root.
 */
export function turnstileFile(file: string, place: Pick<TurnstilePlace, 'root'>): string {
  if (!place.root) return file;
  const inPackage = file.lastIndexOf('/node_modules/');
  return inPackage >= 0 ? file.slice(inPackage + 1) : relative(place.root, file);
}

/** The shared turnstile this run's environment names, if any; a bad tag is refused with the fix. */
export function externalTurnstile(env: NodeJS.ProcessEnv, root: string): TurnstilePlace | undefined {
  const value = env[TURNSTILE_ENV];
  if (!value) return undefined;
  const tag = env[TURNSTILE_TAG_ENV] ?? '';
  if (!/^[a-z0-9-]+$/.test(tag)) {
    throw new VirtbenchError(
      'VIRTBENCH_BAD_OPTION',
      `${TURNSTILE_ENV} is set, so ${TURNSTILE_TAG_ENV} must name this run (letters, digits, "-"), got "${tag}"; ` +
        `fix: set both (virtbench ab does), or unset ${TURNSTILE_ENV} to run alone`,
    );
  }
  return { address: addressFromEnv(value), tag, root };
}

/** A notice of the turnstile to a run that planned there, or undefined for anything else. */
function parseNotice(line: string): PlannerNotice | undefined {
  try {
    const { roundOrder } = JSON.parse(line) as Partial<PlannerNotice>;
    return roundOrder?.kind === 'random' && Number.isInteger(roundOrder.seed) ? { roundOrder } : undefined;
  } catch {
    return undefined;
  }
}

/** The main process's link to another process's turnstile: it plans and reports there what it would tell its own. */
export async function connectTurnstileControl(place: TurnstilePlace): Promise<TurnstileServer> {
  const { socket: connectTo, secret } = splitAddress(place.address);
  const socket = net.createConnection(connectTo);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (error) =>
      reject(
        new TurnstileError(
          `cannot reach the turnstile at ${showAddress(place.address)} that ${TURNSTILE_ENV} names: ${error.message}; ` +
            `fix: unset ${TURNSTILE_ENV} (it is set by virtbench ab for the runs it starts)`,
          { cause: error },
        ),
      ),
    );
  });
  socket.unref();
  socket.on('error', () => {}); // a closed turnstile shows in the workers' waits, which name it
  const send = (message: ClientMessage) => {
    if (socket.writable) socket.write(JSON.stringify(message) + '\n');
  };
  if (secret) send({ op: 'auth', secret });
  // The turnstile says how it orders its rounds once this run has planned (an older one never does).
  let roundOrder: RoundOrder | undefined;
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      const notice = parseNotice(line);
      if (notice) roundOrder = notice.roundOrder;
    }
  });
  const unavailable = new Set<string>();
  const name = (platform: string) => turnstileName(platform, place);
  return {
    address: place.address,
    grants: [],
    get roundOrder() {
      return roundOrder;
    },
    plan(files) {
      send({ op: 'plan', files: [...files].map(([file, platforms]) => [turnstileFile(file, place), platforms.map(name)]) });
    },
    unavailable(platform) {
      unavailable.add(platform);
      send({ op: 'unavailable', platform: name(platform) });
    },
    isUnavailable: (platform) => unavailable.has(platform),
    moduleEnded(platform, file) {
      send({ op: 'ended', platform: name(platform), file: turnstileFile(file, place) });
    },
    // end(), not destroy(): what was said last (a file ended) must still arrive.
    close: () => new Promise<void>((resolve) => socket.end(resolve)),
  };
}

// ---------------------------------------------------------------- sharing in the main process

/* The plugin (config bundle) and every project's globalSetup share the run's one server. */
const SHARED_KEY = 'virtbench.turnstile';

interface Shared {
  server: TurnstileServer;
  place: TurnstilePlace;
  unregister?: () => void;
}

/**
 * The run's turnstile, started by the first caller; release() closes it after the last. With
 * `external` (from externalTurnstile), another process's turnstile, reached through a control connection.
 */
export async function useSharedTurnstile(
  options: Omit<TurnstileOptions, 'address'> & { onExit?: (cleanup: () => void) => () => void; external?: TurnstilePlace } = {},
): Promise<{ server: TurnstileServer; place: TurnstilePlace; release(): Promise<void> }> {
  const membership = await joinShared<Shared>(SHARED_KEY, async () => {
    if (options.external) return { server: await connectTurnstileControl(options.external), place: options.external };
    const address = turnstileAddress();
    const server = await startTurnstile({ ...options, address });
    // A socket file (not Linux) is removed on Ctrl-C too; an abstract name vanishes with the process.
    const { socket } = splitAddress(address);
    const unregister = !socket.startsWith('\0') && options.onExit ? options.onExit(() => rmSync(socket, { force: true })) : undefined;
    return { server, place: { address }, unregister };
  });
  const { server, place, unregister } = membership.value;
  return {
    server,
    place,
    async release() {
      if (!membership.leave()) return;
      unregister?.();
      await server.close();
    },
  };
}

/** The run's turnstile once started (for the sequencer and the reporter in the main process). */
export function sharedTurnstile(): TurnstileServer | undefined {
  return peekShared<Shared>(SHARED_KEY)?.server;
}
