import { mkdtemp, open, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { csvFileName, readResults, toCsv, validateResults, withSummary, writeResults } from '../../src/results/results-file.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../../src/results/schema.js';
import { summarize } from '../../src/statistics/descriptive.js';
import { runResolution } from '../../src/statistics/resolution.js';

const result = withSummary({
  platform: 'native',
  benchmark: 'mem',
  title: 'memsweep',
  unit: 's',
  better: 'lower',
  status: 'passed',
  samples: [
    { time: 1795562225.31, value: 0.5, seconds: 0.5, extra: {} },
    { time: 1795562226.5, value: 0.7, seconds: 0.7, extra: {} },
  ],
});

const file: ResultsFile = {
  schema: RESULTS_SCHEMA,
  createdAt: '2026-11-24T00:00:00.000Z',
  profile: 'quick',
  environment: { host: { cpus: 2 }, platforms: {} },
  results: [result, withSummary({ ...result, benchmark: 'cpu', status: 'skipped', samples: [] })],
};

const tempDir = () => mkdtemp(join(tmpdir(), 'virtbench-test-'));

/** The error validateResults throws for `data`, which must be a VirtbenchError naming the file. */
function problemWith(data: unknown): string {
  try {
    validateResults(data, '/runs/results.json');
  } catch (error) {
    expect(error).toBeInstanceOf(VirtbenchError);
    expect(error).toMatchObject({ code: 'VIRTBENCH_BAD_RESULTS_FILE' });
    expect((error as Error).message).toContain('/runs/results.json');
    return (error as Error).message;
  }
  throw new Error('expected the file to be refused');
}

/** Parsed JSON as the edits below see it: they break the schema on purpose, so no type can describe it. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

/** A copy of a good file (as JSON.parse gives it), changed by `edit`. */
function edited(edit: (data: Loose) => void): unknown {
  const data = JSON.parse(JSON.stringify(file)) as Loose;
  edit(data);
  return data;
}

describe('results files', () => {
  it('writes the assignment CSV layout: time,value per run', () => {
    expect(toCsv(result)).toBe('time,value\n1795562225.310,0.5\n1795562226.500,0.7\n');
  });

  it('writes results.json and one CSV per benchmark with runs, and reads them back', async () => {
    const dir = await tempDir();
    const written = await writeResults(join(dir, 'report'), file);
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual(['report/results.json', 'report/native-mem.csv']);
    expect(await readResults(written[0]!)).toEqual(file);
    expect(await readFile(written[1]!, 'utf8')).toBe(toCsv(result));
  });

  it("writes no CSV for a stand-in, even one given samples: its figure is another platform's, whose CSV has it", async () => {
    const dir = await tempDir();
    const standIn = { ...result, platform: 'qemu-tcg-ide', status: 'skipped' as const, standIn: 'native', skipReason: 'not measured' };
    const written = await writeResults(join(dir, 'report'), { ...file, results: [result, standIn] });
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual(['report/results.json', 'report/native-mem.csv']);
  });

  it.each([
    ['missing', null, /cannot read results file/],
    ['empty', '', /is empty/],
    ['blank', ' \n\t', /is empty/],
    ['not JSON', '{"schema": ', /is not JSON/],
    ['binary', '\u0000\u00ff\u0001garbage', /is not JSON/],
    ['foreign', '{"benchmarks": []}', /schema undefined, expected "virtbench\.results\/v1"/],
    ['an array', '[{"name":"x","unit":"ms","value":1}]', /schema undefined, expected "virtbench\.results\/v1"/],
    ['without results', JSON.stringify({ schema: RESULTS_SCHEMA }), /no "results" array/],
    ['nested deeper than any results file', `{"schema":${'['.repeat(100)}`, /nests arrays or objects more than 32 deep/],
    [
      'holding 1e999',
      JSON.stringify(file).replace('"value":0.5', '"value":1e999'),
      /results\[0\]\.samples\[0\]\.value must be a finite number >= 0, got Infinity/,
    ],
  ])('names the file and the problem when it is %s', async (_, content, problem) => {
    const dir = await tempDir();
    const path = join(dir, 'results.json');
    if (content !== null) await writeFile(path, content);
    const error = await readResults(path).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'VIRTBENCH_BAD_RESULTS_FILE' });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(problem);
  });

  it('refuses a file larger than 256 MiB from its size, before reading it', async () => {
    const path = join(await tempDir(), 'results.json');
    const handle = await open(path, 'w');
    await handle.truncate(300 * 1024 * 1024); // sparse: no disk space, no time
    await handle.close();
    const started = performance.now();
    await expect(readResults(path)).rejects.toThrow(/results\.json is 300 MiB, more than virtbench reads \(256 MiB\)/);
    expect(performance.now() - started).toBeLessThan(1000);
    await rm(path);
  });

  it('accepts a byte order mark and reads what virtbench wrote, keeping fields it does not know', async () => {
    const path = join(await tempDir(), 'results.json');
    await writeFile(path, '\ufeff' + JSON.stringify({ ...file, note: 'kept' }));
    expect(await readResults(path)).toEqual({ ...file, note: 'kept' });
  });
});

