import erfc from '@stdlib/math-base-special-erfc';
import { VirtbenchError } from '../errors.js';
import { isStandIn, type BenchmarkResult, type ResultsFile } from '../results/schema.js';
import { runSpread, samplesPairedBy } from '../results/runs.js';
import { bootstrapRatioCi, median, pairedRatioEstimate, performanceRatio } from '../results/statistics.js';
import { formatPercent } from './table.js';

export type Verdict = 'improved' | 'unchanged' | 'regressed' | 'added' | 'removed' | 'not comparable';

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
  /** Performance change, oriented so that +0.05 is 5 % better and -0.05 is 5 % worse. */
  change?: number;
  /** Percentile-bootstrap 95 % interval of that change. */
  changeCi95?: [number, number];
  /**
   * Two-sided test of no change: the rank test of equal distributions (Kruskal-Wallis with two groups =
   * Mann-Whitney U), or for paired samples the Wilcoxon signed-rank test of the per-pair ratios.
   */
  pValue?: number;
  /** Paired samples (an A/B whose sides took turns sample by sample): how many pairs the figures come from. */
  pairs?: number;
  /** For paired rows: pValue adjusted (Holm) over the paired rows of this comparison, which are judged as one family. */
  pValueAdjusted?: number;
  threshold: number;
  failThreshold: number;
  /**
   * How far separate runs of the same side differed (largest run median / smallest - 1), when the
   * files pool several runs (an A/B side, a history window: samples tagged extra.run). A change
   * inside it is unchanged whatever the threshold: the machine, not the code, moves that much.
   */
  noiseFloor?: number;
  /**
   * The baseline measured this figure (passed, with runs) and the current run has nothing to compare
   * with it: gone, skipped, failed, without runs, or in another unit or direction. A stand-in is not
   * missing: a variant measures only what it varies, by design.
   */
  missing?: boolean;
  /** That missing figure was accepted by CompareOptions.allowMissing, so it does not fail the gate. */
  allowed?: boolean;
  /** True when this row fails the gate: a regression beyond its fail threshold, a failure, or a missing figure not allowed. */
  failsGate: boolean;
  note?: string;
}

export interface CompareOptions {
  /** Changes smaller than this are noise (default 0.05). Per benchmark: thresholds[benchmark]. */
  threshold?: number;
  thresholds?: Record<string, number>;
  /** A regression beyond this fails the gate (default: the noise threshold). */
  failThreshold?: number;
  failThresholds?: Record<string, number>;
  /** Significance level of the rank test (default 0.05). */
  alpha?: number;
  /**
   * Family-wise significance level over the paired rows of one comparison, Holm-adjusted (default 0.01):
   * an A/B judges every benchmark of every platform at once, and a pull request's gate runs on every push.
   */
  pairedAlpha?: number;
  /**
   * Figures of the baseline the current run may lack without failing the gate: true for all, or
   * entries naming a platform, a benchmark, or "platform/benchmark". A failure is never allowed.
   */
  allowMissing?: boolean | readonly string[];
}

/** Percentile-bootstrap 95 % interval of the change (ratio - 1) from baseline to current. */
export function bootstrapChangeCi(baseline: readonly number[], current: readonly number[], better: 'higher' | 'lower'): [number, number] {
  const [low, high] = bootstrapRatioCi(baseline, current, better);
  return [low - 1, high - 1];
}

/**
 * p-value of the rank test; 1 when every sample is the same value (no evidence of a difference).
 * Kruskal-Wallis on two groups (the two-sided Mann-Whitney U test, normal approximation, with the
 * correction for ties), as @stdlib/stats-kruskal-test computes it, from one sort: stdlib's ranking
 * grows with the square of the samples (a million a side never finished), this takes about a second.
 */
export function rankTestPValue(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return Number.NaN;
  const n = a.length + b.length;
  const values = new Float64Array(n);
  values.set(a);
  values.set(b, a.length);
  // Sort the indices by value; an index below a.length is one of a's.
  const order = new Uint32Array(n).map((_, i) => i).sort((i, j) => values[i]! - values[j]!);
  let rankSumA = 0;
  let tieTerm = 0; // sum of t^3 - t over groups of equal values
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    const midRank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) if (order[k]! < a.length) rankSumA += midRank;
    const t = end - start;
    tieTerm += t * t * t - t;
    start = end;
  }
  const rankSumB = (n * (n + 1)) / 2 - rankSumA;
  const h = (12 / (n * (n + 1))) * (rankSumA ** 2 / a.length + rankSumB ** 2 / b.length) - 3 * (n + 1);
  const correction = 1 - tieTerm / (n ** 3 - n);
  if (!(correction > 0)) return 1; // every value the same
  // H follows a chi-square distribution with one degree of freedom: P(X > H) = erfc(sqrt(H / 2)).
  return erfc(Math.sqrt(Math.max(0, h / correction) / 2));
}

