import { formatPercent } from '../results/format.js';
import type { BenchmarkResult } from '../results/schema.js';
import { ratioToBaseline } from './ratio.js';
import { halvesChange, trendPValue } from './trend.js';

/*
 * Whether the host itself moved during the run. The baseline platform's runs, in time order, are the
 * yardstick: each benchmark's series gets a rank trend test (./trend.ts), and the run warns when the
 * tests together say the host moved (Fisher's combination at 5 %): a stationary run warns at most 5 %
 * of the time, whatever its number of benchmarks. The warning gives each moving benchmark's change
 * from its earlier to its later runs, and says which stated differences are smaller than that.
 */

/** Error of a false "the host moved" over one run's benchmarks. */
export const DRIFT_ALPHA = 0.05;

/** Steal time above this share of a sample's CPU time means another guest on the host took the CPU. */
const STEAL_WARNING = 0.05;

/** The values of a result in time order. */
function series(result: BenchmarkResult): number[] {
  return [...result.samples].sort((a, b) => a.time - b.time).map((s) => s.value);
}

/** Relative change of the median from the earlier to the later half of the runs (by time); undefined below 4 runs. */
export function drift(result: BenchmarkResult): number | undefined {
  return halvesChange(series(result));
}

/**
 * P(chi-square with 2k degrees of freedom > x), in closed form for even degrees: Fisher's combination
 * of k p-values. Discrete p-values (exact rank tests) only make it more cautious.
 */
function fisherCombined(pValues: readonly number[]): number {
  const k = pValues.length;
  if (k === 0) return 1;
  const half = -pValues.reduce((sum, p) => sum + Math.log(Math.max(p, 1e-300)), 0); // x / 2
  let term = 1;
  let sum = 1;
  for (let i = 1; i < k; i++) {
    term *= half / i;
    sum += term;
  }
  return Math.min(1, Math.exp(-half) * sum);
}

export interface HostMovement {
  /** Fisher's combined p-value over the baseline's benchmarks. */
  pValue: number;
  /** Per benchmark: its trend p-value and its change from earlier to later runs. */
  benchmarks: { benchmark: string; pValue: number; change?: number }[];
}

/** The trend tests of the baseline platform's passed benchmarks; undefined with none of 3 runs or more. */
export function hostMovement(results: readonly BenchmarkResult[], baseline: string | undefined): HostMovement | undefined {
  const tested = results
    .filter((r) => r.platform === baseline && r.status === 'passed' && r.samples.length >= 3)
    .map((r) => ({ benchmark: r.benchmark, pValue: trendPValue(series(r)), change: drift(r) }));
  if (tested.length === 0) return undefined;
  return { pValue: fisherCombined(tested.map((t) => t.pValue)), benchmarks: tested };
}

/** The largest steal time of a platform's samples, by a loop: a spread of 200,000 arguments overflows the stack. */
function largestSteal(results: readonly BenchmarkResult[], platform: string): number {
  let largest = 0;
  for (const result of results) {
    if (result.platform !== platform) continue;
    for (const sample of result.samples) {
      const steal = Number(sample.extra.steal ?? 0);
      if (steal > largest) largest = steal;
    }
  }
  return largest;
}

/** A warning when the host moved (with the differences it puts in doubt), and one per platform with steal time. */
export function driftWarnings(results: readonly BenchmarkResult[], baseline: string | undefined): string[] {
  const warnings: string[] = [];
  const movement = hostMovement(results, baseline);
  if (movement && movement.pValue < DRIFT_ALPHA) {
    const moving = movement.benchmarks.filter((b) => b.pValue < DRIFT_ALPHA && b.change !== undefined);
    const shown = moving.length > 0 ? moving : movement.benchmarks.filter((b) => b.change !== undefined);
    const changes = shown.map((b) => `${b.benchmark} ${formatPercent(b.change!)}`).join(', ');
    let warning = `the host moved: ${baseline}'s runs trend over time (p=${movement.pValue.toPrecision(2)} over ${movement.benchmarks.length} benchmarks)${changes ? `; from its earlier to its later runs: ${changes}` : ''}`;
    const inDoubt = shown.flatMap((b) => {
      const base = results.find((r) => r.platform === baseline && r.benchmark === b.benchmark)!;
      return results
        .filter((r) => r.benchmark === b.benchmark && r !== base)
        .flatMap((r) => {
          const estimate = ratioToBaseline(r, base);
          return estimate?.verdict === 'different' && Math.abs(estimate.ratio - 1) < b.change! ? [`${r.platform} ${b.benchmark}`] : [];
        });
    });
    warning +=
      inDoubt.length > 0
        ? `; differences smaller than that are reported on ${inDoubt.join(', ')}: read them with care or rerun on a quieter machine`
        : '; rounds spread it over every platform, so it widens intervals rather than bias them';
    warnings.push(warning);
  }
  for (const platform of [...new Set(results.map((r) => r.platform))]) {
    const steal = largestSteal(results, platform);
    if (steal > STEAL_WARNING) {
      warnings.push(
        `steal time up to ${formatPercent(steal)} during ${platform}'s runs: another guest of this machine's host took its CPU`,
      );
    }
  }
  return warnings;
}
