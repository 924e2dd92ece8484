import { baselinePlatform, rowResult } from './ordering.js';
import { formatPercent, formatReach, formatSignedPercent, formatValue } from '../results/format.js';
import { isStandIn, type BenchmarkResult } from '../results/schema.js';
import type { Comparison } from '../statistics/compare.js';
import { EQUIVALENCE_MARGIN, legendLevels, ratioToBaseline, type RatioEstimate } from '../statistics/ratio.js';
import { printable } from '../host/printable.js';

/*
 * The cross-platform comparison as plain strings: rows are benchmarks,
 * columns are platforms. Pure functions; colour and I/O belong to the caller.
 * Every cell and line is printable (src/host/printable.ts): a name with a
 * newline or an escape sequence stays in its cell, on its line.
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
    : `? ${formatReach(estimate.resolution)}`;
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

/** Columns a string takes in a terminal: one per code point (the table's ≈, ±, × are one each; it has no wide characters). */
export function displayWidth(text: string): number {
  return [...text].length;
}

function pad(text: string, width: number): string {
  return text + ' '.repeat(Math.max(0, width - displayWidth(text)));
}

/** Lays out rows of cells with aligned columns, two spaces apart; each cell printable, on one line. */
export function layoutColumns(cells: string[][]): string[] {
  const rows = cells.map((row) => row.map((cell) => printable(cell)));
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, displayWidth(cell))));
  return rows.map((row) =>
    row
      .map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i]!)))
      .join('  ')
      .trimEnd(),
  );
}

/**
 * Breaks prose at spaces into lines of at most `width` columns, the later ones indented by `indent`
 * spaces; a word longer than a line stays whole.
 */
export function wrapText(prose: string, width: number, indent = 0): string[] {
  const text = printable(prose);
  const lead = /^ */.exec(text)![0];
  const lines: string[] = [];
  let line = lead;
  for (const word of text.slice(lead.length).split(/ +/)) {
    const candidate = line.trim() === '' ? line + word : `${line} ${word}`;
    if (line.trim() !== '' && displayWidth(candidate) > width) {
      lines.push(line);
      line = ' '.repeat(indent) + word;
    } else line = candidate;
  }
  lines.push(line);
  return lines;
}

export interface ComparisonTable {
  baseline?: string;
  lines: string[];
}

/** The table's parts: the header, a row of cells per benchmark (label, unit, better, one per platform) and the legend. */
function comparisonParts(results: BenchmarkResult[], platforms: string[]) {
  const benchmarks = [...new Set(results.map((r) => r.benchmark))];
  const find = (platform: string, benchmark: string) => results.find((r) => r.platform === platform && r.benchmark === benchmark);
  const baseline = baselinePlatform(platforms);
  // Printable before the widths are measured: the split into tables counts the columns a cell takes.
  const header = ['benchmark', 'unit', 'better', ...platforms].map((cell) => printable(cell));
  const rows = benchmarks.map((benchmark) => {
    const any = rowResult(results, benchmark)!;
    const base = baseline ? find(baseline, benchmark) : undefined;
    const cells = [benchmarkLabel(any), any.unit, any.better, ...platforms.map((p) => cellOf(find(p, benchmark), base, find))];
    return cells.map((cell) => printable(cell));
  });
  const levels = legendLevels(results);
  const legend = [
    `median ±half the IQR (relative); Nx = performance vs ${printable(baseline ?? 'baseline')}, above 1 is better (its ${levels.difference} interval excludes 1); ` +
      `≈1x = the same within ±${formatPercent(EQUIVALENCE_MARGIN)} (shown: its ${levels.equivalence} interval lies inside); ? ±N% = cannot tell: the ${levels.difference} interval reaches N% from 1${levels.note}`,
    ...(standInShown(results, platforms) ? [STAND_IN_LEGEND] : []),
  ];
  return { baseline, header, rows, legend };
}

/** Aligned lines of a header and rows, ruled below the header and below the rows. */
function ruled(header: string[], rows: string[][]): string[] {
  const lines = layoutColumns([header, ...rows]);
  const rule = '-'.repeat(Math.max(...lines.map(displayWidth)));
  return [lines[0]!, rule, ...lines.slice(1), rule];
}

/** The comparison table plus a legend, all platforms side by side; the baseline is native when it ran, else the first platform. */
export function renderComparison(results: BenchmarkResult[], platforms: string[]): ComparisonTable {
  const { baseline, header, rows, legend } = comparisonParts(results, platforms);
  return { baseline, lines: [...ruled(header, rows), ...legend] };
}

/**
 * The comparison for a terminal of `width` columns: the whole table when it fits, as renderComparison
 * has it; otherwise several tables of consecutive platforms, each with the benchmark, unit and better
 * columns and the baseline's column repeated, so that every ratio stands beside its reference. The
 * legend is wrapped to the width.
 *
 * Split rather than transposed: with platforms as rows, a row holds a cell of some 20 columns per
 * benchmark, too wide at seven benchmarks and wider with every one added; split, each table reads as
 * the full one does (a benchmark per row), the reference stands beside every platform, and it takes
 * as many tables as the platforms need. A single platform too wide for the width gets a table of its
 * own, wider still (its cells have no narrower form).
 */
export function renderComparisonToFit(results: BenchmarkResult[], platforms: string[], width: number): ComparisonTable {
  const { baseline, header, rows, legend } = comparisonParts(results, platforms);
  const wrappedLegend = legend.flatMap((line) => wrapText(line, width, 2));
  const whole = ruled(header, rows);
  if (whole.every((line) => displayWidth(line) <= width)) return { baseline, lines: [...whole, ...wrappedLegend] };

  const columnWidth = (i: number) => Math.max(...[header, ...rows].map((row) => displayWidth(row[i]!)));
  const fixed = [0, 1, 2, ...(baseline ? [3 + platforms.indexOf(baseline)] : [])];
  const fixedWidth = fixed.reduce((sum, i) => sum + columnWidth(i), 0) + 2 * (fixed.length - 1);
  const others = platforms.map((_, p) => 3 + p).filter((i) => !fixed.includes(i));

  // The fewest tables, then the platforms spread evenly over them (3, 3, 2, 2 rather than 3, 3, 3, 1).
  const group = (most: number) => {
    const groups: number[][] = [];
    let used = fixedWidth;
    for (const column of others) {
      const needs = 2 + columnWidth(column);
      if (groups.length === 0 || used + needs > width || groups.at(-1)!.length >= most) {
        groups.push([column]);
        used = fixedWidth + needs;
      } else {
        groups.at(-1)!.push(column);
        used += needs;
      }
    }
    return groups;
  };
  const fewest = group(Infinity);
  const even = group(Math.ceil(others.length / fewest.length));
  const groups = even.length === fewest.length ? even : fewest;
  const pick = (row: string[], columns: number[]) => [...fixed, ...columns].map((i) => row[i]!);
  const tables = groups.map((columns) =>
    ruled(
      pick(header, columns),
      rows.map((row) => pick(row, columns)),
    ),
  );
  return { baseline, lines: [...tables.flatMap((table, i) => (i === 0 ? table : ['', ...table])), ...wrappedLegend] };
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
