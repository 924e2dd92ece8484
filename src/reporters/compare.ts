import kruskalTest from '@stdlib/stats-kruskal-test';
import { VirtbenchError } from '../errors.js';
import type { BenchmarkResult, ResultsFile } from '../results/schema.js';
import { bootstrapRatioCi, median, performanceRatio } from '../results/statistics.js';

export type Verdict = 'improved' | 'unchanged' | 'regressed' | 'added' | 'removed' | 'not comparable';

export interface Comparison {
  platform: string;
  benchmark: string;
  unit: string;
  better: 'higher' | 'lower';
  verdict: Verdict;
  baselineMedian?: number;
  currentMedian?: number;
  /** Performance change, oriented so that +0.05 is 5 % better and -0.05 is 5 % worse. */
  change?: number;
  /** Percentile-bootstrap 95 % interval of that change. */
  changeCi95?: [number, number];
  /** Two-sided rank test of equal distributions (Kruskal-Wallis with two groups = Mann-Whitney U). */
  pValue?: number;
  threshold: number;
  failThreshold: number;
  /** True when this regression is beyond its fail threshold: the gate fails. */
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
}

/** Percentile-bootstrap 95 % interval of the change (ratio - 1) from baseline to current. */
export function bootstrapChangeCi(baseline: readonly number[], current: readonly number[], better: 'higher' | 'lower'): [number, number] {
  const [low, high] = bootstrapRatioCi(baseline, current, better);
  return [low - 1, high - 1];
}

/** p-value of the rank test; 1 when every sample is the same value (no evidence of a difference). */
export function rankTestPValue(a: readonly number[], b: readonly number[]): number {
  if (a.length === 0 || b.length === 0) return Number.NaN;
  const p = kruskalTest([...a], [...b]).pValue;
  return Number.isNaN(p) ? 1 : p;
}

const key = (r: Pick<BenchmarkResult, 'platform' | 'benchmark'>) => `${r.platform}\u0000${r.benchmark}`;

function checkFraction(name: string, value: number | undefined): void {
  if (value !== undefined && !(value >= 0 && value < 10)) {
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `${name} must be a fraction such as 0.05 (5 %), got ${value}`);
  }
}

/** Compares every (platform, benchmark) of two results files. */
export function compareResults(baseline: ResultsFile, current: ResultsFile, options: CompareOptions = {}): Comparison[] {
  const alpha = options.alpha ?? 0.05;
  checkFraction('threshold', options.threshold);
  checkFraction('failThreshold', options.failThreshold);
  for (const [name, value] of Object.entries({ ...options.thresholds, ...options.failThresholds })) checkFraction(name, value);

  const before = new Map(baseline.results.map((r) => [key(r), r]));
  const after = new Map(current.results.map((r) => [key(r), r]));
  const comparisons: Comparison[] = [];
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
      threshold,
      failThreshold,
      failsGate: false,
      baselineMedian: base?.summary?.median,
      currentMedian: now?.summary?.median,
    };
    comparisons.push(row);
    if (!base) {
      row.verdict = 'added';
      continue;
    }
    if (!now) {
      row.verdict = 'removed';
      continue;
    }
    if (base.unit !== now.unit || base.better !== now.better) {
      row.note = `unit changed from ${base.unit} to ${now.unit}`;
      continue;
    }
    const a = base.samples.map((s) => s.value);
    const b = now.samples.map((s) => s.value);
    if (now.status === 'failed') {
      // A pull request that breaks a benchmark fails the gate, whatever the runs before the failure say.
      row.note = 'failed in the current run';
      row.failsGate = true;
    }
    if (a.length === 0 || b.length === 0) {
      row.note ??= `no runs in the ${a.length === 0 ? 'baseline' : 'current'} file`;
      continue;
    }
    const change = performanceRatio(median(b), median(a), now.better) - 1;
    row.change = change;
    row.changeCi95 = bootstrapChangeCi(a, b, now.better);
    row.pValue = rankTestPValue(a, b);
    const significant = row.pValue < alpha;
    if (Math.abs(change) <= threshold || !significant) {
      row.verdict = 'unchanged';
      if (Math.abs(change) > threshold) row.note = `not significant (p=${row.pValue.toFixed(3)}, ${a.length} vs ${b.length} runs)`;
    } else {
      row.verdict = change > 0 ? 'improved' : 'regressed';
    }
    row.failsGate ||= row.verdict === 'regressed' && -change > failThreshold;
  }
  return comparisons;
}

export function gateFails(comparisons: readonly Comparison[]): boolean {
  return comparisons.some((c) => c.failsGate);
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
