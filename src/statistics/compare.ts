import { BadOptionError } from '../errors.js';
import { ownEntry } from '../host/name-keys.js';
import { formatPercent, formatSignedPercent } from '../results/format.js';
import { isStandIn, type BenchmarkResult, type ResultsFile } from '../results/schema.js';
import { samplesPairedBy } from '../results/runs.js';
import {
  groupsChange,
  hasInterval,
  pairedChange,
  ratioInterval,
  type ChangeEstimate,
  type Design,
  type EstimateOutcome,
} from './estimate.js';
import { DEFAULT_ALPHA, DEFAULT_EQUIVALENCE_ALPHA, judgeFamily, type Decision } from './verdicts.js';

/** The four verdicts of a compared row (./verdicts.ts), and the rows that have nothing to compare. */
export type Verdict = Decision | 'added' | 'removed' | 'not comparable';

export interface Comparison {
  platform: string;
  benchmark: string;
  unit: string;
  better: 'higher' | 'lower';
  verdict: Verdict;
  /**
   * Why this verdict, in a few words for a table column: "beyond the fail threshold (5.0%)", "skipped
   * in the current run". compareResults always sets it; rows read from older files may lack it.
   */
  reason?: string;
  baselineMedian?: number;
  currentMedian?: number;
  /** Performance change, oriented so that +0.05 is 5 % better and -0.05 is 5 % worse (geometric mean of the units' ratios). */
  change?: number;
  /** 95 % interval of that change (Student's t on the log ratios); absent where the units cannot make one. */
  changeCi95?: [number, number];
  /** What the change was estimated from (pairs, runs, ...), and how many of them. */
  design?: Design;
  units?: number;
  /** Paired samples (an A/B whose sides took turns sample by sample): how many pairs the figures come from. */
  pairs?: number;
  /** Holm-adjusted one-sided p-values of "worse" and "better", over every row judged (`family` of them). */
  pWorse?: number;
  pBetter?: number;
  family?: number;
  /** On an undecided row: the change it could have detected (80 % power, relative). */
  detectable?: number;
  /** In a sequential A/B: the round after which this row was decided (its verdict is that look's). */
  decidedAtRound?: number;
  /** A stated run-to-run noise floor (CompareOptions.noiseFloor) that set or raised this row's spread. */
  noiseFloor?: number;
  /**
   * One run a side and no stated noise floor: how far runs of the same code differ is unknown, so the
   * row cannot be judged at all, and the gate refuses rather than guess (see cannotGate).
   */
  unjudged?: boolean;
  threshold: number;
  failThreshold: number;
  /**
   * The baseline measured this figure (passed, with runs) and the current run has nothing to compare
   * with it: gone, skipped, failed, without runs, or in another unit or direction. A stand-in is not
   * missing: a variant measures only what it varies, by design.
   */
  missing?: boolean;
  /** That missing figure was accepted by CompareOptions.allowMissing, so it does not fail the gate. */
  allowed?: boolean;
  /** True when this row fails the gate: a regression beyond its fail threshold, a failure, an uncomputable figure, or a missing figure not allowed. */
  failsGate: boolean;
  note?: string;
}

export interface CompareOptions {
  /** Changes smaller than this are no change (default 0.05), and equivalence is shown within it. Per benchmark: thresholds[benchmark]. */
  threshold?: number;
  thresholds?: Record<string, number>;
  /** A regression beyond this fails the gate (default: the noise threshold). */
  failThreshold?: number;
  failThresholds?: Record<string, number>;
  /**
   * Family-wise error of a false regression over every row of the comparison (default 0.01): a gate
   * judges every benchmark of every platform at once, on every push.
   */
  alpha?: number;
  /** Error of a false "equivalent", per row (default 0.05). */
  equivalenceAlpha?: number;
  /**
   * How far runs of the same code differ (relative, such as 0.03), measured by an A/A or the history
   * store: the spread of a side with one run, which its samples cannot tell. Without it such rows are unjudged.
   */
  noiseFloor?: number;
  /** What an undecided row does to the gate: pass (the default) or fail. */
  undecided?: 'pass' | 'fail';
  /**
   * Figures of the baseline the current run may lack without failing the gate: true for all, or
   * entries naming a platform, a benchmark, or "platform/benchmark". A failure is never allowed.
   */
  allowMissing?: boolean | readonly string[];
}

