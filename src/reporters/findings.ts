import { baselinePlatform } from './ordering.js';
import type { BenchmarkResult } from '../results/schema.js';
import { performanceRatio } from '../results/statistics.js';
import { benchmarkLabel, formatPercent, formatValue } from './table.js';

/**
 * One sentence per benchmark and platform, stating measured ratios and their
 * spread against the baseline platform. Numbers only: no canned explanations.
 */
export function findings(results: readonly BenchmarkResult[], platforms: readonly string[]): string[] {
  const baseline = baselinePlatform(platforms);
  const lines: string[] = [];
  for (const result of results) {
    if (result.platform === baseline || result.status !== 'passed' || !result.summary) continue;
    const base = results.find((r) => r.platform === baseline && r.benchmark === result.benchmark);
    if (!base?.summary || base.status !== 'passed') continue;
    const ratio = performanceRatio(result.summary.median, base.summary.median, result.better);
    if (!Number.isFinite(ratio)) continue;
    const describe = (r: BenchmarkResult) =>
      `${formatValue(r.summary!.median)} ${r.unit}, IQR ±${formatPercent(r.summary!.relativeIqr / 2)}, ${r.summary!.n} runs`;
    lines.push(
      `${result.platform} ${benchmarkLabel(result)}: ${ratio.toFixed(2)}x ${baseline} ` +
        `(${result.platform} ${describe(result)}; ${baseline} ${describe(base)}; ${result.better} is better)`,
    );
  }
  return lines;
}
