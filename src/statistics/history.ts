import type { HistoryEntry } from '../results/history.js';
import type { BenchmarkResult } from '../results/schema.js';
import { median } from './descriptive.js';

/**
 * The median of each recorded run's figure of `current` (its platform and benchmark), oldest first:
 * null where a run lacks it, did not pass, has no values, or measured it in another unit or direction
 * (another quantity, whose median is no point of the same trend).
 */
export function recordedMedians(
  current: Pick<BenchmarkResult, 'platform' | 'benchmark' | 'unit' | 'better'>,
  runs: readonly HistoryEntry[],
): (number | null)[] {
  return runs.map((run) => {
    const r = run.results.find((c) => c.platform === current.platform && c.benchmark === current.benchmark);
    const comparable = r && r.status === 'passed' && r.values.length > 0 && r.unit === current.unit && r.better === current.better;
    return comparable ? median(r.values) : null;
  });
}