/**
 * Two-sided p-value of the Wilcoxon signed-rank test that the differences are centred on 0; zeros are
 * dropped, ties get mid-ranks. Exact (the distribution of the rank sum given the ranks) up to
 * SIGNED_RANK_EXACT_MAX differences, then the normal approximation with the tie correction. 1 without differences.
 */
export function signedRankPValue(differences: readonly number[]): number {
  const nonZero = differences.filter((d) => d !== 0 && Number.isFinite(d));
  const n = nonZero.length;
  if (n === 0) return 1;
  const order = nonZero.map((d, i) => [Math.abs(d), i] as const).sort((x, y) => x[0] - y[0]);
  // Ranks doubled, so that mid-ranks of ties are whole numbers.
  const doubled = new Array<number>(n);
  let tieTerm = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && order[end]![0] === order[start]![0]) end++;
    for (let k = start; k < end; k++) doubled[order[k]![1]] = start + 1 + end; // 2 × mid-rank
    const t = end - start;
    tieTerm += t * t * t - t;
    start = end;
  }
  const positive = nonZero.reduce((sum, d, i) => (d > 0 ? sum + doubled[i]! : sum), 0);
  const total = n * (n + 1); // the doubled ranks' sum
  if (n <= SIGNED_RANK_EXACT_MAX) {
    // P(sum of a random half-chance subset of the doubled ranks = s), s = 0..total.
    let probability = new Float64Array(total + 1);
    probability[0] = 1;
    for (const rank of doubled) {
      const next = new Float64Array(total + 1);
      for (let sum = 0; sum <= total; sum++) {
        const p = probability[sum]!;
        if (p === 0) continue;
        next[sum] = next[sum]! + p / 2;
        next[sum + rank] = next[sum + rank]! + p / 2;
      }
      probability = next;
    }
    let below = 0;
    let above = 0;
    for (let sum = 0; sum <= total; sum++) {
      if (sum <= positive) below += probability[sum]!;
      if (sum >= positive) above += probability[sum]!;
    }
    return Math.min(1, 2 * Math.min(below, above));
  }
  const mean = total / 2; // of the doubled sum: 2 × n(n+1)/4
  const variance = 4 * ((n * (n + 1) * (2 * n + 1)) / 24 - tieTerm / 48);
  if (!(variance > 0)) return 1;
  const z = Math.max(0, Math.abs(positive - mean) - 1) / Math.sqrt(variance); // continuity: ±0.5 of a rank, 1 doubled
  return erfc(z / Math.SQRT2);
}

/** Above this many differences the signed-rank test uses the normal approximation. */
const SIGNED_RANK_EXACT_MAX = 100;

/** Fewer pairs than this: the sides are compared as two groups, as if unpaired. */
const MIN_PAIRS = 6;

/** Holm's step-down adjustment of p-values (same order as given). */
export function holmAdjust(pValues: readonly number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const adjusted = new Array<number>(m);
  let running = 0;
  for (const [k, [p, i]] of order.entries()) {
    running = Math.max(running, Math.min(1, (m - k) * p));
    adjusted[i] = running;
  }
  return adjusted;
}

/** The samples of both sides that share a pair (extra.pair): [baseline, current, run] per pair. */
function pairSamples(before: BenchmarkResult, after: BenchmarkResult): { base: number; value: number; run: string | number }[] {
  return samplesPairedBy('pair', before, after).map(([base, sample]) => ({
    base: base.value,
    value: sample.value,
    run: sample.extra.run ?? 0,
  }));
}

const key = (r: Pick<BenchmarkResult, 'platform' | 'benchmark'>) => `${r.platform}\u0000${r.benchmark}`;

