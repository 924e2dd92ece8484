import { questionsOf } from '../results/questions.js';
import type { BenchmarkResolution, BenchmarkResult, ComparisonResolution, ResultsFile } from '../results/schema.js';
import { ratioToBaseline } from './ratio.js';

/*
 * What a run resolved: per benchmark, how small a difference its comparisons can tell apart (the
 * relative half-width of each 95 % ratio interval, the widest of them for the benchmark), and what
 * that took (wall time, rounds). The comparisons are the findings' (questionsOf), each judged by
 * ratioToBaseline: the figures the table and the findings print, never an interval of its own.
 */

/** The precision a run is read against when it states none: an interval within ±5 % of its ratio. */
export const DEFAULT_RESOLUTION_TARGET = 0.05;

// The shapes are the results schema's (results.json stores them); they are decided here.
export type { BenchmarkResolution, ComparisonResolution };

/** Where a run states its precision (optional: findings are also made of bare results and questions). */
export type RunFacts = { environment?: Pick<ResultsFile['environment'], 'host'> };

/**
 * The run's precision: `environment.host.untilWithin` where the run stated one (a fraction: 0.05 is
 * ±5 %), else DEFAULT_RESOLUTION_TARGET.
 */
export function resolutionTarget(file: RunFacts): number {
  const stated = file.environment?.host?.untilWithin;
  const value = typeof stated === 'string' && stated.trim() !== '' ? Number(stated) : stated;
  return typeof value === 'number' && Number.isFinite(value) && value > 0 ? value : DEFAULT_RESOLUTION_TARGET;
}

/** The findings' comparisons by benchmark, each pair of platforms once (a against b and b against a have one interval width). */
function comparisonsByBenchmark(file: Pick<ResultsFile, 'results' | 'questions'>): Map<string, { platform: string; against: string }[]> {
  const byBenchmark = new Map<string, { platform: string; against: string }[]>();
  const seen = new Set<string>();
  for (const { comparisons } of questionsOf(file)) {
    for (const { platform, against, benchmarks } of comparisons) {
      if (platform === against) continue;
      for (const benchmark of benchmarks) {
        const key = JSON.stringify([benchmark, ...[platform, against].sort()]);
        if (seen.has(key)) continue;
        seen.add(key);
        byBenchmark.set(benchmark, [...(byBenchmark.get(benchmark) ?? []), { platform, against }]);
      }
    }
  }
  return byBenchmark;
}

const measured = (result: BenchmarkResult | undefined): result is BenchmarkResult =>
  result !== undefined && result.status === 'passed' && result.samples.length > 0;

function comparisonResolution(result: BenchmarkResult, against: BenchmarkResult, target: number): ComparisonResolution | undefined {
  const estimate = ratioToBaseline(result, against);
  if (!estimate) return undefined;
  const { ratio, ci95, verdict } = estimate;
  const halfWidth = ci95 ? (ci95[1] - ci95[0]) / (2 * ratio) : undefined;
  return {
    platform: result.platform,
    against: against.platform,
    ratio,
    ...(ci95 ? { ci95, halfWidth } : {}),
    verdict,
    decided: (halfWidth !== undefined && halfWidth <= target) || verdict === 'equivalent',
  };
}

/** Rounds a result took: its distinct rounds, or its samples where they carry none (a fixed count of runs). */
function roundsOf(result: BenchmarkResult): number {
  const rounds = new Set(result.samples.flatMap((s) => (s.extra.round === undefined ? [] : [s.extra.round])));
  return rounds.size > 0 ? rounds.size : result.samples.length;
}

/** From the start of the first sample to the end of the last, over the results; 0 without samples. */
function wallSeconds(results: readonly BenchmarkResult[]): number {
  let start = Infinity;
  let end = -Infinity;
  for (const { samples } of results) {
    for (const { time, seconds } of samples) {
      start = Math.min(start, time - seconds);
      end = Math.max(end, time);
    }
  }
  return end >= start ? end - start : 0;
}

/**
 * Per benchmark that was sampled, in the order of the results: its comparisons (where both results
 * passed with samples) with their intervals and whether each reached `target` (default: the run's,
 * resolutionTarget), the widest half-width, the wall time and the most rounds.
 */
export function runResolution(file: Pick<ResultsFile, 'results' | 'questions'> & RunFacts, target?: number): BenchmarkResolution[] {
  const within = target ?? resolutionTarget(file);
  const byCell = new Map(file.results.map((r) => [JSON.stringify([r.platform, r.benchmark]), r]));
  const find = (platform: string, benchmark: string) => byCell.get(JSON.stringify([platform, benchmark]));
  const planned = comparisonsByBenchmark(file);
  const benchmarks = [...new Set(file.results.filter((r) => r.samples.length > 0).map((r) => r.benchmark))];
  return benchmarks.map((benchmark) => {
    const results = file.results.filter((r) => r.benchmark === benchmark);
    const comparisons = (planned.get(benchmark) ?? []).flatMap(({ platform, against }) => {
      const result = find(platform, benchmark);
      const base = find(against, benchmark);
      const resolved = measured(result) && measured(base) ? comparisonResolution(result, base, within) : undefined;
      return resolved ? [resolved] : [];
    });
    const widths = comparisons.flatMap((c) => (c.halfWidth === undefined ? [] : [c.halfWidth]));
    return {
      benchmark,
      ...(widths.length > 0 ? { halfWidth: Math.max(...widths) } : {}),
      comparisons,
      seconds: wallSeconds(results),
      rounds: Math.max(0, ...results.map(roundsOf)),
    };
  });
}
