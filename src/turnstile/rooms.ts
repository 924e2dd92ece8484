import type { Conn, Grant, Lock, Member, Room, Settings } from './room-types.js';
import { nextTurn, roundEnd } from './round-end.js';
import { encode, isCpuSource, sourceKey, type ClientMessage, type PlannerNotice, type ServerMessage } from './protocol.js';

export type { Conn, Grant, Member, Room, Settings, UntilDecided } from './room-types.js';

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
 */

function send(conn: Conn, message: ServerMessage | PlannerNotice): void {
  if (conn.socket.writable) conn.socket.write(encode(message));
}

/** Removes the entries of a list that match, in place. */
function dropWhere<T>(list: T[], matches: (entry: T) => boolean): void {
  for (let i = list.length - 1; i >= 0; i--) if (matches(list[i]!)) list.splice(i, 1);
}

/** The rooms and locks of one turnstile: what its connections asked for, and what it granted. */
export class TurnstileState {
  readonly conns = new Set<Conn>();
  readonly rooms = new Map<string, Room>();
  /** Who plans which platforms for which file: this process ('local'), or another run's main process (its connection). */
  readonly plans = new Map<Conn | 'local', Map<string, readonly string[]>>();
  /** Connections that have planned, ever (one that ended still counts: its run came). */
  readonly planners = new Set<Conn>();
  readonly unavailable = new Set<string>();
  readonly ended = new Set<string>(); // platform \0 file
  readonly lastGone = new Map<string, number>();
  readonly exclusiveQueue: Lock[] = [];
  readonly grants: Grant[] = [];
  /** Workers about to end a bench file, waiting for the platforms planned before them to have ended it. */
  readonly finishWaiters: { conn: Conn; id: number; file: string; since: number }[] = [];
  /** What is granted now: one turn alone, or up to stepsAtOnce exclusive steps. */
  readonly holders: Lock[] = [];
  lastProgress = Date.now();
  /** Rounds until decided: when the first room started, and how many have. */
  sampling: { since: number; rooms: number } | undefined;
  timer: NodeJS.Timeout | undefined;
  closed = false;

  constructor(readonly settings: Settings) {}

  expectedFor(file: string): string[] {
    return [...this.plans.values()].flatMap((plan) => plan.get(file) ?? []);
  }

  connected(platform: string): boolean {
    return [...this.conns].some((c) => c.platform === platform);
  }

  /** The platforms planned before this one for a file, in the plan that has it (each run of virtbench ab plans its own). */
  platformsAhead(platform: string, file: string): readonly string[] {
    for (const plan of this.plans.values()) {
      const platforms = plan.get(file) ?? [];
      const at = platforms.indexOf(platform);
      if (at >= 0) return platforms.slice(0, at);
    }
    return [];
  }

  /** Nothing held or queued, and nothing granted or released for gatherMs: a stall. */
  stalled(now: number): boolean {
    return this.holders.length === 0 && this.exclusiveQueue.length === 0 && now - this.lastProgress >= this.settings.gatherMs;
  }

  roomFor(key: string, file: string): Room {
    let room = this.rooms.get(key);
    if (!room) {
      room = {
        key,
        file,
        firstEnter: Date.now(),
        started: false,
        round: 0,
        members: new Map(),
        doneWaiters: [],
        settled: new Set(),
        figures: new Map(),
        moreWaiters: [],
      };
      this.rooms.set(key, room);
    }
    return room;
  }

  enter(conn: Conn, key: string, file: string): Member {
    const existing = conn.members.get(key);
    if (existing) return existing;
    const room = this.roomFor(key, file);
    // A retried benchmark enters again: it is no longer done with the room.
    room.settled.delete(conn.platform);
    const member: Member = { conn, platform: conn.platform, room, joined: false, served: false, since: Date.now() };
    room.members.set(conn, member);
    conn.members.set(key, member);
    return member;
  }

  /** The member leaves its room: whatever it held or asked for there is dropped. */
  removeMember(member: Member): void {
    member.room.members.delete(member.conn);
    member.conn.members.delete(member.room.key);
    member.room.settled.add(member.platform);
    for (const held of this.holders.filter((h) => h.member === member || (h.conn === member.conn && h.room === member.room.key))) {
      this.release(held);
    }
    dropWhere(this.exclusiveQueue, (lock) => lock.conn === member.conn && lock.room === member.room.key);
    dropWhere(member.room.moreWaiters, (waiter) => waiter.member === member);
  }

  release(lock: Lock): void {
    const at = this.holders.indexOf(lock);
    if (at < 0) return;
    this.holders.splice(at, 1);
    if (lock.member) lock.member.since = Date.now();
    this.lastProgress = Date.now();
  }

