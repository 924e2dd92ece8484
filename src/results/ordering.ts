import type { BenchmarkResult } from './schema.js';

/*
 * Where platforms and benchmarks go in tables. The reporter knows no platform
 * or benchmark by name: the plugin hands it the config's order, and a results
 * file keeps the order it was written in. Here rather than in src/reporters/:
 * the findings' default questions (questions.ts) and what a run resolved
 * (src/statistics/resolution.ts) need the baseline platform as the table has it.
 */

export interface ReportOrder {
  platforms: readonly string[];
  benchmarks: readonly string[];
}

/** The distinct names, those in `preferred` first in its order, the rest in the order first seen. */
export function orderBy(names: readonly string[], preferred: readonly string[] = []): string[] {
  const distinct = [...new Set(names)];
  const rank = (name: string) => {
    const index = preferred.indexOf(name);
    return index < 0 ? preferred.length + distinct.indexOf(name) : index;
  };
  return distinct.sort((a, b) => rank(a) - rank(b));
}

/** Rows by benchmark, then by platform, in the given order. */
export function sortResults(results: readonly BenchmarkResult[], order: Partial<ReportOrder> = {}): BenchmarkResult[] {
  const benchmarks = orderBy(
    results.map((r) => r.benchmark),
    order.benchmarks,
  );
  const platforms = orderBy(
    results.map((r) => r.platform),
    order.platforms,
  );
  return [...results].sort(
    (a, b) =>
      benchmarks.indexOf(a.benchmark) - benchmarks.indexOf(b.benchmark) || platforms.indexOf(a.platform) - platforms.indexOf(b.platform),
  );
}

/** What ratios are relative to: native (the host itself) when it ran, else the first platform. */
export function baselinePlatform(platforms: readonly string[]): string | undefined {
  return platforms.includes('native') ? 'native' : platforms[0];
}

/**
 * The columns of a comparison: platforms that ran at least one benchmark, in
 * the order of the (sorted) results. A platform skipped as a whole gets its
 * one line below the table instead of a column of "skipped" (unless nothing
 * ran at all).
 */
export function tablePlatforms(results: readonly BenchmarkResult[]): string[] {
  const all = orderBy(results.map((r) => r.platform));
  const ran = all.filter((p) => results.some((r) => r.platform === p && r.status !== 'skipped'));
  return ran.length > 0 ? ran : all;
}

/**
 * The result that speaks for a benchmark's row (its label, unit, direction): one with samples first.
 * A platform that skipped the benchmark before it knew the workload (a bench file's own, skipped by the
 * session) recorded only its name, with no unit.
 */
export function rowResult(results: readonly BenchmarkResult[], benchmark: string): BenchmarkResult | undefined {
  const rows = results.filter((r) => r.benchmark === benchmark);
  return rows.find((r) => r.samples.length > 0) ?? rows.find((r) => r.unit !== '') ?? rows[0];
}
