import { describe, expect, it } from 'vitest';
import { compareResults, gateFails } from '../../src/statistics/compare.js';
import { driftWarnings } from '../../src/statistics/drift.js';
import { ratioToBaseline } from '../../src/statistics/ratio.js';
import { openRows, sequentialLook, type SequentialPlan } from '../../src/statistics/sequential.js';
import type { Comparison } from '../../src/statistics/compare.js';
import type { ResultsFile } from '../../src/results/schema.js';
import { resultOf, resultsFileOf } from '../builders.js';
import { BENCHMARKS, firstRounds, heavy, normal, pairedAb, seeded, type Noise } from '../simulate.js';

/*
 * The calibration suite: each statistical procedure run thousands of times on simulated data whose
 * truth is known, counting what it claims. Seeded, so every figure is the same on every run; the
 * figures go to docs/statistics.md. `VIRTBENCH_CALIBRATION_REPORT=1 npx vitest run --project unit
 * test/unit/calibration.test.ts` prints them.
 */

const report = (line: string) => {
  if (process.env.VIRTBENCH_CALIBRATION_REPORT === '1') console.log(`calibration: ${line}`);
};
const percent = (x: number) => `${(100 * x).toFixed(1)}%`;

/** How many of `trials` runs of a seeded trial came out true. */
const count = (trials: number, trial: () => boolean) => Array.from({ length: trials }, trial).filter(Boolean).length;

/** One platform's cell against native over n rounds; the truth is `ratio` (performance, > 1 better). */
function cellTrial(random: () => number, n: number, ratio: number, noise: Noise) {
  const native = resultOf('native', 'cpu', []);
  const docker = resultOf('docker', 'cpu', []);
  for (let round = 0; round < n; round++) {
    // The machine moves between rounds (20 %), both platforms alike; each sample has 5 % noise of its own.
    const machine = Math.exp(0.2 * normal(random));
    native.samples.push({ time: round, value: 1e6 * machine * Math.exp(0.05 * noise(random)), seconds: 1, extra: { round } });
    docker.samples.push({ time: round, value: ratio * 1e6 * machine * Math.exp(0.05 * noise(random)), seconds: 1, extra: { round } });
  }
  return ratioToBaseline(docker, native)!;
}

describe('calibration: the 95 % interval of a cell covers the true ratio 95 % of the time', () => {
  const TRIALS = 4000;
  it.each([2, 3, 5, 8, 12, 30])('at %i rounds (normal noise: 94-97 %; heavy tails: at least 94 %)', (n) => {
    for (const [name, noise, low, high] of [
      ['normal', normal, 0.94, 0.97],
      ['heavy-tailed (t3)', heavy, 0.94, 1],
    ] as const) {
      const random = seeded(1000 + n);
      let covered = 0;
      let claimed = 0;
      for (let i = 0; i < TRIALS; i++) {
        const truth = 0.9;
        const cell = cellTrial(random, n, truth, noise);
        if (cell.ci95![0] <= truth && truth <= cell.ci95![1]) covered++;
        // The same trial as an A/A: a cell that claims a difference where there is none.
        if (cellTrial(random, n, 1, noise).verdict === 'different') claimed++;
      }
      report(
        `cell interval, ${n} rounds, ${name} noise: coverage ${percent(covered / TRIALS)}, A/A cells claiming a difference ${percent(claimed / TRIALS)}`,
      );
      expect(covered / TRIALS).toBeGreaterThanOrEqual(low);
      expect(covered / TRIALS).toBeLessThanOrEqual(high);
      expect(claimed / TRIALS).toBeLessThanOrEqual(0.06);
    }
  });

  it('reads ≈1x only where the same is shown: a true 8 % difference reads ≈1x in under 5 % of cells', () => {
    const random = seeded(77);
    const equivalent = count(TRIALS, () => cellTrial(random, 5, 0.92, normal).verdict === 'equivalent');
    report(`cell, 5 rounds, true ratio 0.92: read as ≈1x in ${percent(equivalent / TRIALS)}`);
    expect(equivalent / TRIALS).toBeLessThan(0.05);
  });
});

