import { describe, expect, it } from 'vitest';
import { ratioToBaseline } from '../../src/statistics/ratio.js';
import { comparisonsOf, lookAfterRound, pairedHalfWidth, roundsNeeded, type DecisionPlan } from '../../src/statistics/until-decided.js';
import type { BenchmarkResult, StopReason } from '../../src/results/schema.js';
import { normal, seeded } from '../simulate.js';

const plan: DecisionPlan = { within: 0.05, minRounds: 3, maxRounds: 30 };

function result(platform: string, values: ReadonlyMap<number, number>, stoppedBy?: StopReason): BenchmarkResult {
  return {
    platform,
    benchmark: 'cpu',
    title: 'cpu',
    unit: 'kFLOPS',
    better: 'higher',
    status: 'passed',
    samples: [...values].map(([round, value]) => ({ time: round, value, seconds: 1, extra: { round } })),
    ...(stoppedBy ? { stoppedBy } : {}),
  };
}

/**
 * One run of two platforms under the rule: each round, the baseline's figure drifts (5 %) and the other's
 * is the baseline's times the true ratio, times its own noise (log-normal, `spread`). Returns what the
 * report says at the stop.
 */
function simulatedRun(random: () => number, trueRatio: number, spread: number, rule = plan) {
  const base = new Map<number, number>();
  const other = new Map<number, number>();
  let stop: StopReason | undefined;
  for (let round = 0; stop === undefined; round++) {
    const drifted = 100 * Math.exp(0.05 * normal(random));
    base.set(round, drifted);
    other.set(round, drifted * trueRatio * Math.exp(spread * normal(random)));
    const figures = new Map([
      ['native', base],
      ['docker', other],
    ]);
    stop = lookAfterRound(figures, [{ platform: 'docker', against: 'native' }], new Set(['native', 'docker']), rule, false).stops.get(
      'docker',
    );
  }
  const estimate = ratioToBaseline(result('docker', other, stop), result('native', base, stop))!;
  // The same stop, read as a report that ignored how the rounds were added would (95 %).
  const naive = ratioToBaseline(result('docker', other), result('native', base))!;
  return { estimate, naive, rounds: other.size, stop };
}

function simulate(seed: number, trueRatio: number, spread: number, runs: number, rule = plan) {
  const random = seeded(seed);
  let covered = 0;
  let different = 0;
  let equivalent = 0;
  let rounds = 0;
  let decided = 0;
  for (let i = 0; i < runs; i++) {
    const { estimate, rounds: taken, stop } = simulatedRun(random, trueRatio, spread, rule);
    const [lo, hi] = estimate.ci95!;
    if (lo <= trueRatio && trueRatio <= hi) covered++;
    if (estimate.verdict === 'different') different++;
    if (estimate.verdict === 'equivalent') equivalent++;
    if (stop === 'decided') decided++;
    rounds += taken;
  }
  return {
    coverage: covered / runs,
    different: different / runs,
    equivalent: equivalent / runs,
    decided: decided / runs,
    rounds: rounds / runs,
  };
}

