import { randomInt } from 'node:crypto';
import { BadOptionError } from '../errors.js';

/*
 * The order of the platforms' turns within a round of a benchmark (see src/turnstile/rooms.ts). A rotation by
 * the round made each platform always follow the same one (native, docker, qemu: docker after native
 * in every round), so whatever a sample leaves behind (a warm cache, dirty pages, a CPU clocked up)
 * fell on the same platform every time and read as that platform's cost.
 *
 * Rounds go in pairs instead: the first of a pair takes a seeded random order, the second the reverse.
 * Who follows whom then changes at random from pair to pair, while within a pair every platform's mean
 * place is the middle, so an effect of the place in a round (a drift across it) cancels over two rounds,
 * where the rotation took as many rounds as platforms (with two platforms, each still goes first once
 * per pair, as with the rotation).
 */

/** VIRTBENCH_ROUND_SEED fixes the seed (to repeat a run's order); unset, each run draws its own. */
export const ROUND_SEED_ENV = 'VIRTBENCH_ROUND_SEED';

const MAX_SEED = 0xffff_ffff;

/** How a run ordered its rounds, as results.json records it. */
export interface RoundOrder {
  kind: 'random';
  seed: number;
}

/** lowbias32 (a splitmix-style finaliser): a bijection of 32 bits in which each input bit flips about half the output bits. */
function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** FNV-1a: a platform's name as 32 bits. */
function hashName(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}

/**
 * A platform's place in a pair of rounds, as a random 32-bit key. Keyed by name rather than shuffled as
 * a list, the order of any two platforms does not depend on who else is in the room or known yet.
 */
function orderKey(seed: number, pair: number, platform: string): number {
  const stream = mix32(mix32(seed) ^ Math.imul(pair + 1, 0x9e3779b9));
  return mix32(stream ^ hashName(platform));
}

/** The platforms in the order of their turns in this round: the same for the same seed, round and names. */
export function roundOrder(platforms: readonly string[], seed: number, round: number): string[] {
  const pair = Math.floor(round / 2);
  const keyed = platforms.map((platform) => ({ platform, key: orderKey(seed, pair, platform) }));
  // A tie of keys (one in 4 billion) falls back to the names, so that the order stays a pure function.
  keyed.sort((a, b) => a.key - b.key || (a.platform < b.platform ? -1 : a.platform > b.platform ? 1 : 0));
  const order = keyed.map((k) => k.platform);
  return round % 2 === 0 ? order : order.reverse();
}

/** A seed for a run that does not fix one. */
export function randomRoundSeed(): number {
  return randomInt(0, MAX_SEED + 1);
}

/** The seed VIRTBENCH_ROUND_SEED fixes, if any; a bad value is refused with the fix. */
export function roundSeedFromEnv(env: NodeJS.ProcessEnv): number | undefined {
  const text = env[ROUND_SEED_ENV]?.trim();
  if (!text) return undefined;
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_SEED) {
    throw new BadOptionError(
      `${ROUND_SEED_ENV}=${JSON.stringify(env[ROUND_SEED_ENV])} is not valid: it must be a whole number from 0 to ${MAX_SEED} ` +
        '(the seed of the order of turns in each round)\n' +
        `fix: set ${ROUND_SEED_ENV} to such a number (the roundSeed of a results.json repeats that run's order), or unset it for a random one`,
    );
  }
  return Number(text);
}

/** The round order as facts of the host section of results.json, which holds strings and numbers only; nothing when unknown. */
export function roundOrderFacts(order: RoundOrder | undefined): Record<string, string | number> {
  return order ? { roundOrder: order.kind, roundSeed: order.seed } : {};
}
