/** Where platforms and benchmarks go in tables: the order a reader expects. */

import type { BenchmarkResult } from '../results/results-file.js';

const PREFERRED_ORDER = ['native', 'docker', 'qemu-kvm', 'qemu-tcg', 'unikernel'];

/** native first, then the order a reader expects, variants after their platform. */
export function orderPlatforms(names: string[]): string[] {
  const rank = (name: string) => {
    const index = PREFERRED_ORDER.findIndex((p) => name === p || name.startsWith(`${p}-`));
    return index < 0 ? PREFERRED_ORDER.length : index;
  };
  return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}

const BENCHMARK_ORDER = ['cpu', 'mem', 'disk-random', 'disk-copyup', 'fork', 'fork-threads', 'nginx'];

export function sortResults(results: BenchmarkResult[], platforms: string[]): BenchmarkResult[] {
  const benchRank = (name: string) => {
    const index = BENCHMARK_ORDER.indexOf(name);
    return index < 0 ? BENCHMARK_ORDER.length : index;
  };
  return [...results].sort(
    (a, b) =>
      benchRank(a.benchmark) - benchRank(b.benchmark) ||
      a.benchmark.localeCompare(b.benchmark) ||
      platforms.indexOf(a.platform) - platforms.indexOf(b.platform),
  );
}

/** What ratios are relative to: native when it ran, else the first platform. */
export function baselinePlatform(platforms: readonly string[]): string | undefined {
  return platforms.includes('native') ? 'native' : platforms[0];
}

/**
 * The columns of a comparison: platforms that ran at least one benchmark, in
 * reading order. A platform skipped as a whole gets its one line below the
 * table instead of a column of "skipped" (unless nothing ran at all).
 */
export function tablePlatforms(results: readonly BenchmarkResult[]): string[] {
  const all = orderPlatforms(results.map((r) => r.platform));
  const ran = all.filter((p) => results.some((r) => r.platform === p && r.status !== 'skipped'));
  return ran.length > 0 ? ran : all;
}