describe('validateResults', () => {
  it.each<[string, (data: Loose) => void, RegExp]>([
    [
      'a value given as a string',
      (d) => (d.results[0].samples[1].value = '5'),
      /results\[0\]\.samples\[1\]\.value must be a finite number >= 0, got "5"/,
    ],
    [
      'a negative value',
      (d) => (d.results[0].samples[0].value = -1),
      /results\[0\]\.samples\[0\]\.value must be a finite number >= 0, got -1/,
    ],
    ['a missing time', (d) => delete d.results[0].samples[0].time, /results\[0\]\.samples\[0\]\.time must be a finite number, got nothing/],
    [
      'negative seconds',
      (d) => (d.results[0].samples[0].seconds = -0.5),
      /results\[0\]\.samples\[0\]\.seconds must be a finite number >= 0/,
    ],
    ['a sample that is no object', (d) => (d.results[0].samples[1] = 3), /results\[0\]\.samples\[1\] must be an object, got 3/],
    [
      'an extra that is an object',
      (d) => (d.results[0].samples[0].extra = { round: { deep: [] } }),
      /results\[0\]\.samples\[0\]\.extra\.round must be a string or a finite number, got an object/,
    ],
    ['extra missing', (d) => delete d.results[0].samples[0].extra, /results\[0\]\.samples\[0\]\.extra must be an object, got nothing/],
    ['samples that are no array', (d) => (d.results[1].samples = {}), /results\[1\]\.samples must be an array, got an object/],
    [
      'an empty platform',
      (d) => (d.results[0].platform = ''),
      /results\[0\]\.platform must be a non-empty string of at most 200 characters, got ""/,
    ],
    [
      'a long benchmark name',
      (d) => (d.results[0].benchmark = 'x'.repeat(201)),
      /results\[0\]\.benchmark must be a non-empty string of at most 200 characters, got "x{60}"\.\.\./,
    ],
    ['a title that is a number', (d) => (d.results[1].title = 7), /results\[1\]\.title must be a non-empty string/],
    ['no unit on a result with samples', (d) => (d.results[0].unit = ''), /results\[0\]\.unit must be a non-empty string/],
    ['an unknown direction', (d) => (d.results[0].better = 'more'), /results\[0\]\.better must be "higher" or "lower", got "more"/],
    ['an unknown status', (d) => (d.results[0].status = 'ok'), /results\[0\]\.status must be "passed" or "failed" or "skipped", got "ok"/],
    ['an error that is no string', (d) => (d.results[0].error = { message: 'x' }), /results\[0\]\.error must be a string, got an object/],
    [
      'cachesFlushed as a string',
      (d) => (d.results[0].cachesFlushed = 'yes'),
      /results\[0\]\.cachesFlushed must be true or false, got "yes"/,
    ],
    ['a result that is null', (d) => (d.results[1] = null), /results\[1\] must be an object, got null/],
    [
      'a stand-in that is no name',
      (d) => (d.results[1].standIn = 42),
      /results\[1\]\.standIn must be a non-empty string of at most 200 characters, got 42/,
    ],
    ['createdAt missing', (d) => delete d.createdAt, /createdAt must be a string, got nothing/],
    ['a profile that is a number', (d) => (d.profile = 1), /profile must be a string, got 1/],
    ['no environment', (d) => delete d.environment, /environment must be an object, got nothing/],
    [
      'a host fact that is an array',
      (d) => (d.environment.host.cpus = [2]),
      /environment\.host\.cpus must be a string or a finite number, got an array/,
    ],
    [
      'platform facts that are no object',
      (d) => (d.environment.platforms.native = 'x'),
      /environment\.platforms\.native must be an object, got "x"/,
    ],
    [
      'an odd key with a bad value',
      (d) => (d.results[0].samples[0].extra = { 'a b': null }),
      /results\[0\]\.samples\[0\]\.extra\["a b"\] must be a string or a finite number, got null/,
    ],
    [
      'a platform fact that is null',
      (d) => (d.environment.platforms.native = { kvm: null }),
      /environment\.platforms\.native\.kvm must be a string, a finite number or a boolean, got null/,
    ],
    ['questions that are no array', (d) => (d.questions = 'why'), /questions must be an array, got "why"/],
    [
      'a comparison without benchmarks',
      (d) => (d.questions = [{ question: 'q', comparisons: [{ platform: 'a', against: 'b' }] }]),
      /questions\[0\]\.comparisons\[0\]\.benchmarks must be an array, got nothing/,
    ],
  ])('refuses %s, naming the field', (_, edit, problem) => {
    expect(problemWith(edited(edit))).toMatch(problem);
  });

  it('refuses the same platform and benchmark twice', () => {
    const data = edited((d) => (d.results[1].benchmark = 'mem'));
    expect(problemWith(data)).toMatch(/platform "native" benchmark "mem" twice \(results\[0\] and results\[1\]\)/);
  });

  it('refuses more than 10 million samples without looking at each', () => {
    const sample = { time: 1, value: 1, seconds: 1, extra: {} };
    const data = edited((d) => (d.results[0].samples = new Array(10_000_001).fill(sample)));
    expect(problemWith(data)).toMatch(/holds more than 10000000 samples \(at results\[0\]\)/);
  });

  it('computes each summary from the samples rather than trust the file', () => {
    const data = edited((d) => {
      d.results[0].summary = { n: 99, median: 1e9 };
      d.results[1].summary = { n: 1, median: 1 }; // no samples: no summary
    });
    const checked = validateResults(data, 'results.json');
    expect(checked.results[0]!.summary).toEqual(summarize([0.5, 0.7]));
    expect(checked.results[1]!.summary).toBeUndefined();
  });

  it('keeps what the run resolved through a round trip, computed again from the samples, and a file without it stays without', async () => {
    const docker = withSummary({ ...result, platform: 'docker', samples: result.samples.map((s) => ({ ...s, value: s.value * 2 })) });
    const compared: ResultsFile = { ...file, results: [...file.results, docker] };
    const resolution = runResolution(compared);
    expect(resolution[0]!.comparisons).toHaveLength(1);
    const path = join(await tempDir(), 'results.json');
    await writeFile(path, JSON.stringify({ ...compared, resolution }));
    expect((await readResults(path)).resolution).toEqual(resolution);
    expect(validateResults(JSON.parse(JSON.stringify(compared)), 'results.json')).not.toHaveProperty('resolution');
  });

  it.each<[string, unknown]>([
    ['not an array', 'wide'],
    ['a wrong figure', [{ benchmark: 'mem', halfWidth: 'narrow', comparisons: [], seconds: -1, rounds: 0 }]],
    ['a claim the samples do not back', [{ benchmark: 'mem', halfWidth: 0.001, comparisons: [], seconds: 1, rounds: 99 }]],
  ])('replaces a stored resolution that is %s with the one its samples give, rather than refuse the file', (_, stored) => {
    // Derived data, like the summaries: a stale or broken copy costs the reader nothing but is never shown.
    const checked = validateResults(
      edited((d) => (d.resolution = stored)),
      'results.json',
    );
    expect(checked.resolution).toEqual(runResolution(file));
    expect(checked.resolution).toEqual([{ benchmark: 'mem', comparisons: [], seconds: expect.closeTo(1.69, 6), rounds: 2 }]);
  });

  it("keeps a stand-in: the platform whose figure a variant's unmeasured benchmark shows", () => {
    const checked = validateResults(
      edited((d) => Object.assign(d.results[1], { standIn: 'qemu-tcg', skipReason: 'not measured on native' })),
      'results.json',
    );
    expect(checked.results[1]).toMatchObject({ status: 'skipped', standIn: 'qemu-tcg', samples: [] });
    expect(checked.results[1]!.summary).toBeUndefined();
  });

  it('lets a benchmark skipped before its workload was known go without a unit', () => {
    expect(
      validateResults(
        edited((d) => (d.results[1].unit = '')),
        'results.json',
      ).results[1]!.unit,
    ).toBe('');
  });

  it('checks a million samples in well under two seconds', () => {
    const samples = Array.from({ length: 1_000_000 }, (_, i) => ({
      time: 1_795_000_000 + i,
      value: 1 + (i % 100) / 100,
      seconds: 1,
      extra: { round: i, steal: 0, load1: 0.5, mode: 'processes' },
    }));
    const data = edited((d) => (d.results[0].samples = samples));
    const started = performance.now();
    const checked = validateResults(data, 'results.json');
    const elapsed = performance.now() - started;
    expect(checked.results[0]!.summary!.n).toBe(1_000_000);
    expect(elapsed).toBeLessThan(2000);
  }, 30_000);
});

