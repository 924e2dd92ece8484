import { describe, expect, it } from 'vitest';
import { formatDuration } from '../../src/results/format.js';
import type { BenchmarkResult, Question } from '../../src/results/schema.js';
import { resolutionTarget, runResolution } from '../../src/statistics/resolution.js';
import { resultOf, resultsFileOf } from '../builders.js';

/*
 * What a run resolved, on synthetic runs whose per-round ratios have a known spread: three rounds
 * whose log ratios are m - a, m, m + a have a standard error of a / sqrt(3), so the 95 % interval is
 * exp(m ± t(0.975, 2) a / sqrt(3)) and its relative half-width sinh(t(0.975, 2) a / sqrt(3)).
 */

const T_975_2 = 4.302652729911275;
const halfWidthOf = (a: number) => Math.sinh((T_975_2 * a) / Math.sqrt(3));

const START = 1_795_000_000;

/**
 * A result of `benchmark` (higher is better) taken in rounds 0, 1, 2...: round i's figure is
 * `base * ratios[i]`, its sample ends at START + offset + 10 i and measured `seconds`.
 */
function inRounds(
  platform: string,
  benchmark: string,
  ratios: number[],
  { base = 100, offset = 0, seconds = 2 } = {},
  over: Partial<BenchmarkResult> = {},
): BenchmarkResult {
  const result = resultOf(
    platform,
    benchmark,
    ratios.map((r) => base * r),
    { unit: 'ops/s', better: 'higher', ...over },
  );
  result.samples.forEach((sample, round) => Object.assign(sample, { time: START + offset + 10 * round, seconds, extra: { round } }));
  return result;
}

/** Per-round ratios around `ratio` whose logs spread by ±a. */
const spread = (ratio: number, a: number) => [-a, 0, a].map((d) => ratio * Math.exp(d));

const ask = (platform: string, against: string, benchmarks: string[], aa?: boolean): Question => ({
  question: `${platform} against ${against}?`,
  ...(aa ? { aa } : {}),
  comparisons: [{ platform, against, benchmarks }],
});

