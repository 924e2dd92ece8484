import { afterEach, describe, expect, it, vi } from 'vitest';
import type net from 'node:net';
import { TurnstileState, type Conn, type Settings } from '../../src/turnstile/rooms.js';
import { roundOrder } from '../../src/turnstile/round-order.js';

/*
 * The round barrier at the state level, on a controlled clock: a member that waited at a round's end
 * (rounds until decided) longer than the barrier still gets the barrier to ask for its next turn.
 */

afterEach(() => {
  vi.useRealTimers();
});

function conn(platform: string, sent: Record<string, unknown>[]): Conn {
  const socket = { writable: true, write: (line: string) => sent.push({ to: platform, ...JSON.parse(line) }) } as unknown as net.Socket;
  return { socket, authenticated: true, platform, members: new Map(), cpuSources: [] };
}

/** Settings for two platforms b and c compared with each other, rounds until decided on. */
function settings(roundSeed: number): Settings {
  return {
    gatherMs: 60_000,
    barrierMs: 10_000,
    settleMs: 0,
    stepsAtOnce: 1,
    finishOrderMs: 60_000,
    planners: 0,
    roundSeed,
    untilDecided: {
      plan: { within: 0.05, minRounds: 3, maxRounds: 6 },
      comparisons: [{ platform: 'b', against: 'c' }],
      budgetMs: 3_600_000,
    },
    log: () => {},
  };
}

const file = 'bench/cpu.bench.ts';
const room = `${file} > cpu`;

/**
 * Platforms b and c in one room, on a fake clock, with a seed under which b comes first in round 1;
 * act() hands the state a message and lets it schedule.
 */
function twoPlatforms(barrierMs: number) {
  vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  const roundSeed = [...Array(100).keys()].find((seed) => roundOrder(['b', 'c'], seed, 1)[0] === 'b')!;
  const lines: string[] = [];
  const state = new TurnstileState({ ...settings(roundSeed), barrierMs, log: (line) => lines.push(line) });
  const sent: Record<string, unknown>[] = [];
  const [b, c] = [conn('b', sent), conn('c', sent)];
  state.conns.add(b).add(c);
  state.planLocal([[file, ['b', 'c']]]);
  const act = (from: Conn, message: Record<string, unknown>) => {
    state.handle(from, message as never);
    state.schedule();
  };
  for (const x of [b, c]) act(x, { op: 'enter', room, file });
  act(b, { op: 'lock', id: 1, kind: 'turn', room });
  act(c, { op: 'lock', id: 1, kind: 'turn', room });
  return { state, sent, lines, b, c, act };
}

describe('the round barrier', () => {
  it("gives a member answered at the round's end the whole barrier to ask for its next turn", () => {
    const { state, sent, lines, b, c, act } = twoPlatforms(10_000);
    const granted = (platform: string) => sent.filter((m) => m.to === platform && typeof m.round === 'number').map((m) => m.round);
    // Round 0: whoever goes first returns its turn at once; c's sample takes 60 s; b has handed in and waits.
    const first = granted('b').length ? b : c;
    act(first, { op: 'release', id: 1 });
    act(first === b ? c : b, { op: 'release', id: 1 });
    const [early, late] = first === b ? [b, c] : [c, b];
    act(early, { op: 'more', id: 2, room, round: 0, value: 100 });
    vi.advanceTimersByTime(60_000);
    act(late, { op: 'release', id: 1 });
    act(late, { op: 'more', id: 2, room, round: 0, value: 97 });
    expect(sent.filter((m) => m.id === 2 && m.more === true)).toHaveLength(2);
    // c asks for its next turn at once; b a second later. b comes first in round 1: it is waited for, not passed over.
    act(c, { op: 'lock', id: 3, kind: 'turn', room });
    vi.advanceTimersByTime(1_000);
    act(b, { op: 'lock', id: 3, kind: 'turn', room });
    expect(lines.filter((l) => /went on without/.test(l))).toEqual([]);
    expect(granted('b')).toEqual([0, 1]);
    state.closed = true;
  });

  it('tells a pass-over also when a member after it in the order takes the turn', () => {
    const { state, sent, lines, b, c, act } = twoPlatforms(1_000);
    // Round 0: each gives its turn back as soon as it has it.
    for (const turn of [0, 1]) act(sent[turn]!.to === 'b' ? b : c, { op: 'release', id: 1 });
    // Round 1 (b first): c asks, b does not within the barrier.
    vi.advanceTimersByTime(5_000);
    act(c, { op: 'lock', id: 2, kind: 'turn', room });
    expect(sent).toContainEqual({ to: 'c', id: 2, round: 1 });
    expect(lines).toEqual([`${room}: round 1 went on without b, who did not ask for a turn within 1000 ms`]);
    state.closed = true;
  });
});
