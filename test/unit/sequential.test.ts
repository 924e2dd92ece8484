import { describe, expect, it } from 'vitest';
import { lookCount, lookErrors, openRows, sequentialLook } from '../../src/statistics/sequential.js';
import { firstRounds, pairedAb, seeded } from '../simulate.js';

describe('the sequential A/B', () => {
  it('spends alpha / looks at each look: one look with --rounds, five from 2 to 6 rounds', () => {
    expect(lookCount({ minRounds: 2, maxRounds: 2 })).toBe(1);
    expect(lookErrors({ minRounds: 2, maxRounds: 2 }, {})).toEqual({ alpha: 0.01, equivalenceAlpha: 0.05 });
    expect(lookCount({ minRounds: 2, maxRounds: 6 })).toBe(5);
    const { alpha, equivalenceAlpha } = lookErrors({ minRounds: 2, maxRounds: 6 }, { alpha: 0.02 });
    expect(alpha).toBeCloseTo(0.004, 12);
    expect(equivalenceAlpha).toBeCloseTo(0.01, 12);
  });

  it('keeps the verdict of the look that decided a row, and judges the open rows anew', () => {
    const plan = { minRounds: 2, maxRounds: 6 };
    const { base, head } = pairedAb(seeded(3), { pairsPerRound: 6, rounds: 4, noise: 0.02, change: { 'native/cpu': -0.2 } });
    const first = sequentialLook(plan, {}, firstRounds(base, 2), firstRounds(head, 2), 2);
    const cpu = first.comparisons.find((c) => c.platform === 'native' && c.benchmark === 'cpu')!;
    expect(cpu).toMatchObject({ verdict: 'regressed', failsGate: true, decidedAtRound: 2 });
    // Whatever round 4 says, the row decided at round 2 is that row, unchanged.
    const later = sequentialLook(plan, {}, firstRounds(base, 4), firstRounds(head, 4), 4, first.comparisons);
    expect(later.comparisons.find((c) => c.platform === 'native' && c.benchmark === 'cpu')).toBe(cpu);
    expect(later.done).toBe(openRows(later.comparisons).length === 0);
  });

  it('judges a row that failed since anew: a failure is no question of statistics', () => {
    const plan = { minRounds: 2, maxRounds: 6 };
    const { base, head } = pairedAb(seeded(4), { platforms: ['native'], pairsPerRound: 6, rounds: 3, noise: 0.01 });
    const first = sequentialLook(plan, {}, firstRounds(base, 2), firstRounds(head, 2), 2);
    const broken = firstRounds(head, 3);
    broken.results[0] = { ...broken.results[0]!, status: 'failed', error: 'boom' };
    const later = sequentialLook(plan, {}, firstRounds(base, 3), broken, 3, first.comparisons);
    expect(later.comparisons[0]).toMatchObject({ failsGate: true });
  });
});