describe('runResolution', () => {
  it("gives each comparison ratioToBaseline's ratio and interval, and its relative half-width", () => {
    const file = {
      ...resultsFileOf([inRounds('native', 'cpu', [1, 1, 1]), inRounds('docker', 'cpu', spread(0.8, 0.05))]),
      questions: [ask('docker', 'native', ['cpu'])],
    };
    const [cpu] = runResolution(file);
    const [comparison] = cpu!.comparisons;
    expect(comparison).toMatchObject({ platform: 'docker', against: 'native', verdict: 'different', decided: false });
    expect(comparison!.ratio).toBeCloseTo(0.8, 10);
    const k = (T_975_2 * 0.05) / Math.sqrt(3);
    expect(comparison!.ci95![0]).toBeCloseTo(0.8 * Math.exp(-k), 10);
    expect(comparison!.ci95![1]).toBeCloseTo(0.8 * Math.exp(k), 10);
    expect(comparison!.halfWidth).toBeCloseTo(halfWidthOf(0.05), 10); // 12.5 %
    expect(cpu!.halfWidth).toBeCloseTo(halfWidthOf(0.05), 10);
  });

  it('takes the interval the table shows: the 98 % one where rounds were added until decided', () => {
    const T_99_2 = 6.964556734283274;
    const file = {
      ...resultsFileOf([
        inRounds('native', 'cpu', [1, 1, 1], {}, { stoppedBy: 'budget' }),
        inRounds('docker', 'cpu', spread(0.8, 0.01), {}, { stoppedBy: 'budget' }),
      ]),
      questions: [ask('docker', 'native', ['cpu'])],
    };
    expect(runResolution(file)[0]!.halfWidth).toBeCloseTo(Math.sinh((T_99_2 * 0.01) / Math.sqrt(3)), 10);
  });

  it("takes the widest comparison's half-width for the benchmark, and decides each against the target", () => {
    const file = {
      ...resultsFileOf([
        inRounds('native', 'mem', [1, 1, 1]),
        inRounds('docker', 'mem', spread(0.9, 0.004)), // ±1.0 %
        inRounds('gvisor', 'mem', spread(0.5, 0.03)), // ±7.5 %
      ]),
      questions: [
        { question: 'What do the sandboxes cost?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['mem'] }] },
        { question: 'And gVisor?', comparisons: [{ platform: 'gvisor', against: 'docker', benchmarks: ['mem'] }] },
      ],
    };
    const [mem] = runResolution(file);
    expect(mem!.comparisons.map((c) => [c.platform, c.against, c.decided])).toEqual([
      ['docker', 'native', true],
      ['gvisor', 'docker', false],
    ]);
    const gvisor = mem!.comparisons[1]!;
    expect(mem!.halfWidth).toBe(gvisor.halfWidth);
    expect(mem!.halfWidth).toBeGreaterThan(0.05);
    expect(mem!.comparisons[0]!.halfWidth).toBeLessThan(0.02);
    // A looser target decides both; a stated one in the file is the default.
    expect(runResolution(file, 0.1)[0]!.comparisons.every((c) => c.decided)).toBe(true);
    const stated = { ...file, environment: { ...file.environment, host: { untilWithin: 0.1 } } };
    expect(resolutionTarget(stated)).toBe(0.1);
    expect(runResolution(stated)[0]!.comparisons.every((c) => c.decided)).toBe(true);
    expect(resolutionTarget(file)).toBe(0.05);
  });

  it('counts a comparison shown the same as decided, even where its interval is wider than the target', () => {
    // 95 %: ±6.0 %, wider than 5 %; 90 %: within ±4.1 %, so equivalent.
    const a = (0.06 * Math.sqrt(3)) / T_975_2;
    const file = {
      ...resultsFileOf([inRounds('native', 'fork', [1, 1, 1]), inRounds('docker', 'fork', spread(1, a))]),
      questions: [ask('docker', 'native', ['fork'])],
    };
    const [comparison] = runResolution(file)[0]!.comparisons;
    expect(comparison!.halfWidth).toBeGreaterThan(0.05);
    expect(comparison).toMatchObject({ verdict: 'equivalent', decided: true });
  });

  it('leaves out a comparison whose result failed, and one with a stand-in; a failed run still took time', () => {
    const file = {
      ...resultsFileOf([
        inRounds('native', 'cpu', [1, 1, 1]),
        inRounds('docker', 'cpu', spread(0.9, 0.01)),
        inRounds('kata', 'cpu', [0.5, 0.5], { offset: 100 }, { status: 'failed', error: 'kata exited' }),
        resultOf('docker-ide', 'cpu', [], { status: 'skipped', standIn: 'docker', skipReason: 'not measured' }),
      ]),
      questions: [
        ask('docker', 'native', ['cpu']),
        ask('kata', 'native', ['cpu']),
        ask('docker-ide', 'native', ['cpu']),
        ask('native', 'kata', ['cpu']),
      ],
    };
    const [cpu] = runResolution(file);
    expect(cpu!.comparisons.map((c) => c.platform)).toEqual(['docker']);
    // From native's first sample (START - 2) to kata's last (START + 110).
    expect(cpu!.seconds).toBe(112);
  });

  it('counts A/A questions, and passes over benchmarks and platforms the run does not have', () => {
    const file = {
      ...resultsFileOf([inRounds('native', 'cpu', [1, 1, 1]), inRounds('native#2', 'cpu', spread(1, 0.01))]),
      questions: [ask('native#2', 'native', ['cpu', 'nginx'], true), ask('podman', 'native', ['cpu'])],
    };
    const resolved = runResolution(file);
    expect(resolved.map((r) => r.benchmark)).toEqual(['cpu']);
    expect(resolved[0]!.comparisons.map((c) => `${c.platform} vs ${c.against}`)).toEqual(['native#2 vs native']);
    expect(resolved[0]!.halfWidth).toBeCloseTo(halfWidthOf(0.01), 10);
  });

  it('states a pair of platforms once, whichever way round the questions ask it', () => {
    const file = {
      ...resultsFileOf([inRounds('native', 'cpu', [1, 1, 1]), inRounds('docker', 'cpu', spread(0.9, 0.01))]),
      questions: [ask('docker', 'native', ['cpu']), ask('native', 'docker', ['cpu']), ask('docker', 'native', ['cpu'])],
    };
    expect(runResolution(file)[0]!.comparisons).toHaveLength(1);
  });

  it('without questions, compares each platform with the baseline, as the findings do', () => {
    const file = resultsFileOf([
      inRounds('docker', 'cpu', spread(0.9, 0.01)),
      inRounds('native', 'cpu', [1, 1, 1]),
      inRounds('qemu', 'cpu', spread(0.5, 0.02)),
    ]);
    expect(runResolution(file)[0]!.comparisons.map((c) => `${c.platform} vs ${c.against}`)).toEqual(['docker vs native', 'qemu vs native']);
  });

  it("gives a benchmark's wall time over all platforms and the most rounds any took", () => {
    const file = resultsFileOf([
      inRounds('native', 'cpu', [1, 1, 1], { seconds: 3 }), // START - 3 .. START + 20
      inRounds('docker', 'cpu', spread(0.9, 0.01).concat(0.9, 0.9), { offset: 5 }), // 5 rounds, .. START + 45
      inRounds('native', 'mem', [1, 1]),
      inRounds('docker', 'mem', [1, 1]),
    ]);
    const [cpu, mem] = runResolution(file);
    expect(cpu).toMatchObject({ benchmark: 'cpu', seconds: 48, rounds: 5 });
    expect(mem).toMatchObject({ benchmark: 'mem', seconds: 12, rounds: 2 });
  });

  it('has no half-width where one round gives no interval, and such a comparison is not decided', () => {
    const file = resultsFileOf([inRounds('native', 'cpu', [1]), inRounds('docker', 'cpu', [0.9])]);
    const [cpu] = runResolution(file);
    expect(cpu!.halfWidth).toBeUndefined();
    expect(cpu!.comparisons[0]).toMatchObject({ verdict: 'undecided', decided: false });
    expect(cpu!.comparisons[0]!.halfWidth).toBeUndefined();
    expect(cpu!.rounds).toBe(1);
  });

  it('lists no benchmark that nothing sampled', () => {
    const file = resultsFileOf([
      inRounds('native', 'cpu', [1, 1]),
      resultOf('native', 'nginx', [], { status: 'skipped', skipReason: 'n/a' }),
    ]);
    expect(runResolution(file).map((r) => [r.benchmark, r.comparisons.length, r.halfWidth])).toEqual([['cpu', 0, undefined]]);
  });
});

describe('formatDuration', () => {
  it('reads as a wall time', () => {
    expect([0, 0.84, 9.96, 45, 190, 242, 3599.6, 3720, 7200].map(formatDuration)).toEqual([
      '0s',
      '0.8s',
      '10s',
      '45s',
      '3m10s',
      '4m02s',
      '1h00m',
      '1h02m',
      '2h00m',
    ]);
  });
});
