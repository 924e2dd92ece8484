import { describe, expect, it } from 'vitest';
import { drift, driftWarnings } from '../../src/reporters/drift.js';
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

  it('warns when the host moved more than a difference the report states, and names the benchmark', () => {
    const native = resultOf('native', 'cpu', [3.6e6, 3.55e6, 3.2e6, 2.8e6, 2.75e6]);
    const docker = resultOf('docker', 'cpu', [2.66e6, 2.65e6, 2.67e6, 2.66e6, 2.66e6]);
    const [warning, ...rest] = driftWarnings([native, docker], 'native');
    expect(rest).toEqual([]);
    expect(warning).toMatch(
      /^the host moved: native's cpu changed 2\d% from its earlier to its later runs, more than the 1\d% difference reported on cpu/,
    );
  });

  it('stays silent when the baseline held still, and only notes a moving host when no difference is stated', () => {
    const steady = resultOf('native', 'cpu', [3.2e6, 3.18e6, 3.19e6, 3.21e6, 3.2e6]);
    const slower = resultOf('qemu-tcg', 'cpu', [199e3, 198e3, 200e3, 197e3, 199e3]);
    expect(driftWarnings([steady, slower], 'native')).toEqual([]);
    const moving = resultOf('native', 'cpu', [3.6e6, 3.55e6, 3.2e6, 2.8e6, 2.75e6]);
    const same = resultOf('docker', 'cpu', [3.6e6, 2.75e6, 3.2e6, 2.8e6, 3.55e6]);
    // docker ≈1x: nothing stated is in doubt, but the reader learns why the intervals are wide.
    expect(driftWarnings([moving, same], 'native')).toEqual([
      "the host moved: native's cpu changed 22% from its earlier to its later runs; rounds spread that over every platform, but differences smaller than the movement within a round read ≈1x",
    ]);
  });

  it('names a platform whose runs lost CPU to steal time', () => {
    const stolen = resultOf('qemu-tcg', 'mem', [1, 1, 1]);
    stolen.samples[1]!.extra.steal = 0.12;
    expect(driftWarnings([stolen], 'native')).toEqual([
      "steal time up to 12% during qemu-tcg's runs: another guest of this machine's host took its CPU",
    ]);
  });
});
