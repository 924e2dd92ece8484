import { describe, expect, it } from 'vitest';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { runVitestBench } from './helpers.js';

// native and native#2 (a second instance of native), five cpu samples each: see fixtures/e2e/rounds.config.ts.
const config = ['--root', 'fixtures/e2e', '--config', 'rounds.config.ts'];

/**
 * These tests also guard what is not a documented Vitest API (src/runtime/turn-reporter.ts):
 * when a Vitest update runs the platform projects one after another again, the
 * samples no longer interleave and the first test fails.
 */
describe('rounds: several platforms take their samples in turns', () => {
  it('interleaves the platforms’ samples of a benchmark in time, one per platform per round, in a seeded order', async () => {
    const run = await runVitestBench(config);
    expect(run.exitCode, run.output).toBe(0);
    const results = run.results!.results.filter((r) => r.benchmark === 'cpu');
    expect(results.map((r) => `${r.platform}:${r.status}`).sort()).toEqual(['native#2:passed', 'native:passed']);
    const [a, b] = results as [BenchmarkResult, BenchmarkResult];

    for (const result of results) expect(result.samples).toHaveLength(5);
    // Sample i of each platform lies between samples i-1 and i+1 of the other.
    const times = (r: BenchmarkResult) => r.samples.map((s) => s.time);
    for (const [p, q] of [
      [times(a), times(b)],
      [times(b), times(a)],
    ] as const) {
      for (let i = 0; i < p.length; i++) {
        if (i > 0) expect(p[i], `sample ${i} after the other's sample ${i - 1}`).toBeGreaterThan(q[i - 1]!);
        if (i + 1 < q.length) expect(p[i], `sample ${i} before the other's sample ${i + 1}`).toBeLessThan(q[i + 1]!);
      }
    }
    for (const result of results) {
      // Round r holds the platform's r-th sample, with the host's steal time and load around it.
      expect(result.samples.map((s) => s.extra.round)).toEqual([0, 1, 2, 3, 4]);
      for (const sample of result.samples) {
        expect(sample.extra.steal).toBeGreaterThanOrEqual(0);
        expect(sample.extra.steal).toBeLessThanOrEqual(1);
        expect(sample.extra.load1).toBeGreaterThanOrEqual(0);
        expect(sample.value).toBeGreaterThan(0);
      }
    }

    // Rounds go in pairs, the second the reverse of the first: whoever went first in round 2k goes last in round 2k+1.
    const first = times(a).map((t, i) => (t < times(b)[i]! ? a.platform : b.platform));
    for (let i = 1; i < first.length; i += 2) expect(first[i]).not.toBe(first[i - 1]);
    // The seed of that order is in results.json, to repeat it (VIRTBENCH_ROUND_SEED).
    expect(run.results!.environment.host).toMatchObject({ roundOrder: 'random', roundSeed: expect.any(Number) });
  });

  it('--project with one of the platforms runs it alone, without waiting for the other', async () => {
    const started = Date.now();
    const run = await runVitestBench([...config, '--project', 'native#2']);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.results!.results.map((r) => `${r.platform}/${r.benchmark}`)).toEqual(['native#2/cpu']);
    expect(run.results!.results[0]!.samples.map((s) => s.extra.round)).toEqual([0, 1, 2, 3, 4]);
    // A room that waited for native would wait the turnstile's gather time (60 s).
    expect(Date.now() - started).toBeLessThan(45_000);
  });
});
