import type { BenchmarkResult } from '../src/results/schema.js';
import { resultOf } from './builders.js';

/**
 * A realistic default run: 11 platforms x 7 benchmarks in five rounds, with every kind of cell: ratios
 * (TCG at 0.03x), ≈1x, "? ±N%", stand-ins of the TCG variants, n/a, skipped (no KVM) and a failure.
 */
export function elevenPlatformRun(): { results: BenchmarkResult[]; platforms: string[] } {
  const platforms = [
    'native',
    'docker',
    'docker-volume',
    'docker-hostnet',
    'podman',
    'docker-gvisor',
    'qemu-kvm',
    'qemu-tcg',
    'qemu-tcg-qcow2',
    'qemu-tcg-ide',
    'unikernel',
  ];
  const benchmarks = [
    { benchmark: 'cpu', unit: 'kFLOPS', better: 'higher' as const, native: 5.6e6 },
    { benchmark: 'mem', unit: 's', better: 'lower' as const, native: 0.34 },
    { benchmark: 'disk-random', unit: 'IOPS', better: 'higher' as const, native: 64_000 },
    { benchmark: 'disk-copyup', unit: 's', better: 'lower' as const, native: 0.0042 },
    { benchmark: 'fork', unit: 's', better: 'lower' as const, native: 0.91 },
    { benchmark: 'fork-threads', unit: 's', better: 'lower' as const, native: 0.52, variant: 'threads' },
    { benchmark: 'nginx', unit: 'req/s', better: 'higher' as const, native: 48_000 },
  ];
  // Times native's time; the spread of the rounds: small where a ratio is shown, wide where it cannot tell.
  const cost: Record<string, { cost: number; spread: number }> = {
    native: { cost: 1, spread: 0.01 },
    docker: { cost: 1.01, spread: 0.01 },
    'docker-volume': { cost: 1.0, spread: 0.01 },
    'docker-hostnet': { cost: 1.04, spread: 0.12 },
    podman: { cost: 1.12, spread: 0.02 },
    'docker-gvisor': { cost: 2.6, spread: 0.04 },
    'qemu-tcg': { cost: 33, spread: 0.03 },
    'qemu-tcg-qcow2': { cost: 35, spread: 0.03 },
    'qemu-tcg-ide': { cost: 41, spread: 0.05 },
    unikernel: { cost: 1.3, spread: 0.02 },
  };
  // Where a platform's cost differs by benchmark (as measured: TCG translates code, gVisor intercepts syscalls).
  const costOf: Record<string, number> = {
    'docker/disk-copyup': 1.9,
    'docker-volume/disk-random': 0.97,
    'docker-gvisor/cpu': 1.02,
    'docker-gvisor/mem': 1.03,
    'docker-gvisor/fork': 6.5,
    'qemu-tcg/mem': 18,
    'qemu-tcg/disk-random': 11,
    'qemu-tcg/nginx': 24,
    'qemu-tcg-qcow2/disk-random': 13,
    'qemu-tcg-ide/disk-random': 19,
    'unikernel/cpu': 0.99,
  };
  const results: BenchmarkResult[] = [];
  for (const { benchmark, unit, better, native, variant } of benchmarks) {
    for (const platform of platforms) {
      const over = { unit, better, ...(variant ? { variant } : {}) };
      if (platform === 'qemu-kvm') {
        results.push(resultOf(platform, benchmark, [], { ...over, status: 'skipped', skipReason: 'KVM is not usable here' }));
        continue;
      }
      if (platform.startsWith('qemu-tcg-') && !benchmark.startsWith('disk')) {
        results.push(resultOf(platform, benchmark, [], { ...over, status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured' }));
        continue;
      }
      if (platform === 'unikernel' && !['cpu', 'mem', 'fork-threads'].includes(benchmark)) {
        results.push(resultOf(platform, benchmark, [], { ...over, status: 'skipped', skipReason: 'n/a: no such thing in a unikernel' }));
        continue;
      }
      if (platform === 'docker-gvisor' && benchmark === 'nginx') {
        results.push(resultOf(platform, benchmark, [1, 2, 3], { ...over, status: 'failed', error: 'nginx did not answer' }));
        continue;
      }
      const { cost: base, spread } = cost[platform]!;
      const times = costOf[`${platform}/${benchmark}`] ?? base;
      const median = better === 'higher' ? native / times : native * times;
      const values = [0, 1, -1, 0.5, -0.5].map((s) => median * (1 + s * spread));
      const row = resultOf(platform, benchmark, values, over);
      row.samples.forEach((sample, round) => (sample.extra = { round }));
      results.push(row);
    }
  }
  return { results, platforms };
}
