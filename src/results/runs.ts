import type { BenchmarkResult, Sample } from './schema.js';
import { median } from '../statistics/descriptive.js';

/*
 * Pooled results files (an A/B side, a window of history) hold the samples of
 * several separate runs, each tagged `extra.run`. Runs of the same code differ
 * by more than their samples do (a fresh process, a fresh container, a machine
 * that is busier in one minute than the next), so a change between two sides
 * is only believable when it is larger than the difference between runs of
 * the same side: that difference is the comparison's noise floor.
 */

/** The median of each run's samples, in run order; empty when the samples carry no run tag. */
export function runMedians(samples: readonly Sample[]): number[] {
  const byRun = new Map<string | number, number[]>();
  for (const sample of samples) {
    const run = sample.extra.run;
    if (run === undefined) return [];
    byRun.set(run, [...(byRun.get(run) ?? []), sample.value]);
  }
  return [...byRun.values()].map((values) => median(values));
}

/**
 * How far apart runs of the same code were: the largest run median over the
 * smallest, minus one (0.08 = runs differed by 8 %); undefined with fewer than two runs.
 */
export function runSpread(samples: readonly Sample[]): number | undefined {
  const medians = runMedians(samples);
  if (medians.length < 2) return undefined;
  const low = Math.min(...medians);
  const high = Math.max(...medians);
  return low > 0 ? high / low - 1 : Number.POSITIVE_INFINITY;
}

/**
 * The samples of two results taken together, by a tag both carry (`round`: the same turnstile round of
 * one run; `pair`: the same pair of a paired A/B), as [baseline sample, result sample].
 */
export function samplesPairedBy(tag: 'round' | 'pair', baseline: BenchmarkResult, result: BenchmarkResult): [Sample, Sample][] {
  const byTag = new Map(baseline.samples.filter((s) => s.extra[tag] !== undefined).map((s) => [s.extra[tag], s]));
  return result.samples.flatMap((s) => {
    const partner = s.extra[tag] === undefined ? undefined : byTag.get(s.extra[tag]);
    return partner ? [[partner, s] as [Sample, Sample]] : [];
  });
}
