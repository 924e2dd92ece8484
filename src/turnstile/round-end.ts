import type { StopReason } from '../results/schema.js';
import { comparisonsOf, lookAfterRound } from '../statistics/until-decided.js';
import type { Member, Room, Settings, UntilDecided } from './room-types.js';
import { roundOrder } from './round-order.js';

/**
 * Rounds until decided, at a room's round end: once every member still sampling has had its turn in
 * the round (and given it back, and handed in its figure), each member that asked hears whether it takes another round
 * (src/statistics/until-decided.ts decides). A member told to stop is marked so: no round waits for it.
 * Returns nothing while the round is still going.
 */
export function roundEnd(
  room: Room,
  until: UntilDecided,
  now: number,
  log: (line: string) => void,
): { member: Member; id: number; stop?: StopReason }[] {
  const sampling = [...room.members.values()].filter((m) => m.joined && !m.stopped);
  // Over once everyone has had a turn in it (or been passed over), and each who had one has handed in its figure.
  const handedIn = new Set(room.moreWaiters.map((w) => w.member));
  if (sampling.some((m) => !m.served || (m.turnRound === room.round && !handedIn.has(m)))) return [];
  const test = room.key.slice(room.file.length + ' > '.length);
  const look = lookAfterRound(
    room.figures,
    comparisonsOf(test, until.comparisons),
    new Set(sampling.map((m) => m.platform)),
    until.plan,
    now >= (room.deadline ?? Infinity),
    affordableRounds(room, now),
  );
  return room.moreWaiters.splice(0).map(({ member, id }) => {
    const stop = look.stops.get(member.platform);
    if (!stop) return { member, id };
    member.stopped = true;
    const widths = look.comparisons
      .filter((c) => c.platform === member.platform || c.against === member.platform)
      .map((c) => `${c.platform}/${c.against} ±${c.halfWidth === undefined ? '?' : (c.halfWidth * 100).toFixed(1)} %`);
    const rounds = room.figures.get(member.platform)?.size ?? 0;
    log(`${room.key}: ${member.platform} stops after ${rounds} rounds (${stop}${widths.length ? `: ${widths.join(', ')}` : ''})`);
    return { member, id, stop };
  });
}

/** How many more rounds the room's share of the budget affords, at the time its rounds have taken so far (all its members'). */
function affordableRounds(room: Room, now: number): number | undefined {
  if (room.deadline === undefined || room.startedAt === undefined) return undefined;
  const roundMs = (now - room.startedAt) / (room.round + 1);
  return roundMs > 0 ? Math.max(0, Math.floor((room.deadline - now) / roundMs)) : undefined;
}

/** The member whose turn it is in a started room, or when to look again; the round barrier passes over a member slow to ask. */
export function nextTurn(room: Room, now: number, settings: Settings): { member?: Member; wakeAt: number } {
  const { barrierMs } = settings;
  const active = [...room.members.values()].filter((m) => m.joined && !m.stopped);
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
      settings.roundSeed,
      room.round,
    );
    unserved.sort((a, b) => order.indexOf(a.platform) - order.indexOf(b.platform));
    const passedOver: string[] = [];
    // Every pass-over is told, also when a member after it in the order takes the turn.
    const told = <T>(next: T): T => {
      if (passedOver.length > 0) {
        settings.log(
          `${room.key}: round ${room.round} went on without ${passedOver.join(', ')}, who did not ask for a turn within ${barrierMs} ms`,
        );
      }
      return next;
    };
    for (const member of unserved) {
      if (member.turn !== undefined) return told({ member, wakeAt: Infinity });
      // Round barrier: a member between two samples gets barrierMs to ask for its turn in this round.
      if (now - member.since < barrierMs) return told({ wakeAt: member.since + barrierMs });
      member.served = true;
      passedOver.push(member.platform);
    }
    told(undefined);
  }
  return { wakeAt: Infinity };
}