/** One row's identity: its platform and benchmark. */
export const rowKey = (r: Pick<BenchmarkResult, 'platform' | 'benchmark'>) => `${r.platform}\u0000${r.benchmark}`;

function checkFraction(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value < 10)) {
    throw new BadOptionError(`${name} must be a fraction such as 0.05 (5 %), got ${value}`);
  }
}

/** Whether allowMissing names this row: all (true), or an entry that is its platform, its benchmark or "platform/benchmark". */
export function allowsMissing(allowMissing: CompareOptions['allowMissing'], platform: string, benchmark: string): boolean {
  if (typeof allowMissing === 'boolean' || allowMissing === undefined) return allowMissing === true;
  return allowMissing.some((entry) => entry === platform || entry === benchmark || entry === `${platform}/${benchmark}`);
}

/** Reason of a row whose whole platform is absent from the current file; the gate reports those once per platform. */
const PLATFORM_GONE = 'platform not in the current run';

/**
 * Compares every (platform, benchmark) of two results files. A figure the baseline measured (passed,
 * with runs) that the current run cannot match fails the gate unless allowMissing names it: a pull
 * request must not pass by dropping, skipping or renaming the benchmark it slowed down. A stand-in
 * (another platform's figure shown for a variant) is not measured by design: never lost, never compared.
 */
export function compareResults(baseline: ResultsFile, current: ResultsFile, options: CompareOptions = {}): Comparison[] {
  checkOptions(options);
  const before = new Map(baseline.results.map((r) => [rowKey(r), r]));
  const after = new Map(current.results.map((r) => [rowKey(r), r]));
  const platformsNow = new Set(current.results.map((r) => r.platform));
  const comparisons: Comparison[] = [];
  /** Rows with figures on both sides, judged once all are known (the paired ones as a family). */
  const judged: Pending[] = [];
  for (const k of new Set([...after.keys(), ...before.keys()])) {
    const base = before.get(k);
    const now = after.get(k);
    const row = newRow((now ?? base)!, base, now, options);
    comparisons.push(row);
    const pending = examineRow(row, base, now, platformsNow, options);
    if (pending) judged.push(pending);
  }
  judgeRows(judged, options);
  return comparisons;
}

function checkOptions(options: CompareOptions): void {
  checkFraction('threshold', options.threshold);
  checkFraction('failThreshold', options.failThreshold);
  checkFraction('noiseFloor', options.noiseFloor);
  for (const [name, value] of [...Object.entries(options.thresholds ?? {}), ...Object.entries(options.failThresholds ?? {})])
    checkFraction(name, value);
  for (const [name, value] of Object.entries({ alpha: options.alpha, equivalenceAlpha: options.equivalenceAlpha })) {
    if (value !== undefined && !(value > 0 && value < 0.5)) {
      throw new BadOptionError(`${name} must be an error rate between 0 and 0.5, such as 0.01, got ${value}`);
    }
  }
}

/** A row before it is examined: its identity, its thresholds and both medians; not comparable until shown otherwise. */
function newRow(
  any: BenchmarkResult,
  base: BenchmarkResult | undefined,
  now: BenchmarkResult | undefined,
  options: CompareOptions,
): Comparison {
  // Own keys only: a benchmark named "constructor" or "toString" gets the default, never a method of Object.
  const threshold = ownEntry(options.thresholds, any.benchmark) ?? options.threshold ?? 0.05;
  const failThreshold = ownEntry(options.failThresholds, any.benchmark) ?? options.failThreshold ?? threshold;
  return {
    platform: any.platform,
    benchmark: any.benchmark,
    unit: any.unit,
    better: any.better,
    verdict: 'not comparable',
    reason: '',
    threshold,
    failThreshold,
    failsGate: false,
    baselineMedian: base?.summary?.median,
    currentMedian: now?.summary?.median,
  };
}

/** A row with figures on both sides, waiting for the family's judgement. */
interface Pending {
  row: Comparison;
  failedNow: boolean;
  estimate: ChangeEstimate;
}

