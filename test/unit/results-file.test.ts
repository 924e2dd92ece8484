import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readResults, toCsv, withSummary, writeResults } from '../../src/results/results-file.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../../src/results/schema.js';

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

describe('results files', () => {
  it('writes the assignment CSV layout: time,value per run', () => {
    expect(toCsv(result)).toBe('time,value\n1795562225.310,0.5\n1795562226.500,0.7\n');
  });

  it('writes results.json and one CSV per benchmark with runs, and reads them back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-test-'));
    const written = await writeResults(join(dir, 'report'), file);
    expect(written.map((p) => p.slice(dir.length + 1))).toEqual(['report/results.json', 'report/native-mem.csv']);
    expect(await readResults(written[0]!)).toEqual(file);
    expect(await readFile(written[1]!, 'utf8')).toBe(toCsv(result));
  });

  it.each([
    ['missing', null, /cannot read results file/],
    ['empty', '', /is empty/],
    ['not JSON', '{"schema": ', /is not JSON/],
    ['foreign', '{"benchmarks": []}', /schema undefined, expected "virtbench\.results\/v1"/],
    ['without results', JSON.stringify({ schema: RESULTS_SCHEMA }), /no "results" array/],
  ])('names the file and the problem when it is %s', async (_, content, problem) => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-test-'));
    const path = join(dir, 'results.json');
    if (content !== null) await writeFile(path, content);
    const error = await readResults(path).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'VIRTBENCH_BAD_RESULTS_FILE' });
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(problem);
  });
});
