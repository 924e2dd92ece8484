import type net from 'node:net';
import type { CpuSource } from '../host/cpu-time.js';
import type { DecisionPlan, PlannedComparison } from '../statistics/until-decided.js';
import type { LockKind } from './protocol.js';

/* The records of a turnstile's state (rooms.ts): its connections, their rooms and members, and its locks. */

/** A granted turn: in which round of its room. */
export interface Grant {
  platform: string;
  room: string;
  round: number;
  /** Date.now() when granted. */
  at: number;
}

/** A turnstile's settings: TurnstileOptions (server.ts), defaults applied. */
export interface Settings {
  gatherMs: number;
  barrierMs: number;
  settleMs: number;
  stepsAtOnce: number;
  finishOrderMs: number;
  planners: number;
  roundSeed: number;
  /** Rounds until decided (see src/statistics/until-decided.ts); absent: each platform takes its own count. */
  untilDecided?: UntilDecided;
  log: (line: string) => void;
}

/** Rounds until the findings' comparisons are decided, within a time budget for the whole run. */
export interface UntilDecided {
  plan: DecisionPlan;
  comparisons: readonly PlannedComparison[];
  /**
   * Rounds beyond the minimum stop once the run's sampling has taken this long. It is spent as the
   * rooms go: the k-th of n planned benchmarks adds rounds until k/n of it has gone, so that a
   * benchmark decided early leaves its share to the later ones.
   */
  budgetMs: number;
}

export interface Conn {
  readonly socket: net.Socket;
  /** Presented the secret: until then, any other message ends the connection. */
  authenticated: boolean;
  platform: string;
  readonly members: Map<string, Member>;
  /** Where this platform's processes' CPU time can be read (op 'sources'). */
  cpuSources: CpuSource[];
}

export interface Member {
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
  /** Told to take no more rounds (rounds until decided): no round waits for it. */
  stopped?: boolean;
  /** The round of its last turn: at that round's end, its figure is waited for. */
  turnRound?: number;
}

export interface Room {
  readonly key: string;
  readonly file: string;
  readonly firstEnter: number;
  started: boolean;
  round: number;
  readonly members: Map<Conn, Member>;
  readonly doneWaiters: { conn: Conn; id: number }[];
  /** Platforms that said they do not run this benchmark, or are done with it. */
  readonly settled: Set<string>;
  /** Rounds until decided: each platform's figure per round, and the members waiting for the round's end. */
  readonly figures: Map<string, Map<number, number>>;
  readonly moreWaiters: { member: Member; id: number; round: number }[];
  /** Rounds beyond the minimum stop after this time (Date.now()), set when the room starts. */
  deadline?: number;
  /** When the room started (Date.now()): the time its rounds take so far says how many more the budget affords. */
  startedAt?: number;
}

export interface Lock {
  conn: Conn;
  id: number;
  kind: LockKind;
  room?: string;
  member?: Member;
}