/**
 * Settles what a row can say without a test (added, removed, lost, skipped, failed, another unit, no
 * runs, an uncomputable figure), or estimates its change and returns it for the family's judgement.
 */
function examineRow(
  row: Comparison,
  base: BenchmarkResult | undefined,
  now: BenchmarkResult | undefined,
  platformsNow: ReadonlySet<string>,
  options: CompareOptions,
): Pending | undefined {
  if (now && isStandIn(now)) {
    // A variant measures only what it varies: by design, not a lost figure, and nothing of its own to compare.
    row.reason = `not measured by design: ${now.standIn}'s figure stands in`;
    row.note = `${row.reason} (a variant measures only what it varies)`;
    return undefined;
  }
  // A stand-in in the baseline was another platform's figure: what is measured now has no baseline.
  if (!base || (isStandIn(base) && now?.status === 'passed')) {
    row.verdict = 'added';
    row.reason = base ? `new in the current run (the baseline showed ${base.standIn}'s figure)` : 'new in the current run';
    return undefined;
  }
  // A baseline that skipped or failed this benchmark has no figure to protect.
  const measuredBefore = base.status === 'passed' && base.samples.length > 0;
  /** The current run has nothing to compare with the baseline's figure. */
  const lost = (reason: string, detail?: string, allowEntry = `${row.platform}/${row.benchmark}`) => {
    row.reason = reason;
    if (!measuredBefore) {
      const had = isStandIn(base) ? `showed ${base.standIn}'s figure` : base.status === 'passed' ? 'had no runs' : base.status;
      row.reason += ` (nothing to protect: the baseline ${had})`;
      return;
    }
    row.missing = true;
    const what = detail ? `${reason} (${detail})` : reason;
    if (allowsMissing(options.allowMissing, row.platform, row.benchmark)) {
      row.allowed = true;
      row.reason += ' (allowed)';
      row.note = `${what}; allowed by --allow-missing`;
    } else {
      row.failsGate = true;
      row.note = `${what}, but the baseline measured it: fails the gate; if intended, allow it with --allow-missing ${allowEntry}`;
    }
  };
  if (!now) {
    row.verdict = 'removed';
    if (platformsNow.has(row.platform)) lost('not in the current run');
    else lost(PLATFORM_GONE, undefined, row.platform);
    return undefined;
  }
  const failedNow = now.status === 'failed';
  if (failedNow) {
    // A pull request that breaks a benchmark fails the gate, whatever the runs before the failure say; no option allows that.
    row.note = 'failed in the current run';
    row.reason = row.note;
    row.failsGate = true;
  } else if (now.status === 'skipped') {
    if (base.status === 'skipped') row.reason = 'skipped in both runs';
    else lost('skipped in the current run', now.skipReason);
    return undefined;
  }
  if (base.unit !== now.unit || base.better !== now.better) {
    const changed =
      base.unit !== now.unit
        ? `unit changed from ${base.unit} to ${now.unit}`
        : `direction changed from ${base.better} to ${now.better} is better`;
    if (failedNow) row.note = `${row.note}; ${changed}`;
    else lost(changed);
    row.note ??= changed;
    return undefined;
  }
  const a = base.samples.map((s) => s.value);
  const b = now.samples.map((s) => s.value);
  if (a.length === 0 || b.length === 0) {
    const empty = `no runs in the ${a.length === 0 ? 'baseline' : 'current'} file`;
    if (!failedNow && b.length === 0) lost('no runs in the current run');
    else if (!failedNow) row.reason = 'no runs in the baseline';
    row.note ??= empty;
    return undefined;
  }
  const outcome = estimateChange(base, now, options.noiseFloor);
  if ('notComparable' in outcome) {
    // 0, NaN or Infinity: no ratio, so no verdict; never a pass.
    row.reason = failedNow ? `failed in the current run; ${outcome.notComparable}` : outcome.notComparable;
    row.note = `${outcome.notComparable}; fails the gate: a figure that cannot be compared never passes`;
    row.failsGate = true;
    return undefined;
  }
  const { estimate } = outcome;
  row.design = estimate.design;
  row.units = estimate.n;
  if (estimate.design === 'pairs') row.pairs = estimate.n;
  if (estimate.noiseFloor !== undefined) row.noiseFloor = estimate.noiseFloor;
  row.change = Math.expm1(estimate.logRatio);
  const interval = ratioInterval(estimate);
  if (interval) row.changeCi95 = [interval[0] - 1, interval[1] - 1];
  return { row, failedNow, estimate };
}