  grant(lock: Lock): void {
    this.holders.push(lock);
    this.lastProgress = Date.now();
    const member = lock.member;
    if (member) {
      member.turn = undefined;
      member.served = true;
      member.turnRound = member.room.round;
      this.grants.push({ platform: member.platform, room: member.room.key, round: member.room.round, at: Date.now() });
      // Not its own (a docker variant's engine daemons serve its samples too, and other variants name them as well).
      const own = new Set(lock.conn.cpuSources.map(sourceKey));
      const others = new Map(
        [...this.conns].filter((c) => c !== lock.conn).flatMap((c) => c.cpuSources.map((x) => [sourceKey(x), x] as const)),
      );
      for (const key of own) others.delete(key);
      send(lock.conn, { id: lock.id, round: member.room.round, ...(others.size ? { others: [...others.values()] } : {}) });
    } else {
      send(lock.conn, { id: lock.id });
    }
  }

  /** Whether a room may start now; otherwise when to look again. */
  startable(room: Room, now: number): { start: true; missing: string[] } | { start: false; wakeAt: number } {
    const { gatherMs } = this.settings;
    if (this.planners.size < this.settings.planners && now < room.firstEnter + gatherMs) {
      return { start: false, wakeAt: room.firstEnter + gatherMs };
    }
    const present = [...room.members.values()];
    const here = new Set(present.map((m) => m.platform));
    const missing = this.expectedFor(room.file).filter(
      (p) => !here.has(p) && !room.settled.has(p) && !this.unavailable.has(p) && !this.ended.has(`${p}\0${room.file}`),
    );
    const preparing = present.some((m) => !m.joined);
    if (!preparing && missing.length === 0) return { start: true, missing };
    let wakeAt = Infinity;
    // Members still preparing, and platforms whose worker is on an earlier benchmark, are
    // waited for as long as anything moves; a platform without a worker for gatherMs is not.
    let whileMoving = preparing;
    let absent = false;
    for (const platform of missing) {
      if (this.connected(platform)) {
        whileMoving = true;
        continue;
      }
      const deadline = Math.max(room.firstEnter, this.lastGone.get(platform) ?? 0) + gatherMs;
      if (now < deadline) {
        absent = true;
        wakeAt = Math.min(wakeAt, deadline);
      }
    }
    if (whileMoving && !this.stalled(now)) {
      if (this.holders.length === 0 && this.exclusiveQueue.length === 0) wakeAt = Math.min(wakeAt, this.lastProgress + gatherMs);
      return { start: false, wakeAt };
    }
    if (absent) return { start: false, wakeAt };
    return { start: true, missing };
  }

  /**
   * Settle: until when another worker may still be busy with its last turn (it has not asked for its
   * next one or left), so that the chosen one's sample starts on a quiet machine; undefined when all are quiet.
   */
  othersBusyUntil(chosen: Member, now: number): number | undefined {
    let until: number | undefined;
    for (const conn of this.conns) {
      if (conn === chosen.conn) continue;
      for (const member of conn.members.values()) {
        if (!member.joined || member.turn !== undefined || !member.room.started) continue;
        // Waiting for its round's end (rounds until decided): it has recorded its sample.
        if (member.room.moreWaiters.some((w) => w.member === member)) continue;
        const quietAt = member.since + this.settings.settleMs;
        if (now < quietAt) until = Math.max(until ?? 0, quietAt);
      }
    }
    return until;
  }

