import { printable } from '../host/printable.js';
import { formatDuration, formatReach } from '../results/format.js';
import type { BenchmarkResult } from '../results/schema.js';
import type { BenchmarkResolution, ComparisonResolution } from '../statistics/resolution.js';

/*
 * What a run resolved (src/statistics/resolution.ts), in the words of every output: the table's footer,
 * the findings' last line, and the rows of the Markdown and HTML reports' "Resolution" table. Names
 * are printable here; the Markdown and HTML writers escape the text further for their markup.
 */

/** "±7.2%", or "no interval" where one round gives none. */
const reach = (halfWidth: number | undefined) => (halfWidth === undefined ? 'no interval' : formatReach(halfWidth));

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** "docker-gvisor vs docker on mem (±7.2%)". */
function comparisonText(c: ComparisonResolution, benchmark?: string): string {
  const on = benchmark === undefined ? '' : ` on ${printable(benchmark)}`;
  return `${printable(c.platform)} vs ${printable(c.against)}${on} (${reach(c.halfWidth)})`;
}

const undecidedOf = (resolutions: readonly BenchmarkResolution[]) =>
  resolutions.flatMap((r) => r.comparisons.filter((c) => !c.decided).map((c) => ({ benchmark: r.benchmark, comparison: c })));

/** "2 comparisons above ±5.0%, 1 without an interval", or "every comparison decided at ±5.0%". */
export function undecidedCount(resolutions: readonly BenchmarkResolution[], target: number): string {
  const undecided = undecidedOf(resolutions);
  if (undecided.length === 0) return `every comparison decided at ${formatReach(target)}`;
  // An undecided comparison is wider than the target, or has no interval at all.
  const wide = undecided.filter((u) => u.comparison.halfWidth !== undefined).length;
  const counts = [
    ...(wide > 0 ? [`${plural(wide, 'comparison')} above ${formatReach(target)}`] : []),
    ...(undecided.length > wide ? [`${plural(undecided.length - wide, 'comparison')} without an interval`] : []),
  ];
  return counts.join(', ');
}

/**
 * The table's footer: "resolution: cpu ±2.1% in 3m10s, mem ±4.0% in 4m02s (1 comparison above ±5.0%)",
 * each benchmark that has a comparison; undefined where none has (a single platform).
 */
export function resolutionLine(resolutions: readonly BenchmarkResolution[], target: number): string | undefined {
  const compared = resolutions.filter((r) => r.comparisons.length > 0);
  if (compared.length === 0) return undefined;
  const each = compared.map((r) => `${printable(r.benchmark)} ${reach(r.halfWidth)} in ${formatDuration(r.seconds)}`);
  return `resolution: ${each.join(', ')} (${undecidedCount(compared, target)})`;
}

/**
 * The findings' last line: the comparisons left undecided with the half-width each reached, or that
 * every one was decided; undefined without comparisons.
 */
export function undecidedLine(resolutions: readonly BenchmarkResolution[], target: number): string | undefined {
  if (!resolutions.some((r) => r.comparisons.length > 0)) return undefined;
  const undecided = undecidedOf(resolutions);
  if (undecided.length === 0) return `Every comparison was decided at ${formatReach(target)}.`;
  const each = undecided.map(({ benchmark, comparison }) => comparisonText(comparison, benchmark));
  return `Undecided at ${formatReach(target)} when the run ended: ${each.join(', ')}.`;
}

export interface ResolutionTable {
  header: string[];
  rows: string[][];
  /** Explains the columns, for a line below the table. */
  legend: string;
}

/**
 * The reports' "Resolution" table: per benchmark with a comparison, its half-width, wall time, rounds
 * and undecided comparisons, and, where any platform of the run stopped for its time budget, how many
 * did on each benchmark (BenchmarkResult.stoppedBy). Undefined where no benchmark has a comparison.
 */
export function resolutionTable(
  resolutions: readonly BenchmarkResolution[],
  results: readonly BenchmarkResult[],
  target: number,
): ResolutionTable | undefined {
  const compared = resolutions.filter((r) => r.comparisons.length > 0);
  if (compared.length === 0) return undefined;
  const byBudget = (benchmark: string) => results.filter((r) => r.benchmark === benchmark && r.stoppedBy === 'budget').length;
  const budget = compared.some((r) => byBudget(r.benchmark) > 0);
  const rows = compared.map((r) => {
    const undecided = r.comparisons.filter((c) => !c.decided).map((c) => comparisonText(c));
    const stopped = byBudget(r.benchmark);
    return [
      printable(r.benchmark),
      reach(r.halfWidth),
      formatDuration(r.seconds),
      String(r.rounds),
      undecided.length > 0 ? undecided.join(', ') : '-',
      ...(budget ? [stopped > 0 ? plural(stopped, 'platform') : '-'] : []),
    ];
  });
  return {
    header: [
      'benchmark',
      '± half-width',
      'time',
      'rounds',
      `undecided at ${formatReach(target)}`,
      ...(budget ? ['stopped by the budget'] : []),
    ],
    rows,
    legend:
      "± half-width: of the widest ratio interval among the benchmark's comparisons, relative to its ratio: the smallest difference this run tells apart there; " +
      'time: from the start of its first run to the end of its last, all platforms; rounds: the most any platform took',
  };
}