/** Judges every pending row in one family (Holm), then what the gate makes of each verdict. */
function judgeRows(judged: readonly Pending[], options: CompareOptions): void {
  // Every row with a test is judged in one family (Holm): 14 figures judged at once at 5 % each would
  // cry wolf in every second comparison of identical code.
  const judgements = judgeFamily(
    judged.map(({ row, estimate }) => ({ estimate, threshold: row.threshold })),
    options,
  );
  judged.forEach(({ row, failedNow, estimate }, i) => {
    const judgement = judgements[i]!;
    row.verdict = judgement.decision;
    Object.assign(row, { pWorse: judgement.pWorse, pBetter: judgement.pBetter, family: judgement.family });
    if (judgement.detectable !== undefined) row.detectable = judgement.detectable;
    if (!hasInterval(estimate)) {
      // Only groups of one run a side have no spread: pairs come two or more.
      row.unjudged = true;
      row.note =
        'one run a side: how far runs of the same code differ is unknown, so no change can be judged; ' +
        'fix: compare runs paired by `virtbench ab`, or a pooled baseline (`virtbench history baseline`), or state the spread with --noise-floor (from an A/A)';
    }
    const reason = reasonFor(row, estimate, options);
    if (row.verdict === 'regressed') row.failsGate ||= -row.change! > row.failThreshold;
    if (row.verdict === 'undecided' && options.undecided === 'fail') row.failsGate = true;
    row.reason = failedNow ? `failed in the current run; ${reason}` : reason;
  });
}

/**
 * The change of one row from its best design: pairs taken in turns (extra.pair) where there are at
 * least two; else whole runs (extra.run; a side without run tags is one run), each run's median a unit.
 */
function estimateChange(base: BenchmarkResult, now: BenchmarkResult, noiseFloor: number | undefined): EstimateOutcome {
  const pairs = samplesPairedBy('pair', base, now).map(([b, n]) => [b.value, n.value] as const);
  if (pairs.length >= 2) return pairedChange(pairs, now.better, 'pairs');
  return groupsChange(runsOf(base), runsOf(now), now.better, 'runs', noiseFloor);
}

/** The samples of a result by run (extra.run); one run when they carry no run tag. */
function runsOf(result: BenchmarkResult): number[][] {
  const byRun = new Map<string | number, number[]>();
  for (const sample of result.samples) {
    const run = sample.extra.run ?? '';
    byRun.set(run, [...(byRun.get(run) ?? []), sample.value]);
  }
  return [...byRun.values()];
}

/** What the row was estimated from, for its reason: "12 pairs", "3 vs 1 runs". */
function evidenceOf(row: Comparison, estimate: ChangeEstimate): string {
  if (estimate.design === 'pairs') return `${estimate.n} pairs`;
  const floor = row.noiseFloor !== undefined ? `, noise floor ${formatPercent(row.noiseFloor)}` : '';
  return `${estimate.n} runs in all${floor}`;
}

const rows = (n: number) => `${n} row${n === 1 ? '' : 's'}`;

function reasonFor(row: Comparison, estimate: ChangeEstimate, options: CompareOptions): string {
  const alpha = options.alpha ?? DEFAULT_ALPHA;
  const evidence = evidenceOf(row, estimate);
  const margin = formatPercent(row.threshold);
  switch (row.verdict) {
    case 'regressed': {
      const beyond = -row.change! > row.failThreshold;
      return `${beyond ? 'beyond' : 'within'} the fail threshold (${formatPercent(row.failThreshold)}): worse beyond ${margin}, p=${formatP(row.pWorse!)} after Holm over ${rows(row.family!)} (${evidence})`;
    }
    case 'improved':
      return `better beyond ${margin}, p=${formatP(row.pBetter!)} after Holm over ${rows(row.family!)} (${evidence})`;
    case 'equivalent':
      return `the same within ±${margin}: the ${Math.round(100 * (1 - 2 * (options.equivalenceAlpha ?? DEFAULT_EQUIVALENCE_ALPHA)))}% interval lies inside (${evidence})`;
    default:
      if (row.unjudged) return 'cannot tell: one run a side, the run-to-run spread is unknown';
      return `cannot tell: could detect a change of ${formatPercent(row.detectable!)} (80% power at ${formatPercent(alpha)} over ${rows(row.family!)}; ${evidence})`;
  }
}