function checkFraction(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value < 10)) {
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `${name} must be a fraction such as 0.05 (5 %), got ${value}`);
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
  const alpha = options.alpha ?? 0.05;
  const pairedAlpha = options.pairedAlpha ?? 0.01;
  checkFraction('threshold', options.threshold);
  checkFraction('failThreshold', options.failThreshold);
  for (const [name, value] of Object.entries({ ...options.thresholds, ...options.failThresholds })) checkFraction(name, value);

  const before = new Map(baseline.results.map((r) => [key(r), r]));
  const after = new Map(current.results.map((r) => [key(r), r]));
  const platformsNow = new Set(current.results.map((r) => r.platform));
  const comparisons: Comparison[] = [];
  /** Rows with figures on both sides, judged once all are known (the paired ones as a family). */
  const judged: { row: Comparison; failedNow: boolean; runs: string }[] = [];
  for (const k of new Set([...after.keys(), ...before.keys()])) {
    const base = before.get(k);
    const now = after.get(k);
    const any = (now ?? base)!;
    const threshold = options.thresholds?.[any.benchmark] ?? options.threshold ?? 0.05;
    const failThreshold = options.failThresholds?.[any.benchmark] ?? options.failThreshold ?? threshold;
    const row: Comparison = {
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
    comparisons.push(row);
    if (now && isStandIn(now)) {
      // A variant measures only what it varies: by design, not a lost figure, and nothing of its own to compare.
      row.reason = `not measured by design: ${now.standIn}'s figure stands in`;
      row.note = `${row.reason} (a variant measures only what it varies)`;
      continue;
    }
    // A stand-in in the baseline was another platform's figure: what is measured now has no baseline.
    if (!base || (isStandIn(base) && now?.status === 'passed')) {
      row.verdict = 'added';
      row.reason = base ? `new in the current run (the baseline showed ${base.standIn}'s figure)` : 'new in the current run';
      continue;
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
      continue;
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
      continue;
    }
    if (base.unit !== now.unit || base.better !== now.better) {
      const changed =
        base.unit !== now.unit
          ? `unit changed from ${base.unit} to ${now.unit}`
          : `direction changed from ${base.better} to ${now.better} is better`;
      if (failedNow) row.note = `${row.note}; ${changed}`;
      else lost(changed);
      row.note ??= changed;
      continue;
    }
    const a = base.samples.map((s) => s.value);
    const b = now.samples.map((s) => s.value);
    if (a.length === 0 || b.length === 0) {
      const empty = `no runs in the ${a.length === 0 ? 'baseline' : 'current'} file`;
      if (!failedNow && b.length === 0) lost('no runs in the current run');
      else if (!failedNow) row.reason = 'no runs in the baseline';
      row.note ??= empty;
      continue;
    }
    const pairs = pairSamples(base, now);
    const paired =
      pairs.length >= MIN_PAIRS
        ? pairedRatioEstimate(
            pairs.map((p) => [p.base, p.value] as const),
            now.better,
          )
        : undefined;
    if (paired) {
      // Both sides took turns sample by sample: each pair met the same machine, so its ratio is the change.
      row.pairs = pairs.length;
      row.change = paired.ratio - 1;
      row.changeCi95 = [paired.ci95[0] - 1, paired.ci95[1] - 1];
      row.pValue = signedRankPValue(pairs.map((p) => Math.log(performanceRatio(p.value, p.base, now.better))));
      row.noiseFloor = pairedRunSpread(pairs, now.better);
    } else {
      row.change = performanceRatio(median(b), median(a), now.better) - 1;
      row.changeCi95 = bootstrapChangeCi(a, b, now.better);
      row.pValue = rankTestPValue(a, b);
      const spreads = [runSpread(base.samples), runSpread(now.samples)].filter((x) => x !== undefined);
      if (spreads.length > 0) row.noiseFloor = Math.max(...spreads);
    }
    judged.push({ row, failedNow, runs: `${a.length} vs ${b.length} runs` });
  }

  // The paired rows are one family: their p-values are adjusted together, so that judging many
  // benchmarks at once does not make a false alarm likely.
  const pairedRows = judged.filter((j) => j.row.pairs !== undefined).map((j) => j.row);
  holmAdjust(pairedRows.map((r) => r.pValue!)).forEach((p, i) => (pairedRows[i]!.pValueAdjusted = p));
  for (const { row, failedNow, runs } of judged) {
    const change = row.change!;
    const threshold = row.threshold;
    const p = row.pValueAdjusted ?? row.pValue!;
    const significant = p < (row.pairs !== undefined ? pairedAlpha : alpha);
    const evidence =
      row.pairs !== undefined ? `p=${formatP(p)} after Holm over ${pairedRows.length} figures, ${row.pairs} pairs` : `p=${formatP(p)}`;
    let reason: string;
    if (Math.abs(change) <= threshold || !significant) {
      row.verdict = 'unchanged';
      reason = `within the noise threshold (${formatPercent(threshold)})`;
      if (Math.abs(change) > threshold) {
        row.note = `not significant (${evidence}${row.pairs !== undefined ? '' : `, ${runs}`})`;
        reason = row.note;
      }
    } else if (row.noiseFloor !== undefined && Math.abs(change) <= row.noiseFloor) {
      // Runs of the same code differed this much: a change inside that is not the code's.
      row.verdict = 'unchanged';
      row.note =
        row.pairs !== undefined
          ? `within the run-to-run noise: the change differed by ${formatPercent(row.noiseFloor)} between paired runs`
          : `within the run-to-run noise: runs of the same side differed by ${formatPercent(row.noiseFloor)}`;
      reason = row.note;
    } else {
      row.verdict = change > 0 ? 'improved' : 'regressed';
      reason = `beyond the noise threshold (${formatPercent(threshold)}), ${evidence}`;
    }
    if (row.verdict === 'regressed') {
      const beyond = -change > row.failThreshold;
      row.failsGate ||= beyond;
      reason = `${beyond ? 'beyond' : 'within'} the fail threshold (${formatPercent(row.failThreshold)})`;
    }
    row.reason = failedNow ? `failed in the current run; ${reason}` : reason;
  }
  return comparisons;
}

