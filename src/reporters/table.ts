import { baselinePlatform } from './ordering.js';
import { formatPercent, formatSignedPercent, formatValue } from '../results/format.js';
import { isStandIn, type BenchmarkResult } from '../results/schema.js';
import type { Comparison } from '../statistics/compare.js';
import { EQUIVALENCE_MARGIN, ratioToBaseline, type RatioEstimate } from '../statistics/ratio.js';

/*
 * The cross-platform comparison as plain strings: rows are benchmarks,
 * columns are platforms. Pure functions; colour and I/O belong to the caller.
 */

export function benchmarkLabel(result: Pick<BenchmarkResult, 'benchmark' | 'variant'>): string {
  return result.variant && !result.benchmark.includes(result.variant) ? `${result.benchmark} (${result.variant})` : result.benchmark;
}

/**
 * What a cell may say of a ratio: "0.87x" where the 95 % interval excludes 1, "≈1x" where equivalence
 * within the margin is shown, and otherwise "? ±25%": how far the interval reaches, never a ratio that
 * reads like an answer. A single round gives no interval: "? 1 round".
 */
export function formatRatio(estimate: RatioEstimate): string {
  if (estimate.verdict === 'different') return `${estimate.ratio.toFixed(2)}x`;
  if (estimate.verdict === 'equivalent') return '≈1x';
  return estimate.resolution === undefined
    ? `? 1 ${estimate.design === 'rounds' ? 'round' : 'run'}`
    : `? ±${formatPercent(estimate.resolution)}`;
}

/** "0.87x [0.84, 0.90]", or "0.87x (no interval from one round)" */
export function formatRatioWithCi(estimate: RatioEstimate): string {
  if (!estimate.ci95) return `${estimate.ratio.toFixed(2)}x (no interval from one ${estimate.design === 'rounds' ? 'round' : 'run'})`;
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
      `median ±half the IQR (relative); Nx = performance vs ${baseline ?? 'baseline'}, above 1 is better (its 95% interval excludes 1); ` +
        `≈1x = the same within ±${formatPercent(EQUIVALENCE_MARGIN)} (shown: its 90% interval lies inside); ? ±N% = cannot tell: the 95% interval reaches N% from 1`,
      ...(standInShown(results, platforms) ? [STAND_IN_LEGEND] : []),
    ],
  };
}

/** "+3.1% [+1.0%, +5.2%]": performance change against a baseline, + is better, with its 95 % interval. */
export function formatChange(c: Comparison): string {
  if (c.change === undefined) return c.note ?? '';
  const ci = c.changeCi95 ? ` [${formatSignedPercent(c.changeCi95[0])}, ${formatSignedPercent(c.changeCi95[1])}]` : ' [no interval]';
  return `${formatSignedPercent(c.change)}${ci}`;
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
  return layoutColumns([['gate', 'platform', 'benchmark', 'verdict', 'change (+ is better) [95% CI]', 'why'], ...rows]);
}

/** " (native runs in a PVM guest)" when the host's facts say the machine is itself a guest, else "". */
export function guestHostNote(host: Record<string, string | number>): string {
  const hypervisor = host.hypervisor;
  return typeof hypervisor === 'string' && !hypervisor.startsWith('none') ? ` (native runs in a guest: hypervisor ${hypervisor})` : '';
}
