import { describe, expect, it } from 'vitest';
import { compareOptions } from '../../src/cli/options.js';
import { nameRecord, ownEntry } from '../../src/host/name-keys.js';
import { bencherMeasureSlug, toBencherBmf } from '../../src/reporters/formats/bencher.js';
import { mergeResults } from '../../src/results/merge.js';
import { validateResults } from '../../src/results/results-file.js';
import type { ResultsFile } from '../../src/results/schema.js';
import { compareResults, gateFails } from '../../src/statistics/compare.js';
import { asRuns, cliOutput, resultOf, resultsFileOf } from '../builders.js';

/*
 * Names users give (benchmarks, platforms, units) that are also keys of Object.prototype: "constructor"
 * and "toString" must not read as inherited methods, "__proto__" must be stored as a key, not set the
 * prototype.
 */
const ODD_NAMES = ['constructor', 'toString', '__proto__'];

describe('names that Object.prototype also has', () => {
  it('a record of names has no prototype, and a lookup reads own keys only', () => {
    const record = nameRecord<number>();
    record['__proto__'] = 1;
    expect(Object.keys(record)).toEqual(['__proto__']);
    expect(ownEntry(record, '__proto__')).toBe(1);
    expect(ownEntry(record, 'constructor')).toBeUndefined();
    expect(ownEntry({ a: 1 }, 'toString')).toBeUndefined();
    expect(ownEntry(undefined, 'a')).toBeUndefined();
  });

  it('compare: each gets the default threshold, so a 30 % regression fails the gate', () => {
    // Five runs a side, seconds (lower is better): 100 s, then 130 s.
    const base = resultsFileOf(ODD_NAMES.map((name) => asRuns(resultOf('native', name, [100, 101, 99, 100, 100]))));
    const now = resultsFileOf(ODD_NAMES.map((name) => asRuns(resultOf('native', name, [130, 131, 129, 130, 130]))));
    for (const options of [{}, { thresholds: {}, failThresholds: {} }, compareOptions({})]) {
      const rows = compareResults(base, now, options);
      expect(rows.map((r) => [r.benchmark, r.threshold, r.failThreshold, r.verdict, r.failsGate])).toEqual(
        ODD_NAMES.map((name) => [name, 0.05, 0.05, 'regressed', true]),
      );
      expect(gateFails(rows)).toBe(true);
    }
  });

  it('compare: a threshold given for one of them on the command line is its own', () => {
    const options = compareOptions({ threshold: ['__proto__=40%', 'toString=35%'], 'fail-threshold': ['__proto__=50%'] });
    expect(ownEntry(options.thresholds, '__proto__')).toBe(0.4);
    expect(ownEntry(options.failThresholds, '__proto__')).toBe(0.5);
    expect(ownEntry(options.thresholds, 'constructor')).toBeUndefined();
    const base = resultsFileOf(ODD_NAMES.map((name) => asRuns(resultOf('native', name, [100, 101, 99, 100, 100]))));
    const now = resultsFileOf(ODD_NAMES.map((name) => asRuns(resultOf('native', name, [130, 131, 129, 130, 130]))));
    const byName = new Map(compareResults(base, now, options).map((r) => [r.benchmark, r]));
    expect(byName.get('__proto__')).toMatchObject({ threshold: 0.4, failThreshold: 0.5, failsGate: false });
    expect(byName.get('toString')).toMatchObject({ threshold: 0.35, failThreshold: 0.35, failsGate: false });
    expect(byName.get('constructor')).toMatchObject({ threshold: 0.05, verdict: 'regressed', failsGate: true });
  });

  it("merge keeps each platform's facts, in the merged file and in its JSON", () => {
    const a = resultsFileOf([resultOf('__proto__', 'cpu', [1]), resultOf('constructor', 'cpu', [2])], { hostname: 'a' });
    // Facts of a platform the file has no result of (as a stand-in's file may have): kept where no other file has them.
    const b: ResultsFile = resultsFileOf([resultOf('native', 'cpu', [3])], { hostname: 'b' });
    b.environment.platforms = JSON.parse('{"toString": {"kernel": "6.6"}, "native": {"kernel": "6.1"}}');
    const merged = mergeResults([
      { path: 'a.json', file: a },
      { path: 'b.json', file: b },
    ]);
    const platforms = merged.environment.platforms;
    for (const name of ['__proto__', 'constructor', 'toString', 'native']) expect(Object.hasOwn(platforms, name), name).toBe(true);
    expect(ownEntry(platforms, '__proto__')).toEqual({ kernel: '6.1', host: 'a' });
    expect(ownEntry(platforms, 'constructor')).toEqual({ kernel: '6.1', host: 'a' });
    expect(ownEntry(platforms, 'toString')).toEqual({ kernel: '6.6', host: 'b' });
    // Written and read back as `virtbench merge` and `virtbench report` do.
    const written = validateResults(JSON.parse(JSON.stringify(merged)), 'merged.json');
    expect(Object.keys(written.environment.platforms).sort()).toEqual(['__proto__', 'constructor', 'native', 'toString']);
    expect(ownEntry(written.environment.platforms, '__proto__')).toEqual({ kernel: '6.1', host: 'a' });
    expect(merged.results.map((r) => r.platform)).toEqual(['__proto__', 'constructor', 'native']);
  });

  it('a unit named after one is a Bencher measure like any other', () => {
    expect(bencherMeasureSlug('constructor')).toBe('constructor');
    expect(bencherMeasureSlug('toString')).toBe('tostring');
    expect(bencherMeasureSlug('s')).toBe('seconds');
    const bmf = toBencherBmf(resultsFileOf([resultOf('native', 'cpu', [1, 2, 3], { unit: 'constructor' })]));
    expect(Object.keys(bmf['cpu (native)']!)).toEqual(['constructor']);
  });

  it('`virtbench history constructor` is an unknown action, not a crash', async () => {
    for (const action of ['constructor', 'toString', '__proto__']) {
      await expect(cliOutput(['history', action])).rejects.toMatchObject({
        code: 'VIRTBENCH_BAD_OPTION',
        message: expect.stringMatching(new RegExp(`unknown history action "${action}"`)),
      });
    }
  });
});