describe('the files writeResults names', () => {
  it('keeps a CSV inside the report directory whatever the names hold', async () => {
    expect(csvFileName('native', '../../../escaped')).toBe('native-.._.._.._escaped.csv');
    expect(csvFileName('..', 'x')).toBe('-x.csv');
    expect(csvFileName('native@build 2', 'cpu/α')).toBe('native_build_2-cpu__.csv');
    expect(csvFileName('native#2', 'disk-random')).toBe('native#2-disk-random.csv');

    const root = await tempDir();
    const dir = join(root, 'a', 'b', 'report');
    const escaping = withSummary({ ...result, benchmark: '../../../escaped' });
    const written = await writeResults(dir, { ...file, results: [escaping] });
    expect(written[1]).toBe(join(dir, 'native-.._.._.._escaped.csv'));
    for (const path of written) expect(resolve(path).startsWith(resolve(dir) + '/')).toBe(true);
    expect(await readdir(root)).toEqual(['a']);
    expect((await readdir(dir)).sort()).toEqual(['native-.._.._.._escaped.csv', 'results.json']);
  });

  it('gives two results whose names clean up alike a CSV each', async () => {
    const dir = await tempDir();
    const written = await writeResults(dir, {
      ...file,
      results: [withSummary({ ...result, benchmark: 'a/b' }), withSummary({ ...result, benchmark: 'a:b' })],
    });
    expect(written.slice(1).map((p) => p.slice(dir.length + 1))).toEqual(['native-a_b.csv', 'native-a_b-2.csv']);
    // Names cut to the longest file name still get a number each.
    const long = 'p'.repeat(250);
    const cut = await writeResults(dir, {
      ...file,
      results: [withSummary({ ...result, platform: long }), withSummary({ ...result, platform: long, benchmark: 'cpu' })],
    });
    expect(cut.slice(1).map((p) => p.slice(dir.length + 1))).toEqual([`${'p'.repeat(200)}.csv`, `${'p'.repeat(200)}-2.csv`]);
  });

  it('lets runs write the same directory at once, leaving no temporary files', async () => {
    const dir = await tempDir();
    await Promise.all(Array.from({ length: 8 }, () => writeResults(dir, file)));
    expect((await readdir(dir)).sort()).toEqual(['native-mem.csv', 'results.json']);
    expect(await readResults(join(dir, 'results.json'))).toEqual(file);
  });
});
