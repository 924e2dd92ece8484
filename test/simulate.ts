import type { BenchmarkResult, ResultsFile } from '../src/results/schema.js';
import { resultOf, resultsFileOf } from './builders.js';

/*
 * Seeded simulations with known truth, for the calibration suite: every statistical procedure is
 * run thousands of times on data whose true change is set here, and what it claims is counted.
 */

/** A seeded uniform generator (mulberry32): the same figures on every run. */
export function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal deviate (Box-Muller). */
export function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

/** A heavy-tailed deviate: Student's t with 3 degrees of freedom, scaled to unit variance. */
export function heavy(random: () => number): number {
  const chi = normal(random) ** 2 + normal(random) ** 2 + normal(random) ** 2;
  return normal(random) / Math.sqrt(chi / 3) / Math.sqrt(3);
}

export type Noise = (random: () => number) => number;

/** The benchmarks of a run, as in the default suite: 7 per platform. */
export const BENCHMARKS = ['cpu', 'mem', 'disk-random', 'disk-copyup', 'fork', 'fork-threads', 'nginx'];

export interface PairedOptions {
  platforms?: string[];
  /** Pairs per round (runs per benchmark in each run). */
  pairsPerRound: number;
  rounds: number;
  /** Relative noise of each sample (sd of its log); a pair's ratio then has sqrt(2) times that. */
  noise: number;
  /** True performance change of a row (+0.1: 10 % better), by "platform/benchmark"; others 0. */
  change?: Record<string, number>;
  /** The machine's drift per sample (both sides alike), relative. */
  drift?: number;
  shape?: Noise;
}

/**
 * Both sides of a paired A/B as `virtbench ab` pools them: every sample tagged with its run (round)
 * and its pair; each pair met the same drift. Values are in each benchmark's unit (seconds: lower is better).
 */
export function pairedAb(random: () => number, options: PairedOptions): { base: ResultsFile; head: ResultsFile } {
  const shape = options.shape ?? normal;
  const base: BenchmarkResult[] = [];
  const head: BenchmarkResult[] = [];
  for (const platform of options.platforms ?? ['native', 'docker']) {
    for (const benchmark of BENCHMARKS) {
      const b = resultOf(platform, benchmark, []);
      const h = resultOf(platform, benchmark, []);
      const change = options.change?.[`${platform}/${benchmark}`] ?? 0;
      // Performance up by `change`: a higher-is-better figure grows, a time shrinks.
      const factor = b.better === 'higher' ? 1 + change : 1 / (1 + change);
      let pair = 0;
      for (let run = 1; run <= options.rounds; run++) {
        for (let i = 0; i < options.pairsPerRound; i++) {
          pair++;
          const drift = Math.exp((options.drift ?? 0) * normal(random));
          const extra = { run, pair, round: pair };
          b.samples.push({ time: pair, value: 100 * drift * Math.exp(options.noise * shape(random)), seconds: 1, extra });
          h.samples.push({
            time: pair,
            value: 100 * factor * drift * Math.exp(options.noise * shape(random)),
            seconds: 1,
            extra: { ...extra },
          });
        }
      }
      base.push(b);
      head.push(h);
    }
  }
  return { base: resultsFileOf(base), head: resultsFileOf(head) };
}

/** The first `rounds` rounds of a pooled side. */
export function firstRounds(file: ResultsFile, rounds: number): ResultsFile {
  return {
    ...file,
    results: file.results.map((r) => ({ ...r, samples: r.samples.filter((s) => Number(s.extra.run) <= rounds) })),
  };
}