  /** Hands out whatever may go now, and sets the timer for the next moment something may. */
  schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = Date.now();
    let wakeAt = this.startRooms(now);
    this.answerEndBarriers();
    this.answerRoundEnds(now);
    wakeAt = Math.min(wakeAt, this.answerFinishWaiters(now));
    wakeAt = Math.min(wakeAt, this.grantLocks(now));
    if (wakeAt < Infinity) {
      this.timer = setTimeout(() => this.schedule(), Math.max(0, wakeAt - Date.now()) + 5);
      this.timer.unref();
    }
  }

  /** Start barrier: starts the rooms that may start; returns when to look again at the others. */
  startRooms(now: number): number {
    let wakeAt = Infinity;
    for (const room of this.rooms.values()) {
      if (room.started || (room.members.size === 0 && room.doneWaiters.length === 0)) continue;
      const verdict = this.startable(room, now);
      if (verdict.start) {
        room.started = true;
        room.deadline = this.budgetDeadline(now);
        room.startedAt = now;
        const gone = [
          ...verdict.missing,
          ...[...room.members.values()].filter((m) => !m.joined).map((m) => `${m.platform} (still preparing)`),
        ];
        if (gone.length) this.settings.log(`${room.key}: started without ${gone.join(', ')}, who did not come in time`);
      } else {
        wakeAt = Math.min(wakeAt, verdict.wakeAt);
      }
    }
    return wakeAt;
  }

  /** When the rooms started so far may have spent their share of the budget (see UntilDecided.budgetMs). */
  budgetDeadline(now: number): number | undefined {
    const until = this.settings.untilDecided;
    if (!until) return undefined;
    this.sampling ??= { since: now, rooms: 0 };
    this.sampling.rooms++;
    const planned = Math.max(this.sampling.rooms, new Set([...this.plans.values()].flatMap((plan) => [...plan.keys()])).size);
    return this.sampling.since + (until.budgetMs * this.sampling.rooms) / planned;
  }

  /** Rounds until decided: the members that asked hear, at their round's end, whether they take another. */
  answerRoundEnds(now: number): void {
    const until = this.settings.untilDecided;
    if (!until) return;
    for (const room of this.rooms.values()) {
      const turnHeld = this.holders.some((h) => h.kind === 'turn' && h.room === room.key);
      if (room.moreWaiters.length === 0 || turnHeld) continue;
      for (const { member, id, stop } of roundEnd(room, until, now, this.settings.log)) {
        // Held here, not between two samples of its own: its barrier for the next round starts now.
        member.since = now;
        send(member.conn, { id, more: !stop, ...(stop ? { stop } : {}) });
      }
    }
  }

  /** End barrier: done() returns once no member is left in a started room. */
  answerEndBarriers(): void {
    for (const room of this.rooms.values()) {
      if (room.started && room.members.size === 0 && room.doneWaiters.length) {
        for (const waiter of room.doneWaiters.splice(0)) send(waiter.conn, { id: waiter.id });
      }
    }
  }

  /** Finishing order: a platform ends a file once those planned before it have, or have gone. */
  answerFinishWaiters(now: number): number {
    let wakeAt = Infinity;
    for (let i = this.finishWaiters.length - 1; i >= 0; i--) {
      const waiter = this.finishWaiters[i]!;
      const waiting = this.platformsAhead(waiter.conn.platform, waiter.file).filter(
        (p) => !this.ended.has(`${p}\0${waiter.file}`) && !this.unavailable.has(p) && this.connected(p),
      );
      if (waiting.length === 0 || now >= waiter.since + this.settings.finishOrderMs) {
        this.finishWaiters.splice(i, 1);
        send(waiter.conn, { id: waiter.id });
      } else {
        wakeAt = Math.min(wakeAt, waiter.since + this.settings.finishOrderMs);
      }
    }
    return wakeAt;
  }

  /** Steps first, several at once but never during a turn; a turn only when nothing is held. Returns when to look again. */
  grantLocks(now: number): number {
    const turnHeld = this.holders.some((h) => h.kind === 'turn');
    while (!turnHeld && this.exclusiveQueue.length > 0 && this.holders.length < this.settings.stepsAtOnce) {
      this.grant(this.exclusiveQueue.shift()!);
    }
    if (this.holders.length > 0) return Infinity;
    let wakeAt = Infinity;
    const candidates: Member[] = [];
    for (const room of this.rooms.values()) {
      if (!room.started) continue;
      const next = nextTurn(room, now, this.settings);
      if (next.member) candidates.push(next.member);
      else wakeAt = Math.min(wakeAt, next.wakeAt);
    }
    // Across rooms (two benchmarks at once), the longest waiting first.
    candidates.sort((a, b) => a.since - b.since);
    const chosen = candidates[0];
    const busyUntil = chosen ? this.othersBusyUntil(chosen, now) : undefined;
    if (busyUntil !== undefined) wakeAt = Math.min(wakeAt, busyUntil);
    else if (chosen) this.grant({ conn: chosen.conn, id: chosen.turn!, kind: 'turn', room: chosen.room.key, member: chosen });
    return wakeAt;
  }

  /** One message of an authenticated connection; schedule() follows. */
  handle(conn: Conn, message: ClientMessage): void {
    switch (message.op) {
      case 'auth':
        break; // presented again: nothing to do
      case 'hello':
        conn.platform = String(message.platform);
        break;
      case 'enter':
        this.enter(conn, message.room, message.file);
        break;
      case 'skip': {
        const member = conn.members.get(message.room);
        if (member) this.removeMember(member);
        this.roomFor(message.room, message.file).settled.add(conn.platform);
        break;
      }
      case 'lock':
        this.lock(conn, message);
        break;
      case 'release':
        for (const held of this.holders.filter((h) => h.conn === conn && h.id === message.id)) this.release(held);
        break;
      case 'cancel':
        this.cancel(conn, message.id);
        break;
      case 'done': {
        const room = this.rooms.get(message.room);
        const member = conn.members.get(message.room);
        if (member) this.removeMember(member);
        if (!room) send(conn, { id: message.id });
        else room.doneWaiters.push({ conn, id: message.id });
        break;
      }
      case 'leave': {
        const member = conn.members.get(message.room);
        if (member) this.removeMember(member);
        break;
      }
      case 'more':
        this.more(conn, message);
        break;
      case 'sources':
        conn.cpuSources = Array.isArray(message.sources) ? message.sources.filter(isCpuSource) : [];
        break;
      case 'finish':
        this.finishWaiters.push({ conn, id: message.id, file: String(message.file), since: Date.now() });
        break;
      case 'plan':
        this.plans.set(conn, new Map(message.files.map(([file, platforms]) => [String(file), platforms.map(String)])));
        this.planners.add(conn);
        send(conn, { roundOrder: { kind: 'random', seed: this.settings.roundSeed } });
        break;
      case 'unavailable':
        this.unavailable.add(String(message.platform));
        break;
      case 'ended':
        this.ended.add(`${message.platform}\0${message.file}`);
        break;
    }
  }

  lock(conn: Conn, message: Extract<ClientMessage, { op: 'lock' }>): void {
    if (message.kind === 'exclusive') {
      this.exclusiveQueue.push({ conn, id: message.id, kind: 'exclusive', room: message.room });
      return;
    }
    const member = conn.members.get(message.room);
    if (!member) {
      send(conn, { id: message.id, error: `asked for a turn in ${message.room} without entering it` });
      return;
    }
    if (!member.joined) {
      member.joined = true;
      member.served = false;
    }
    member.turn = message.id;
  }

  /** A member's figure of a round: it waits for the round's end to hear whether it takes another (answerRoundEnds). */
  more(conn: Conn, message: Extract<ClientMessage, { op: 'more' }>): void {
    const member = conn.members.get(message.room);
    if (!member || !this.settings.untilDecided) {
      // Without the rule (or a member that left), every platform keeps its own count.
      send(conn, { id: message.id, more: true });
      return;
    }
    const { round, value } = message;
    if (Number.isInteger(round) && typeof value === 'number' && Number.isFinite(value) && value > 0) {
      let figures = member.room.figures.get(member.platform);
      if (!figures) member.room.figures.set(member.platform, (figures = new Map()));
      figures.set(round, value);
    }
    member.room.moreWaiters.push({ member, id: message.id, round });
  }

  /** A request given up by its client (aborted): whatever it held, or waited for, is dropped. */
  cancel(conn: Conn, id: number): void {
    for (const held of this.holders.filter((h) => h.conn === conn && h.id === id)) this.release(held);
    dropWhere(this.exclusiveQueue, (lock) => lock.conn === conn && lock.id === id);
    for (const member of conn.members.values()) if (member.turn === id) member.turn = undefined;
    for (const room of this.rooms.values()) {
      const i = room.doneWaiters.findIndex((w) => w.conn === conn && w.id === id);
      if (i >= 0) room.doneWaiters.splice(i, 1);
    }
    for (const room of this.rooms.values()) dropWhere(room.moreWaiters, (w) => w.member.conn === conn && w.id === id);
    const finishing = this.finishWaiters.findIndex((w) => w.conn === conn && w.id === id);
    if (finishing >= 0) this.finishWaiters.splice(finishing, 1);
  }

  disconnect(conn: Conn): void {
    if (!this.conns.delete(conn)) return;
    for (const member of [...conn.members.values()]) this.removeMember(member);
    dropWhere(this.exclusiveQueue, (lock) => lock.conn === conn);
    for (const room of this.rooms.values()) dropWhere(room.doneWaiters, (waiter) => waiter.conn === conn);
    dropWhere(this.finishWaiters, (waiter) => waiter.conn === conn);
    for (const held of this.holders.filter((h) => h.conn === conn)) this.release(held);
    if (conn.platform) this.lastGone.set(conn.platform, Date.now());
    // Another run's main process is gone (ended or crashed): no room waits for what it planned.
    this.plans.delete(conn);
    this.schedule();
  }

  /** This process's plan for a new run (watch mode runs again): rooms and ended files of the last one are forgotten. */
  planLocal(files: Iterable<readonly [file: string, platforms: readonly string[]]>): void {
    this.ended.clear();
    for (const [key, room] of this.rooms) if (room.members.size === 0 && room.doneWaiters.length === 0) this.rooms.delete(key);
    const plan = new Map<string, readonly string[]>();
    for (const [file, platforms] of files) plan.set(file, [...platforms]);
    this.plans.set('local', plan);
    this.schedule();
  }
}
