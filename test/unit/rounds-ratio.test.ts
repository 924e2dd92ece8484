import { describe, expect, it } from 'vitest';
import { ratioToBaseline } from '../../src/statistics/ratio.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { resultOf } from '../builders.js';

/*
 * Recorded: cpu (kFLOPS) of native and docker, standard profile, measured in
 * rounds on the 2-core development VM while its speed fell by a quarter
 * between round 1 and round 2 (every platform alike).
 */
const recorded = {
  native: [5541751.7, 5315194.7, 4088222.3, 4050390.7, 4128888.9],
  docker: [5580478.2, 5094174.6, 4063849.6, 4132611.9, 4084901.8],
};

function inRounds(platform: string, values: number[], rounds = true): BenchmarkResult {
  const result = resultOf(platform, 'cpu', values);
  result.samples.forEach((sample, round) => {
    if (rounds) sample.extra.round = round;
  });
  return result;
}

describe('ratios of runs taken in rounds', () => {
  it("pairs each round's runs, so the machine's drift cancels instead of widening the interval", () => {
    const paired = ratioToBaseline(inRounds('docker', recorded.docker), inRounds('native', recorded.native))!;
    expect(paired.ratio).toBeCloseTo(0.994, 3);
    expect(paired.ci95![0]).toBeGreaterThan(0.95);
    expect(paired.ci95![1]).toBeLessThan(1.03);
    expect(paired.verdict).toBe('equivalent'); // shown the same within ±5 %: ≈1x
  });

  it('without rounds, compares the two groups of runs, and the same drift makes the interval wide', () => {
    const grouped = ratioToBaseline(inRounds('docker', recorded.docker, false), inRounds('native', recorded.native, false))!;
    expect(grouped.ci95![1] - grouped.ci95![0]).toBeGreaterThan(0.2);
    expect(grouped.verdict).toBe('undecided'); // "? ±N%", never ≈1x
  });

  it('still resolves a real difference measured in rounds', () => {
    const slower = inRounds(
      'qemu-tcg',
      recorded.native.map((v) => v * 0.04),
    );
    const estimate = ratioToBaseline(slower, inRounds('native', recorded.native))!;
    expect(estimate.verdict).toBe('different');
    expect(estimate.ratio).toBeCloseTo(0.04, 6);
  });
});
