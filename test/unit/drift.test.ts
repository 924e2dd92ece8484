import { describe, expect, it } from 'vitest';
import { drift, driftWarnings, hostMovement } from '../../src/statistics/drift.js';
import { resultOf } from '../builders.js';

/*
 * Shaped on the run of issue 16: each platform measured in its own block while
 * the shared machine's speed moved, so docker read as 0.84x native on cpu.
 */
describe('drift of the host during a run', () => {
  it("is the change of the baseline's median from its earlier to its later runs", () => {
    expect(drift(resultOf('native', 'cpu', [3.6e6, 3.5e6, 3.2e6, 2.8e6, 2.7e6]))).toBeCloseTo((3.55e6 - 2.75e6) / 3.55e6, 6);
    expect(drift(resultOf('native', 'cpu', [3e6, 3e6, 3e6]))).toBeUndefined(); // too few runs to tell
  });

  it('warns when a trend test says the host moved, and names the differences smaller than the movement', () => {
    const falling = [3.6e6, 3.55e6, 3.5e6, 3.3e6, 3.2e6, 3.0e6, 2.9e6, 2.8e6];
    const native = resultOf('native', 'cpu', falling);
    const docker = resultOf('docker', 'cpu', [2.9e6, 2.89e6, 2.91e6, 2.9e6, 2.9e6, 2.89e6, 2.9e6, 2.91e6]);
    const [warning, ...rest] = driftWarnings([native, docker], 'native');
    expect(rest).toEqual([]);
    expect(warning).toMatch(
      /^the host moved: native's runs trend over time \(p=\S+ over 1 benchmarks\); from its earlier to its later runs: cpu 1\d%; differences smaller than that are reported on docker cpu/,
    );
  });

  it('stays silent when the baseline holds still or merely wobbles, however far its halves differ', () => {
    const steady = resultOf('native', 'cpu', [3.2e6, 3.18e6, 3.19e6, 3.21e6, 3.2e6]);
    const slower = resultOf('qemu-tcg', 'cpu', [199e3, 198e3, 200e3, 197e3, 199e3]);
    expect(driftWarnings([steady, slower], 'native')).toEqual([]);
    // Five runs whose halves differ by 12 % with no trend a rank test can see at 5 %.
    const wobbling = resultOf('native', 'cpu', [3.6e6, 3.55e6, 2.75e6, 2.8e6, 3.5e6]);
    expect(drift(wobbling)).toBeGreaterThan(0.1);
    expect(hostMovement([wobbling], 'native')!.pValue).toBeGreaterThan(0.05);
    expect(driftWarnings([wobbling, slower], 'native')).toEqual([]);
  });

  it('combines the benchmarks: several small trends the same way are a moving host', () => {
    const down = (scale: number) => [5, 4.9, 4.8, 4.7, 4.6].map((v) => v * scale);
    const results = ['cpu', 'mem', 'fork', 'disk-random', 'nginx'].map((b) => resultOf('native', b, down(1)));
    const movement = hostMovement(results, 'native')!;
    // Each alone: p = 2/120 at five runs; together far below 5 %.
    expect(movement.benchmarks.every((b) => b.pValue > 0.01)).toBe(true);
    expect(movement.pValue).toBeLessThan(0.001);
    expect(driftWarnings(results, 'native')[0]).toMatch(/^the host moved/);
  });

  it('names a platform whose runs lost CPU to steal time, and reads 200,000 samples without a stack overflow', () => {
    const stolen = resultOf('qemu-tcg', 'mem', [1, 1, 1]);
    stolen.samples[1]!.extra.steal = 0.12;
    expect(driftWarnings([stolen], 'native')).toEqual([
      "steal time up to 12% during qemu-tcg's runs: another guest of this machine's host took its CPU",
    ]);
    const many = resultOf(
      'native',
      'mem',
      Array.from({ length: 200_000 }, (_, i) => 1 + (i % 7) / 1000),
    );
    expect(() => driftWarnings([many], 'native')).not.toThrow();
  });
});