describe('rounds until decided: the rule with known truth (seeded simulation)', () => {
  // 2000 runs a case: the coverage's own error is about 0.5 %.
  it.each([0.01, 0.03, 0.06, 0.1, 0.2])(
    'the interval reported at the stop covers the true ratio in at least 95 of 100 runs: per-round spread %s',
    (spread) => {
      const { coverage } = simulate(101, 0.9, spread, 2000);
      expect(coverage).toBeGreaterThanOrEqual(0.94);
    },
  );

  it('needs its 98 % level: stopping on the 95 % interval covers about 91 % where the spread is 6 %', () => {
    const random = seeded(102);
    let covered = 0;
    let coveredNaive = 0;
    for (let i = 0; i < 2000; i++) {
      const { estimate, naive } = simulatedRun(random, 1, 0.06);
      expect([estimate.level, naive.level]).toEqual([0.98, 0.95]);
      if (estimate.ci95![0] <= 1 && 1 <= estimate.ci95![1]) covered++;
      if (naive.ci95![0] <= 1 && 1 <= naive.ci95![1]) coveredNaive++;
    }
    expect(covered / 2000).toBeGreaterThanOrEqual(0.94);
    expect(coveredNaive / 2000).toBeLessThan(0.93);
  });

  it('false differences: with no difference, "different" at most about 5 % (spread 3 % and 8 %)', () => {
    expect(simulate(103, 1, 0.03, 2000).different).toBeLessThanOrEqual(0.06);
    expect(simulate(104, 1, 0.08, 2000).different).toBeLessThanOrEqual(0.06);
  });

  it('false "the same": a true 6 % difference reads ≈1x (within ±5 %) at most about 5 %', () => {
    expect(simulate(105, 0.94, 0.03, 2000).equivalent).toBeLessThanOrEqual(0.06);
    expect(simulate(106, 1.06, 0.06, 2000).equivalent).toBeLessThanOrEqual(0.06);
  });

  it('power and cost: a 10 % difference at 3 % spread is found in nearly every run, in few rounds; a steady pair stops at the minimum', () => {
    const clear = simulate(107, 0.9, 0.03, 1000);
    expect(clear.different).toBeGreaterThanOrEqual(0.99);
    expect(clear.rounds).toBeLessThan(6);
    const steady = simulate(108, 0.03, 0.002, 200);
    expect(steady.rounds).toBe(plan.minRounds);
    expect(steady.decided).toBe(1);
    // Equal platforms at 3 % spread are shown the same within ±5 % in most runs (74 % here); the rest say "cannot tell".
    expect(simulate(109, 1, 0.03, 1000).equivalent).toBeGreaterThanOrEqual(0.7);
  });

  it('a spread too wide for the precision ends at maxRounds, undecided, and says so', () => {
    const wide = simulate(110, 1, 0.3, 200, { ...plan, maxRounds: 8 });
    expect(wide.rounds).toBe(8);
    expect(wide.decided).toBe(0);
  });
});

