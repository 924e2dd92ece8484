import type { BenchmarkResult, Sample } from './schema.js';

/*
 * Samples that belong together across two results: the same turnstile round of
 * one run, or the same pair of a paired A/B. Pooled files (an A/B side, a window
 * of history) also tag each sample with its run (`extra.run`); the statistics
 * take whole runs as units there (src/statistics/estimate.ts).
 */

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
