import type { BenchmarkResult } from '../results/schema.js';

/**
 * One line per platform and reason: "qemu-kvm skipped: ..." when a whole
 * platform cannot run, "unikernel fork: n/a: ..." for a benchmark it cannot run.
 */
export function skipLines(results: readonly BenchmarkResult[]): string[] {
  const byReason = new Map<string, { platform: string; reason: string; benchmarks: string[] }>();
  for (const r of results.filter((x) => x.status === 'skipped')) {
    const reason = r.skipReason ?? 'skipped';
    const key = `${r.platform}\u0000${reason}`;
    const entry = byReason.get(key) ?? { platform: r.platform, reason, benchmarks: [] };
    entry.benchmarks.push(r.benchmark);
    byReason.set(key, entry);
  }
  return [...byReason.values()].map(({ platform, reason, benchmarks }) => {
    const all = results.filter((r) => r.platform === platform).length === benchmarks.length;
    return all ? `${platform} skipped: ${reason}` : `${platform} ${benchmarks.join(', ')}: ${reason}`;
  });
}