/** Rows the gate cannot judge at all (one run a side, no noise floor): it refuses rather than pass them. */
export function unjudgedRows(comparisons: readonly Comparison[]): Comparison[] {
  return comparisons.filter((c) => c.unjudged);
}

export function gateFails(comparisons: readonly Comparison[]): boolean {
  return comparisons.some((c) => c.failsGate);
}

/**
 * Why the gate fails, one line per cause: a regression or a failure per row; missing figures per
 * platform and reason, named once for the platform when it lost every figure it had for that reason.
 */
export function gateFailures(comparisons: readonly Comparison[]): string[] {
  const lines: string[] = [];
  const missing = new Map<string, Comparison[]>();
  for (const c of comparisons.filter((x) => x.failsGate)) {
    if (c.missing) {
      const group = `${c.platform}\u0000${reasonOf(c)}`;
      missing.set(group, [...(missing.get(group) ?? []), c]);
    } else if (c.verdict === 'regressed') {
      lines.push(`${c.platform}/${c.benchmark} regressed ${formatSignedPercent(c.change!)}: ${reasonOf(c)}`);
    } else {
      lines.push(`${c.platform}/${c.benchmark}: ${reasonOf(c)}`);
    }
  }
  // Per platform: how many of its rows are missing, and whether any was compared.
  const platforms = new Map<string, { missing: number; compared: boolean }>();
  for (const c of comparisons) {
    const seen = platforms.get(c.platform) ?? { missing: 0, compared: false };
    platforms.set(c.platform, { missing: seen.missing + (c.missing ? 1 : 0), compared: seen.compared || c.change !== undefined });
  }
  for (const rows of missing.values()) {
    const { platform } = rows[0]!;
    const reason = reasonOf(rows[0]!);
    const { missing: missingOfPlatform, compared } = platforms.get(platform)!;
    const wholePlatform = reason === PLATFORM_GONE || (!compared && missingOfPlatform === rows.length);
    const benchmarks = rows.map((c) => c.benchmark);
    const runs = `${rows.length} benchmark${rows.length === 1 ? '' : 's'} the baseline measured`;
    lines.push(
      wholePlatform
        ? `${platform}: ${reason}, ${runs}; if intended, allow it with --allow-missing ${platform}`
        : `${platform} ${benchmarks.join(', ')}: ${reason}; if intended, allow it with ${benchmarks.map((b) => `--allow-missing ${platform}/${b}`).join(' ')}`,
    );
  }
  return lines;
}

/** A p-value for a reason line: three decimals, or its order of magnitude when smaller. */
function formatP(p: number): string {
  return p >= 0.001 ? p.toFixed(3) : `${p.toExponential(0)}`;
}

/** The row's reason, or its note for a row from before reasons. */
export function reasonOf(c: Pick<Comparison, 'reason' | 'note'>): string {
  return c.reason ?? c.note ?? '';
}

/** Parses "5%", "0.05" or "disk-random=10%" as given on the command line. */
export function parseThreshold(text: string): { benchmark?: string; value: number } {
  const [benchmark, raw] = text.includes('=') ? (text.split('=', 2) as [string, string]) : [undefined, text];
  const percent = raw.endsWith('%');
  const value = percent ? Number(raw.slice(0, -1)) / 100 : Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new BadOptionError(`bad threshold "${text}": use a percentage such as 5% or benchmark=10%`);
  }
  // "5" read as 500 % would pass every regression: a bare number must be a fraction.
  if (!percent && value >= 1) {
    throw new BadOptionError(`bad threshold "${text}": a bare number is a fraction (0.05 = 5 %); did you mean ${raw}%?`);
  }
  return { benchmark, value };
}