describe('calibration: the gate', () => {
  const A_A = 1000;

  for (const [name, shape] of [
    ['normal', normal],
    ['heavy-tailed (t3)', heavy],
  ] as const) {
    it(`fails at most 1 % of A/A comparisons of 14 rows, 2 rounds of 6 pairs, 3 % pair noise (${name})`, () => {
      const random = seeded(name.length);
      const alarms = count(A_A, () => {
        const { base, head } = pairedAb(random, { pairsPerRound: 6, rounds: 2, noise: 0.03 / Math.SQRT2, drift: 0.1, shape });
        return gateFails(compareResults(base, head));
      });
      report(`gate, paired A/A (${name}), 14 rows x 12 pairs: ${alarms} false alarms in ${A_A}`);
      expect(alarms / A_A).toBeLessThanOrEqual(0.01);
    });
  }

  it('fails at most 1 % of A/A comparisons by runs: 2 runs a side, 1 % within and 3 % between runs', () => {
    const random = seeded(11);
    const side = () => resultsOfRuns(random, { runs: 2, samples: 5, between: 0.03, within: 0.01 });
    const alarms = count(A_A, () => gateFails(compareResults(side(), side())));
    report(`gate, A/A by runs (2 vs 2 runs of 5 samples, 1 % within, 3 % between): ${alarms} false alarms in ${A_A}`);
    expect(alarms / A_A).toBeLessThanOrEqual(0.01);
  });

  it('catches a 10 % regression with 3 % pair noise in at least 80 % of comparisons at 2 rounds of 6 pairs', () => {
    const random = seeded(5);
    const TRIALS = 500;
    const caught = count(TRIALS, () => {
      const { base, head } = pairedAb(random, { pairsPerRound: 6, rounds: 2, noise: 0.03 / Math.SQRT2, change: { 'native/mem': -0.1 } });
      const mem = compareResults(base, head).find((c) => c.platform === 'native' && c.benchmark === 'mem')!;
      return mem.verdict === 'regressed' && mem.failsGate;
    });
    report(`gate power, 10 % regression, 3 % pair noise, 12 pairs, 14 rows: caught ${caught} of ${TRIALS}`);
    expect(caught / TRIALS).toBeGreaterThanOrEqual(0.8);
  });

  it('calls a change exactly at the threshold "equivalent" in about 5 % of rows (the nominal rate; at most 6 %)', () => {
    const random = seeded(6);
    const TRIALS = 4000;
    const equivalent = count(TRIALS, () => {
      const { base, head } = pairedAb(random, {
        platforms: ['native'],
        pairsPerRound: 6,
        rounds: 2,
        noise: 0.02,
        change: { 'native/mem': -0.05 },
      });
      return compareResults(base, head).find((c) => c.benchmark === 'mem')!.verdict === 'equivalent';
    });
    report(`gate, a change of exactly -5 % (the threshold): called equivalent in ${equivalent} of ${TRIALS}`);
    expect(equivalent / TRIALS).toBeLessThanOrEqual(0.06);
  });
});

describe('calibration: one run a side with a stated noise floor (compare --noise-floor)', () => {
  // Runs of the same code differ by 3 % (between) and their samples by 1 % (within); the floor states 3 %.
  const oneRun = (random: () => number) => resultsOfRuns(random, { runs: 1, samples: 5, between: 0.03, within: 0.01 });

  it('fails at most 1 % of A/A comparisons of 7 rows when the floor is the true spread', () => {
    const random = seeded(41);
    const alarms = count(1000, () => gateFails(compareResults(oneRun(random), oneRun(random), { noiseFloor: 0.03 })));
    report(`gate, one run a side, noise floor 3 % = the true spread: ${alarms} false alarms in 1000`);
    expect(alarms / 1000).toBeLessThanOrEqual(0.01);
  });

  it('catches a 20 % regression in at least 80 % of comparisons', () => {
    const random = seeded(42);
    const caught = count(500, () => {
      const slower = oneRun(random);
      for (const sample of slower.results.find((r) => r.benchmark === 'mem')!.samples) sample.value *= 1.2; // seconds: 20 % slower
      return compareResults(oneRun(random), slower, { noiseFloor: 0.03 }).find((c) => c.benchmark === 'mem')!.verdict === 'regressed';
    });
    report(`gate, one run a side, noise floor 3 %, a 20 % regression: caught ${caught} of 500`);
    expect(caught / 500).toBeGreaterThanOrEqual(0.8);
  });
});

describe('calibration: a cell without rounds (a merged file of two machines): samples as units', () => {
  it('covers the true ratio 94-97 % of the time at 5 samples a side (10,000 trials)', () => {
    const random = seeded(43);
    const covered = count(10_000, () => {
      const native = resultOf(
        'native',
        'cpu',
        Array.from({ length: 5 }, () => 1e6 * Math.exp(0.05 * normal(random))),
      );
      const docker = resultOf(
        'docker',
        'cpu',
        Array.from({ length: 5 }, () => 0.9e6 * Math.exp(0.05 * normal(random))),
      );
      const ci = ratioToBaseline(docker, native)!.ci95!;
      return ci[0] <= 0.9 && 0.9 <= ci[1];
    });
    report(`cell without rounds, 5 samples a side: coverage ${percent(covered / 10_000)}`);
    expect(covered / 10_000).toBeGreaterThanOrEqual(0.94);
    expect(covered / 10_000).toBeLessThanOrEqual(0.97);
  });
});

