import { isStandIn, type BenchmarkResult } from '../results/schema.js';

/**
 * One line per platform and reason: "qemu-kvm skipped: ..." when a whole
 * platform cannot run, "unikernel fork: n/a: ..." for a benchmark it cannot run,
 * "qemu-tcg-ide cpu, mem: not measured on ..." for the stand-ins of a variant.
 */
export function skipLines(results: readonly BenchmarkResult[]): string[] {
  const byReason = new Map<string, { platform: string; reason: string; standIn: boolean; benchmarks: string[] }>();
  for (const r of results.filter((x) => x.status === 'skipped')) {
    const standIn = isStandIn(r);
    const reason = r.skipReason ?? (standIn ? `not measured on ${r.platform}: shown is ${r.standIn}'s figure` : 'skipped');
    const key = `${r.platform}\u0000${standIn}\u0000${reason}`;
    const entry = byReason.get(key) ?? { platform: r.platform, reason, standIn, benchmarks: [] };
    entry.benchmarks.push(r.benchmark);
    byReason.set(key, entry);
  }
  return [...byReason.values()].map(({ platform, reason, standIn, benchmarks }) => {
    // Stand-ins always name their benchmarks: "skipped" would read as if the platform could not run.
    const all = !standIn && results.filter((r) => r.platform === platform).length === benchmarks.length;
    return all ? `${platform} skipped: ${reason}` : `${platform} ${benchmarks.join(', ')}: ${reason}`;
  });
}
