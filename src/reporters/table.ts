import { baselinePlatform } from './ordering.js';
import type { Comparison } from './compare.js';
import { samplesPairedBy } from '../results/runs.js';
import { isStandIn, type BenchmarkResult } from '../results/schema.js';
import { pairedRatioEstimate, ratioEstimate, type RatioEstimate } from '../results/statistics.js';

/*
 * The cross-platform comparison as plain strings: rows are benchmarks,
 * columns are platforms. Pure functions; colour and I/O belong to the caller.
 */

const SI = [
  { factor: 1e9, suffix: 'G' },
  { factor: 1e6, suffix: 'M' },
  { factor: 1e3, suffix: 'k' },
];

/** Three significant digits, SI suffixes for large numbers: 5.65M, 62.5k, 0.340, 20.5. */
export function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  for (const { factor, suffix } of SI) {
    if (Math.abs(value) >= factor) return `${(value / factor).toPrecision(3)}${suffix}`;
  }
  return value === 0 ? '0' : value.toPrecision(3);
}

export function formatPercent(fraction: number): string {
  const percent = fraction * 100;
  return `${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%`;
}

export function benchmarkLabel(result: Pick<BenchmarkResult, 'benchmark' | 'variant'>): string {
  return result.variant && !result.benchmark.includes(result.variant) ? `${result.benchmark} (${result.variant})` : result.benchmark;
}

/** Runs of the two results taken in the same round (rounds: see README), as [baseline, result] value pairs. */
function sameRoundPairs(result: BenchmarkResult, baseline: BenchmarkResult): [number, number][] {
  return samplesPairedBy('round', baseline, result).map(([base, sample]) => [base.value, sample.value]);
}

/** Rounds shared by both results from which the ratio is taken per round; with fewer, the runs are compared as two groups. */
const MIN_PAIRED_ROUNDS = 3;

/**
 * The performance ratio of a passed result to the baseline's, with its 95 %
 * interval: per round when both were measured in the same rounds (the
 * machine's drift cancels), else the ratio of the medians of the two groups.
 */
export function ratioToBaseline(result: BenchmarkResult, baseline: BenchmarkResult | undefined): RatioEstimate | undefined {
  if (!baseline || baseline === result || baseline.status !== 'passed' || result.status !== 'passed') return undefined;
  const pairs = sameRoundPairs(result, baseline);
  if (pairs.length >= MIN_PAIRED_ROUNDS) return pairedRatioEstimate(pairs, result.better);
  return ratioEstimate(
    baseline.samples.map((s) => s.value),
    result.samples.map((s) => s.value),
    result.better,
  );
}

/** "0.87x", or "≈1x" when the 95 % interval of the ratio contains 1: never a difference the noise explains. */
export function formatRatio(estimate: RatioEstimate): string {
  return estimate.resolved ? `${estimate.ratio.toFixed(2)}x` : '≈1x';
}

/** "0.87x [0.84, 0.90]" */
export function formatRatioWithCi(estimate: RatioEstimate): string {
  return `${estimate.ratio.toFixed(2)}x [${estimate.ci95[0].toFixed(2)}, ${estimate.ci95[1].toFixed(2)}]`;
}

/**
 * A stand-in's cell: the median of the platform standing in (`figure`: its result for the benchmark),
 * in parentheses and named, so that no one takes it for a measurement; "(as qemu-tcg: -)" without one.
 */
export function formatStandIn(standIn: string, figure: BenchmarkResult | undefined): string {
  const measured = figure && figure.platform === standIn && figure.status === 'passed' ? figure.summary : undefined;
  return measured ? `(${formatValue(measured.median)} as ${standIn})` : `(as ${standIn}: -)`;
}

/** Explains the stand-in cells, for a legend that has one (standInShown). */
export const STAND_IN_LEGEND =
  "(N as P) = not measured on that column's platform (a variant measures only what it varies): P's median stands in, for reference only, no ratio";

/** Whether a table of these platforms has a stand-in cell, whose mark its legend must explain. */
export function standInShown(results: readonly BenchmarkResult[], platforms: readonly string[]): boolean {
  return results.some((r) => isStandIn(r) && platforms.includes(r.platform));
}

/**
 * One cell: median with its relative IQR, and the performance ratio to the baseline platform. A stand-in
 * shows the median of `standInFigure` (the stand-in platform's result for the benchmark) marked, without a ratio.
 */