/**
 * Why these paired rows could not show any change, however large: with n pairs the smallest
 * signed-rank p-value is 2 / 2^n, and Holm multiplies it by the number of rows. Undefined when they can.
 */
export function pairsTooFew(comparisons: readonly Comparison[], pairedAlpha = 0.01): string | undefined {
  const paired = comparisons.filter((c) => c.pairs !== undefined);
  if (paired.length === 0) return undefined;
  const fewest = Math.min(...paired.map((c) => c.pairs!));
  if (2 * 0.5 ** fewest * paired.length < pairedAlpha) return undefined;
  const needed = Math.floor(1 + Math.log2(paired.length / pairedAlpha)) + 1;
  return (
    `${fewest} pairs cannot show a change among ${paired.length} paired figures at ${formatPercent(pairedAlpha)}: ` +
    `at least ${needed} pairs are needed; fix: more runs (--runs) or rounds (--rounds), or fewer platforms or benchmarks`
  );
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

/**
 * How far the paired change differed between runs (largest per-run median ratio over the smallest,
 * minus one); undefined with fewer than two runs of at least MIN_PAIRS / 2 pairs.
 */
function pairedRunSpread(pairs: readonly { base: number; value: number; run: string | number }[], better: 'higher' | 'lower') {
  const byRun = new Map<string | number, number[]>();
  for (const p of pairs) byRun.set(p.run, [...(byRun.get(p.run) ?? []), performanceRatio(p.value, p.base, better)]);
  const medians = [...byRun.values()].filter((ratios) => ratios.length >= MIN_PAIRS / 2).map((ratios) => median(ratios));
  if (medians.length < 2) return undefined;
  return Math.max(...medians) / Math.min(...medians) - 1;
}

/** The row's reason, or its note for a row from before reasons. */
export function reasonOf(c: Pick<Comparison, 'reason' | 'note'>): string {
  return c.reason ?? c.note ?? '';
}

function formatSignedPercent(fraction: number): string {
  return `${fraction >= 0 ? '+' : '-'}${formatPercent(Math.abs(fraction))}`;
}

/** Parses "5%", "0.05" or "disk-random=10%" as given on the command line. */
export function parseThreshold(text: string): { benchmark?: string; value: number } {
  const [benchmark, raw] = text.includes('=') ? (text.split('=', 2) as [string, string]) : [undefined, text];
  const value = raw.endsWith('%') ? Number(raw.slice(0, -1)) / 100 : Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value < 0) {
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `bad threshold "${text}": use a percentage such as 5% or benchmark=10%`);
  }
  return { benchmark, value };
}
