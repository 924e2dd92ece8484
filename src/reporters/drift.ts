import type { BenchmarkResult } from '../results/schema.js';
import { median } from '../results/statistics.js';
import { formatPercent, ratioToBaseline } from './table.js';

/*
 * Whether the host itself moved during the run by more than the differences
 * the report states. The baseline platform's runs, in time order, are the
 * yardstick: when its later runs differ from its earlier ones by more than a
 * difference between platforms, that difference may be the machine's drift.
 */

/** Relative change of the median from the earlier to the later half of the runs (by time); undefined below 4 runs. */
export function drift(result: BenchmarkResult): number | undefined {
  if (result.samples.length < 4) return undefined;
  const values = [...result.samples].sort((a, b) => a.time - b.time).map((s) => s.value);
  const half = Math.floor(values.length / 2);
  const early = median(values.slice(0, half));
  const late = median(values.slice(values.length - half));
  return early === 0 ? undefined : Math.abs(late - early) / Math.abs(early);
}

/** A change of the baseline over the run that a reader should know of, even when no stated difference is in doubt. */
const NOTICEABLE_DRIFT = 0.05;

/** Steal time above this share of a sample's CPU time means another guest on the host took the CPU. */
const STEAL_WARNING = 0.05;

/** One warning per benchmark where the host moved more than a stated difference, and per platform with steal time. */
export function driftWarnings(results: readonly BenchmarkResult[], baseline: string | undefined): string[] {
  const warnings: string[] = [];
  for (const base of results.filter((r) => r.platform === baseline && r.status === 'passed')) {
    const moved = drift(base);
    if (moved === undefined) continue;
    const stated = results
      .filter((r) => r.benchmark === base.benchmark && r !== base)
      .map((r) => ratioToBaseline(r, base))
      .filter((e) => e?.resolved)
      .map((e) => Math.abs(e!.ratio - 1));
    const smallest = Math.min(...stated);
    if (stated.length > 0 && moved > smallest) {
      warnings.push(
        `the host moved: ${baseline}'s ${base.benchmark} changed ${formatPercent(moved)} from its earlier to its later runs, ` +
          `more than the ${formatPercent(smallest)} difference reported on ${base.benchmark}; read those ratios with care or rerun on a quieter machine`,
      );
    } else if (moved > NOTICEABLE_DRIFT) {
      // Nothing stated is in doubt, but this is why intervals are wide: say so.
      warnings.push(
        `the host moved: ${baseline}'s ${base.benchmark} changed ${formatPercent(moved)} from its earlier to its later runs; ` +
          `rounds spread that over every platform, but differences smaller than the movement within a round read ≈1x`,
      );
    }
  }
  for (const platform of [...new Set(results.map((r) => r.platform))]) {
    const steal = Math.max(
      0,
      ...results.filter((r) => r.platform === platform).flatMap((r) => r.samples.map((s) => Number(s.extra.steal ?? 0))),
    );
    if (steal > STEAL_WARNING) {
      warnings.push(
        `steal time up to ${formatPercent(steal)} during ${platform}'s runs: another guest of this machine's host took its CPU`,
      );
    }
  }
  return warnings;
}