export function formatCell(
  result: BenchmarkResult | undefined,
  baseline: BenchmarkResult | undefined,
  standInFigure?: BenchmarkResult,
): string {
  if (!result) return '-';
  if (isStandIn(result)) return formatStandIn(result.standIn, standInFigure);
  if (result.status === 'skipped') return result.skipReason?.startsWith('n/a') ? 'n/a' : 'skipped';
  if (result.status === 'failed') {
    const kept = result.samples.length;
    return kept > 0 ? `FAILED (${kept} run${kept === 1 ? '' : 's'} kept)` : 'FAILED';
  }
  if (!result.summary) return 'no runs';
  let cell = `${formatValue(result.summary.median)} ±${formatPercent(result.summary.relativeIqr / 2)}`;
  const estimate = ratioToBaseline(result, baseline);
  if (estimate) cell += `  ${formatRatio(estimate)}`;
  return cell;
}

/** formatCell of a table's cell, with the figure of its stand-in (if it is one) looked up by `find`. */
export function cellOf(
  result: BenchmarkResult | undefined,
  baseline: BenchmarkResult | undefined,
  find: (platform: string, benchmark: string) => BenchmarkResult | undefined,
): string {
  const standInFigure = result && isStandIn(result) ? find(result.standIn, result.benchmark) : undefined;
  return formatCell(result, baseline, standInFigure);
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - text.length));
}

/** Lays out rows of cells with aligned columns, two spaces apart. */
export function layoutColumns(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

export interface ComparisonTable {
  baseline?: string;
  lines: string[];
}

/** The comparison table plus a legend; the baseline is native when it ran, else the first platform. */
export function renderComparison(results: BenchmarkResult[], platforms: string[]): ComparisonTable {
  const benchmarks = [...new Set(results.map((r) => r.benchmark))];
  const find = (platform: string, benchmark: string) => results.find((r) => r.platform === platform && r.benchmark === benchmark);
  const baseline = baselinePlatform(platforms);

  const header = ['benchmark', 'unit', 'better', ...platforms];
  const rows = benchmarks.map((benchmark) => {
    const any = results.find((r) => r.benchmark === benchmark)!;
    const base = baseline ? find(baseline, benchmark) : undefined;
    return [benchmarkLabel(any), any.unit, any.better, ...platforms.map((p) => cellOf(find(p, benchmark), base, find))];
  });
  const lines = layoutColumns([header, ...rows]);
  const rule = '-'.repeat(Math.max(...lines.map((l) => l.length)));
  return {
    baseline,
    lines: [
      lines[0]!,
      rule,
      ...lines.slice(1),
      rule,
      `median ±half the IQR (relative); Nx = performance vs ${baseline ?? 'baseline'}, above 1 is better; ` +
        '≈1x = no difference this machine can resolve (the 95% interval of the ratio contains 1)',
      ...(standInShown(results, platforms) ? [STAND_IN_LEGEND] : []),
    ],
  };
}

/** "+3.1% [+1.0%, +5.2%], p=0.009": performance change against a baseline, + is better. */
export function formatChange(c: Comparison): string {
  if (c.change === undefined) return c.note ?? '';
  const sign = (x: number) => `${x >= 0 ? '+' : '-'}${formatPercent(Math.abs(x))}`;
  const ci = c.changeCi95 ? ` [${sign(c.changeCi95[0])}, ${sign(c.changeCi95[1])}]` : '';
  return `${sign(c.change)}${ci}, p=${c.pValue!.toFixed(3)}`;
}

/** "FAIL" on a row that fails the gate, "allowed" on a missing figure the options accepted: the eye finds them in a long table. */
function gateMark(c: Comparison): string {
  if (c.failsGate) return 'FAIL';
  return c.allowed ? 'allowed' : '';
}

/** The baseline comparison as aligned lines, for the terminal: rows that fail the gate are marked FAIL, each row says why. */
export function renderBaselineComparison(comparisons: readonly Comparison[]): string[] {
  const rows = comparisons.map((c) => [
    gateMark(c),
    c.platform,
    c.benchmark,
    c.verdict + (c.failsGate ? ' (fails)' : ''),
    c.change === undefined ? '-' : formatChange(c),
    c.reason ?? c.note ?? '',
  ]);
  return layoutColumns([['gate', 'platform', 'benchmark', 'verdict', 'change (+ is better) [95% CI], p', 'why'], ...rows]);
}

/** " (native runs in a PVM guest)" when the host's facts say the machine is itself a guest, else "". */
export function guestHostNote(host: Record<string, string | number>): string {
  const hypervisor = host.hypervisor;
  return typeof hypervisor === 'string' && !hypervisor.startsWith('none') ? ` (native runs in a guest: hypervisor ${hypervisor})` : '';
}
