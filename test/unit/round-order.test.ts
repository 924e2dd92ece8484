import { describe, expect, it } from 'vitest';
import { roundOrder, roundOrderFacts, roundSeedFromEnv } from '../../src/turnstile/round-order.js';
import { errorOf } from '../builders.js';

const PLATFORMS = ['native', 'docker', 'qemu-tcg', 'qemu-kvm', 'podman'];

/** How often each platform takes its turn right after each other one, within rounds 0..rounds-1. */
function followers(platforms: string[], seed: number, rounds: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let round = 0; round < rounds; round++) {
    const order = roundOrder(platforms, seed, round);
    for (let i = 1; i < order.length; i++) counts.set(`${order[i - 1]}>${order[i]}`, (counts.get(`${order[i - 1]}>${order[i]}`) ?? 0) + 1);
  }
  return counts;
}

describe('roundOrder', () => {
  it('gives every round a permutation of the platforms, the same for the same seed', () => {
    for (const n of [1, 2, 3, 5]) {
      const platforms = PLATFORMS.slice(0, n);
      for (let round = 0; round < 50; round++) {
        const order = roundOrder(platforms, 7, round);
        expect([...order].sort()).toEqual([...platforms].sort());
        expect(roundOrder(platforms, 7, round)).toEqual(order);
        // Nor does the order of the input matter.
        expect(roundOrder([...platforms].reverse(), 7, round)).toEqual(order);
      }
    }
    const rounds = (seed: number) => Array.from({ length: 20 }, (_, round) => roundOrder(PLATFORMS, seed, round).join());
    expect(rounds(1)).not.toEqual(rounds(2));
  });

  it('lets no platform always follow the same one (a rotation did, with three or more)', () => {
    for (const n of [3, 4, 5]) {
      const platforms = PLATFORMS.slice(0, n);
      for (const seed of [0, 1, 4_294_967_295]) {
        const counts = followers(platforms, seed, 200);
        // Every ordered pair occurs: each platform follows each other one, and is followed by it.
        expect(counts.size, `${n} platforms, seed ${seed}`).toBe(n * (n - 1));
      }
    }
  });

  it('draws the order of each pair of rounds uniformly: every first place about equally often', () => {
    const pairs = 3_000;
    const first = new Map<string, number>();
    for (let pair = 0; pair < pairs; pair++) {
      const platform = roundOrder(PLATFORMS.slice(0, 3), 42, 2 * pair)[0]!;
      first.set(platform, (first.get(platform) ?? 0) + 1);
    }
    // 1,000 expected each; the sd of a count is about 26.
    for (const count of first.values()) expect(Math.abs(count - pairs / 3)).toBeLessThan(120);
    expect(first.size).toBe(3);
  });

  it('reverses each even round in the next one: within a pair every platform sits in the middle on average', () => {
    for (let round = 0; round < 40; round += 2) {
      expect(roundOrder(PLATFORMS, 3, round + 1)).toEqual([...roundOrder(PLATFORMS, 3, round)].reverse());
    }
    // Two platforms: each goes first once per pair, as with the rotation.
    const [a, b] = [roundOrder(['native@base', 'native@head'], 9, 4), roundOrder(['native@base', 'native@head'], 9, 5)];
    expect(a[0]).not.toBe(b[0]);
  });

  it('orders any two platforms alike, whoever else is in the room', () => {
    for (let round = 0; round < 30; round++) {
      const all = roundOrder(PLATFORMS, 11, round);
      const some = roundOrder(['podman', 'native', 'qemu-kvm'], 11, round);
      expect(some).toEqual(all.filter((p) => some.includes(p)));
    }
  });
});

describe('the round seed', () => {
  it('comes from VIRTBENCH_ROUND_SEED, a whole number from 0 to 2^32 - 1; unset or empty: none', () => {
    expect(roundSeedFromEnv({})).toBeUndefined();
    expect(roundSeedFromEnv({ VIRTBENCH_ROUND_SEED: '' })).toBeUndefined();
    expect(roundSeedFromEnv({ VIRTBENCH_ROUND_SEED: '0' })).toBe(0);
    expect(roundSeedFromEnv({ VIRTBENCH_ROUND_SEED: ' 4294967295 ' })).toBe(4_294_967_295);
    for (const bad of ['-1', '1.5', '1e3', 'abc', '4294967296', '0x10']) {
      const error = errorOf(() => roundSeedFromEnv({ VIRTBENCH_ROUND_SEED: bad }));
      expect(error.code, bad).toBe('VIRTBENCH_BAD_OPTION');
      expect(error.message, bad).toMatch(/VIRTBENCH_ROUND_SEED=.* is not valid: it must be a whole number from 0 to 4294967295.*\nfix: /s);
    }
  });

  it('is recorded with the host facts of results.json, and nothing when the turnstile did not say', () => {
    expect(roundOrderFacts({ kind: 'random', seed: 12 })).toEqual({ roundOrder: 'random', roundSeed: 12 });
    expect(roundOrderFacts(undefined)).toEqual({});
  });
});