describe('rounds until decided: who takes another round', () => {
  const rounds = (values: number[]) => new Map(values.map((v, i) => [i, v]));
  const steady = rounds([100, 101, 100, 99]);
  const noisy = rounds([100, 110, 92, 105]);

  it('the half-width is the same whichever side is the baseline, and needs two shared rounds', () => {
    const a = pairedHalfWidth(noisy, steady);
    const b = pairedHalfWidth(steady, noisy);
    expect(a.rounds).toBe(4);
    expect(a.halfWidth).toBeCloseTo(b.halfWidth!, 12);
    expect(pairedHalfWidth(rounds([1]), rounds([1])).halfWidth).toBeUndefined();
    expect(pairedHalfWidth(rounds([1, 2]), new Map([[5, 1]])).rounds).toBe(0);
  });

  it('a decided pair stops; the baseline goes on while another comparison is open; a platform in no comparison stops at the minimum', () => {
    const figures = new Map([
      ['native', steady],
      ['docker', steady],
      ['qemu-tcg', noisy],
      ['podman', noisy],
    ]);
    const look = lookAfterRound(
      figures,
      [
        { platform: 'docker', against: 'native' },
        { platform: 'qemu-tcg', against: 'native' },
      ],
      new Set(figures.keys()),
      plan,
      false,
    );
    expect(Object.fromEntries(look.stops)).toEqual({ native: undefined, docker: 'decided', 'qemu-tcg': undefined, podman: 'decided' });
    expect(look.comparisons.map((c) => c.decided)).toEqual([true, false]);
  });

  it('before minRounds nobody stops; at maxRounds or out of time an open pair stops with that reason', () => {
    const two = new Map([
      ['native', rounds([100, 150])],
      ['docker', rounds([100, 50])],
    ]);
    const pair = [{ platform: 'docker', against: 'native' }];
    expect([...lookAfterRound(two, pair, new Set(['native', 'docker']), plan, true).stops.values()]).toEqual([undefined, undefined]);
    const open = new Map([
      ['native', steady],
      ['docker', noisy],
    ]);
    expect(lookAfterRound(open, pair, new Set(open.keys()), plan, true).stops.get('docker')).toBe('budget');
    expect(lookAfterRound(open, pair, new Set(open.keys()), { ...plan, maxRounds: 4 }, false).stops.get('docker')).toBe('max-rounds');
  });

  it('a platform whose only open partner stops (or left) stops too, in the same look', () => {
    const figures = new Map([
      ['native', steady],
      ['docker', rounds([100, 104, 97, 102])],
      ['podman', rounds([130, 100, 95, 70, 90, 110])],
    ]);
    const pairs = [
      { platform: 'docker', against: 'native' },
      { platform: 'podman', against: 'docker' },
    ];
    // podman is at maxRounds 6: docker's pair with it ends; docker's pair with native is open and goes on.
    const look = lookAfterRound(figures, pairs, new Set(figures.keys()), { ...plan, maxRounds: 6 }, false);
    expect(look.stops.get('podman')).toBe('max-rounds');
    expect(look.stops.get('docker')).toBeUndefined();
    // native left (failed): docker's only open partner is gone.
    const left = lookAfterRound(figures, [pairs[0]!], new Set(['docker']), plan, false);
    expect(left.stops.get('docker')).toBe('partner-gone');
  });

  it('a comparison the budget cannot afford stops once its spread is known, leaving its rounds to the others', () => {
    const six = rounds([100, 110, 92, 105, 96, 108]);
    const pair = [{ platform: 'docker', against: 'native' }];
    const stopOf = (docker: Map<number, number>, native: Map<number, number>, affordable?: number) =>
      lookAfterRound(
        new Map([
          ['native', native],
          ['docker', docker],
        ]),
        pair,
        new Set(['native', 'docker']),
        plan,
        false,
        affordable,
      ).stops.get('docker');
    const steadySix = rounds([100, 100, 100, 100, 100, 100]);
    const needed = roundsNeeded(pairedHalfWidth(six, steadySix).halfWidth!, 6, 0.05, 45);
    expect(needed).toBeGreaterThan(6);
    expect(needed).toBeLessThan(30);
    // It needs `needed - 6` more rounds: affordable with a third of them again to spare, not with fewer.
    const enough = Math.ceil((needed - 6) / 1.5);
    expect(stopOf(six, steadySix)).toBeUndefined();
    expect(stopOf(six, steadySix, enough)).toBeUndefined();
    expect(stopOf(six, steadySix, enough - 1)).toBe('budget');
    // Before six rounds its spread is too rough to give up on, whatever the budget says (the deadline still ends it).
    expect(stopOf(noisy, steady, 0)).toBeUndefined();
    // A steady pair is decided whatever the budget.
    expect(stopOf(steady, steady, 0)).toBe('decided');
  });

  it('the comparisons of a benchmark: those naming it or all benchmarks, each pair once', () => {
    const planned = [
      { platform: 'docker', against: 'native', benchmarks: ['cpu', 'mem'] },
      { platform: 'native', against: 'docker' },
      { platform: 'docker-gvisor', against: 'docker', benchmarks: ['fork'] },
    ];
    expect(comparisonsOf('cpu', planned)).toEqual([planned[0]]);
    expect(comparisonsOf('fork', planned)).toEqual([planned[1], planned[2]]);
  });
});

describe('rounds until decided: platforms that never came', () => {
  it('a comparison with a platform that measured nothing of the benchmark (skipped, unavailable) holds nobody back', () => {
    const figures = new Map([
      ['native', new Map([0, 1, 2].map((r) => [r, 100]))],
      ['docker', new Map([0, 1, 2].map((r) => [r, 90]))],
    ]);
    const pairs = [
      { platform: 'docker', against: 'native' },
      { platform: 'docker-gvisor', against: 'docker' },
    ];
    const look = lookAfterRound(figures, pairs, new Set(['native', 'docker']), plan, false);
    expect(Object.fromEntries(look.stops)).toEqual({ native: 'decided', docker: 'decided' });
    expect(look.comparisons).toHaveLength(1);
  });
});
