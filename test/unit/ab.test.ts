import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canShareTurnstile } from '../../src/ab/run-ab.js';
import { poolRuns } from '../../src/ab/pool.js';
import { abSchedule } from '../../src/ab/schedule.js';
import { resultOf, resultsFileOf } from '../builders.js';

const withRounds = (values: number[]) => resultOf('native', 'cpu', values, {}).samples.map((s, i) => ({ ...s, extra: { round: i + 1 } }));

describe('the A/B schedule', () => {
  it('takes turns, base first, so drift falls on both sides alike', () => {
    expect(abSchedule(3).map((r) => `${r.side[0]}${r.round}`)).toEqual(['b1', 'h1', 'b2', 'h2', 'b3', 'h3']);
  });
});

describe('pooling the runs of one side', () => {
  const run = (values: number[], over = {}) => resultsFileOf([{ ...resultOf('native', 'cpu', values, over), samples: withRounds(values) }]);

  it('tags each sample with its run, renumbers turnstile rounds and recomputes the summary', () => {
    const pooled = poolRuns(
      [
        { round: 1, file: run([10, 12]) },
        { round: 2, file: run([20, 22]) },
      ],
      { side: 'base', ref: 'main', commit: 'abc' },
    );
    const [cpu] = pooled.results;
    expect(cpu!.samples.map((s) => [s.value, s.extra.run, s.extra.round])).toEqual([
      [10, 1, 1],
      [12, 1, 2],
      [20, 2, 3],
      [22, 2, 4],
    ]);
    expect(cpu!.summary!.n).toBe(4);
    expect(pooled.environment.host).toMatchObject({ abSide: 'base', abRef: 'main', abCommit: 'abc', abRuns: 2 });
  });

  it('paired runs: each sample is tagged with its pair (run and turnstile round), which the other side shares', () => {
    const runs = (values: number[][]) => values.map((v, i) => ({ round: i + 1, file: run(v) }));
    const base = poolRuns(runs([[10, 12], [20]]), { side: 'base', ref: 'main', commit: 'abc' }, { paired: true });
    const head = poolRuns(runs([[11, 13, 14], [21]]), { side: 'head', ref: 'pr', commit: 'def' }, { paired: true });
    const pairs = (file: typeof base) => file.results[0]!.samples.map((s) => s.extra.pair);
    expect(pairs(base)).toEqual([1_000_001, 1_000_002, 2_000_001]);
    // The head took one more turn in run 1: its pairs still line up with the base's, round by round.
    expect(pairs(head)).toEqual([1_000_001, 1_000_002, 1_000_003, 2_000_001]);
    expect(poolRuns(runs([[10]]), { side: 'base', ref: 'main', commit: 'abc' }).results[0]!.samples[0]!.extra.pair).toBeUndefined();
  });

  it('a benchmark that failed in any run is failed, with that run named', () => {
    const pooled = poolRuns(
      [
        { round: 1, file: run([10, 12]) },
        { round: 2, file: run([20], { status: 'failed', error: 'exit 139' }) },
      ],
      { side: 'head', ref: 'working tree', commit: 'def' },
    );
    expect(pooled.results[0]).toMatchObject({ status: 'failed', error: 'round 2: exit 139' });
    expect(pooled.results[0]!.samples).toHaveLength(3);
  });

  it("a stand-in in one run and a measurement in another is a measurement, not another platform's figure", () => {
    const standIn = { status: 'skipped' as const, standIn: 'docker', skipReason: 'not measured on docker-volume: ...' };
    const pooled = poolRuns(
      [
        { round: 1, file: resultsFileOf([{ ...resultOf('native', 'cpu', [], standIn), samples: [] }]) },
        { round: 2, file: run([20, 22]) },
      ],
      { side: 'head', ref: 'working tree', commit: 'def' },
    );
    expect(pooled.results[0]).toMatchObject({ status: 'passed' });
    expect(pooled.results[0]!.standIn).toBeUndefined();
    expect(pooled.results[0]!.skipReason).toBeUndefined();
    // Stand-ins in every run stay one.
    const both = poolRuns(
      [1, 2].map((round) => ({ round, file: resultsFileOf([{ ...resultOf('native', 'cpu', [], standIn), samples: [] }]) })),
      { side: 'head', ref: 'working tree', commit: 'def' },
    );
    expect(both.results[0]).toMatchObject({ status: 'skipped', standIn: 'docker' });
  });
});

describe('whether a checkout can share the A/B turnstile', () => {
  it('needs sharedTurnstile 3 (connections present the secret): an older side runs on its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtbench-ab-'));
    for (const [version, can] of [
      [undefined, false],
      [2, false],
      [3, true],
    ] as const) {
      writeFileSync(
        join(dir, 'package.json'),
        JSON.stringify({ name: 'virtbench', ...(version ? { virtbench: { sharedTurnstile: version } } : {}) }),
      );
      expect(await canShareTurnstile(dir), String(version)).toBe(can);
    }
  });
});