describe('calibration: the sequential A/B (virtbench ab: 2 to 6 rounds of 6 pairs)', () => {
  const plan: SequentialPlan = { minRounds: 2, maxRounds: 6 };

  /** Runs the looks as `virtbench ab` does; the rounds it took and its verdicts. */
  function sequentialTrial(random: () => number, change: Record<string, number>, noise: number) {
    const { base, head } = pairedAb(random, { pairsPerRound: 6, rounds: plan.maxRounds, noise: noise / Math.SQRT2, drift: 0.1, change });
    let judged: Comparison[] = [];
    for (let round = plan.minRounds; round <= plan.maxRounds; round++) {
      const look = sequentialLook(plan, {}, firstRounds(base, round), firstRounds(head, round), round, judged);
      judged = look.comparisons;
      if (look.done) return { rounds: round, comparisons: judged };
    }
    return { rounds: plan.maxRounds, comparisons: judged };
  }

  it('fails at most 1 % of A/A comparisons although it looks after every round', () => {
    const random = seeded(21);
    const TRIALS = 1000;
    let alarms = 0;
    let rounds = 0;
    let undecided = 0;
    for (let i = 0; i < TRIALS; i++) {
      const trial = sequentialTrial(random, {}, 0.03);
      if (gateFails(trial.comparisons)) alarms++;
      rounds += trial.rounds;
      undecided += openRows(trial.comparisons).length;
    }
    report(
      `sequential A/A, 14 rows, 3 % pair noise: ${alarms} false alarms in ${TRIALS}, mean ${(rounds / TRIALS).toFixed(2)} rounds, ` +
        `${(undecided / TRIALS).toFixed(2)} rows of 14 left undecided`,
    );
    expect(alarms / TRIALS).toBeLessThanOrEqual(0.01);
  });

  it('catches a 10 % regression with 3 % pair noise in at least 80 % of A/Bs within the default budget', () => {
    const random = seeded(22);
    const TRIALS = 500;
    let caught = 0;
    let rounds = 0;
    for (let i = 0; i < TRIALS; i++) {
      const trial = sequentialTrial(random, { 'native/cpu': -0.1 }, 0.03);
      if (trial.comparisons.some((c) => c.platform === 'native' && c.benchmark === 'cpu' && c.verdict === 'regressed' && c.failsGate))
        caught++;
      rounds += trial.rounds;
    }
    report(`sequential A/B, 10 % regression, 3 % pair noise: caught ${caught} of ${TRIALS}, mean ${(rounds / TRIALS).toFixed(2)} rounds`);
    expect(caught / TRIALS).toBeGreaterThanOrEqual(0.8);
  });
});

describe('calibration: "the host moved"', () => {
  it('warns on at most 5 % of stationary runs (5 rounds, 7 benchmarks, 5 % noise), and on a 15 % slide', () => {
    const random = seeded(31);
    const TRIALS = 1000;
    const run = (slide: number) =>
      BENCHMARKS.map((benchmark) =>
        resultOf(
          'native',
          benchmark,
          Array.from({ length: 5 }, (_, i) => 100 * (1 - (slide * i) / 4) * Math.exp(0.05 * normal(random))),
        ),
      );
    let stationary = 0;
    let sliding = 0;
    for (let i = 0; i < TRIALS; i++) {
      if (driftWarnings(run(0), 'native').length > 0) stationary++;
      if (driftWarnings(run(0.15), 'native').length > 0) sliding++;
    }
    report(`drift warnings: ${percent(stationary / TRIALS)} of stationary runs, ${percent(sliding / TRIALS)} of runs sliding 15 %`);
    expect(stationary / TRIALS).toBeLessThanOrEqual(0.05);
    expect(sliding / TRIALS).toBeGreaterThanOrEqual(0.5);
  });
});

/** One side of a comparison by runs: each run has its own level (between), each sample its own noise (within). */
function resultsOfRuns(random: () => number, o: { runs: number; samples: number; between: number; within: number }): ResultsFile {
  const results = BENCHMARKS.map((benchmark) => {
    const result = resultOf('native', benchmark, []);
    for (let run = 1; run <= o.runs; run++) {
      const level = Math.exp(o.between * normal(random));
      for (let i = 0; i < o.samples; i++) {
        result.samples.push({ time: run * 100 + i, value: 100 * level * Math.exp(o.within * normal(random)), seconds: 1, extra: { run } });
      }
    }
    return result;
  });
  return resultsFileOf(results);
}
