import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareResults } from '../../src/statistics/compare.js';
import { appendHistory, historyBaseline, historyEntry, readHistory, type HistoryEntry } from '../../src/results/history.js';
import { readResults } from '../../src/results/results-file.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { resultOf, resultsFileOf, cliOutput } from '../builders.js';

const sha = (n: number) => n.toString(16).padStart(40, 'a');

/** A recorded run of commit `n`, created on day `n`. */
function entryOf(n: number, results: BenchmarkResult[], over: { profile?: string; hostname?: string } = {}): HistoryEntry {
  const file = resultsFileOf(results, { hostname: over.hostname ?? 'ci-1', cpuModel: 'AMD EPYC', cpus: 2 });
  file.createdAt = new Date(Date.UTC(2026, 10, n)).toISOString();
  file.profile = over.profile ?? 'standard';
  return historyEntry(file, { commit: sha(n), ref: 'main', recordedAt: new Date(Date.UTC(2026, 10, n, 1)) });
}

let dir: string;
let store: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtbench-history-'));
  store = join(dir, 'nested', 'history.jsonl');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe('the history store', () => {
  it('reads back what was appended, one JSON line per run', async () => {
    const first = entryOf(1, [resultOf('native', 'cpu', [5e6, 5.1e6]), resultOf('docker', 'mem', [0.35])]);
    const second = entryOf(2, [resultOf('native', 'cpu', [4.9e6])]);
    expect(await appendHistory(store, first)).toEqual({ appended: true, kept: 1, dropped: 0 });
    expect(await appendHistory(store, second)).toEqual({ appended: true, kept: 2, dropped: 0 });

    expect(await readHistory(store)).toEqual([first, second]);
    const lines = (await readFile(store, 'utf8')).split('\n');
    expect(lines).toHaveLength(3); // two lines and the final newline
    expect(JSON.parse(lines[0]!)).toMatchObject({
      schema: 'virtbench.history/v1',
      commit: sha(1),
      ref: 'main',
      recordedAt: '2026-11-01T01:00:00.000Z',
      createdAt: '2026-11-01T00:00:00.000Z',
      profile: 'standard',
      host: { hostname: 'ci-1', cpuModel: 'AMD EPYC', cpus: 2 },
      results: [
        { platform: 'native', benchmark: 'cpu', unit: 'kFLOPS', better: 'higher', status: 'passed', values: [5e6, 5.1e6] },
        { platform: 'docker', benchmark: 'mem', unit: 's', better: 'lower', status: 'passed', values: [0.35] },
      ],
    });
    expect(await readHistory(join(dir, 'none.jsonl'))).toEqual([]); // no store yet: no runs
  });

  it('does not record the same results file twice (a retried CI step)', async () => {
    const entry = entryOf(1, [resultOf('native', 'cpu', [5e6])]);
    await appendHistory(store, entry);
    expect(await appendHistory(store, { ...entry, recordedAt: new Date().toISOString() })).toEqual({
      appended: false,
      kept: 1,
      dropped: 0,
    });
  });

  it('keeps both lines when two appends race, also when both must rewrite the store to trim it', async () => {
    const cpu = [resultOf('native', 'cpu', [5e6])];
    await Promise.all([appendHistory(store, entryOf(1, cpu)), appendHistory(store, entryOf(2, cpu))]);
    expect((await readHistory(store)).map((e) => e.commit).sort()).toEqual([sha(1), sha(2)]);

    // Full at keep=2: each append reads the store, drops the oldest and renames a new file over it.
    // Unlocked, both would read [1, 2] and the second rename would lose the first one's run.
    await Promise.all([appendHistory(store, entryOf(3, cpu), { keep: 2 }), appendHistory(store, entryOf(4, cpu), { keep: 2 })]);
    expect((await readHistory(store)).map((e) => e.commit).sort()).toEqual([sha(3), sha(4)]);
  });

  it('keeps the newest --keep runs', async () => {
    for (let n = 1; n <= 4; n++) await appendHistory(store, entryOf(n, [resultOf('native', 'cpu', [n])]));
    expect(await appendHistory(store, entryOf(5, [resultOf('native', 'cpu', [5])]), { keep: 3 })).toEqual({
      appended: true,
      kept: 3,
      dropped: 2,
    });
    expect((await readHistory(store)).map((e) => e.commit)).toEqual([sha(3), sha(4), sha(5)]);
    await expect(appendHistory(store, entryOf(6, []), { keep: 0 })).rejects.toThrow(
      /keep must be a whole number of runs, 1 or more, got 0/,
    );
  });

  it('ignores a torn last line with a warning, and the next append replaces it', async () => {
    const first = entryOf(1, [resultOf('native', 'cpu', [5e6])]);
    await appendHistory(store, first);
    await appendFile(store, JSON.stringify(entryOf(2, [resultOf('native', 'cpu', [5e6])])).slice(0, 60)); // a crash mid-append: no newline

    const warnings: string[] = [];
    const entries = await readHistory(store, { warn: (w) => warnings.push(w) });
    expect(entries.map((e) => e.commit)).toEqual([sha(1)]);
    expect(warnings).toEqual([`history store ${store} line 2 is incomplete (an append that did not finish?); ignored`]);

    // Appended after it, the next line would be glued to the torn one: the store is rewritten without it.
    const third = entryOf(3, [resultOf('native', 'cpu', [5e6])]);
    await appendHistory(store, third, { warn: () => {} });
    expect(await readFile(store, 'utf8')).toBe(`${JSON.stringify(first)}\n${JSON.stringify(third)}\n`);
  });

  it('names the file and the line number of a bad line, with the fix', async () => {
    const good = JSON.stringify(entryOf(1, [resultOf('native', 'cpu', [5e6])]));
    const wrongValues = good.replace('"values":[5000000]', '"values":["fast"]');
    const flat = join(dir, 'history.jsonl');
    await writeFile(flat, `${good}\n${good}\n${wrongValues}\n${good}\n`);
    const read = readHistory(flat);
    await expect(read).rejects.toMatchObject({ code: 'VIRTBENCH_BAD_RESULTS_FILE' });
    await expect(read).rejects.toThrow(
      /history store .*history\.jsonl line 3: results\[0\]\.values is not an array of numbers\nfix: repair or delete/,
    );

    // A broken line that does end with its newline was written whole: not a torn append, so it is an error.
    await writeFile(flat, `${good}\n{"schema":\n`);
    await expect(readHistory(flat)).rejects.toThrow(/line 2: not JSON/);
    await writeFile(flat, `{"schema":"virtbench.history/v9"}\n`);
    await expect(readHistory(flat)).rejects.toThrow(/line 1: schema "virtbench.history\/v9", expected "virtbench.history\/v1"/);
  });
});

describe('historyBaseline', () => {
  const runs = [
    entryOf(1, [resultOf('native', 'cpu', [1, 1])]), // outside a window of 3
    entryOf(2, [resultOf('native', 'cpu', [4.9e6, 5e6]), resultOf('native', 'fork', [0.2, 0.21])]),
    entryOf(3, [resultOf('native', 'cpu', [9, 9])], { profile: 'quick' }),
    entryOf(4, [resultOf('native', 'cpu', [5.1e6]), resultOf('native', 'mem', [0.3], { status: 'failed' })]),
    entryOf(5, [resultOf('native', 'cpu', [5e6, 5.2e6]), resultOf('native', 'mem', [0.34])]),
  ];

  it('pools the values of the last N runs of the newest run’s profile, each tagged with its run', () => {
    const baseline = historyBaseline(runs, { window: 3 });
    expect(baseline.profile).toBe('standard');
    const cpu = baseline.results.find((r) => r.benchmark === 'cpu')!;
    expect(cpu.samples.map((s) => [s.value, s.extra.run])).toEqual([
      [4.9e6, 0],
      [5e6, 0],
      [5.1e6, 1],
      [5e6, 2],
      [5.2e6, 2],
    ]);
    expect(cpu.summary?.median).toBe(5e6);
    expect(cpu.samples[0]!.time).toBe(Date.UTC(2026, 10, 2) / 1000);
    // fork is missing from the newest runs but measured in the window: still compared.
    expect(baseline.results.find((r) => r.benchmark === 'fork')!.samples.map((s) => s.value)).toEqual([0.2, 0.21]);
    // A failed run's values are left out.
    expect(baseline.results.find((r) => r.benchmark === 'mem')!.samples.map((s) => [s.value, s.extra.run])).toEqual([[0.34, 2]]);
    expect(baseline.environment.host.historyWindow).toBe(`3 runs, ${sha(2).slice(0, 7)}..${sha(5).slice(0, 7)}`);
  });

  it('takes the profile and the host asked for', () => {
    expect(historyBaseline(runs, { window: 10, profile: 'quick' }).results[0]!.samples.map((s) => s.value)).toEqual([9, 9]);
    const elsewhere = entryOf(6, [resultOf('native', 'cpu', [7e6])], { hostname: 'ci-2' });
    const onCi1 = historyBaseline([...runs, elsewhere], { window: 1, host: 'ci-1' });
    expect(onCi1.results.find((r) => r.benchmark === 'cpu')!.samples.map((s) => s.value)).toEqual([5e6, 5.2e6]);
    expect(() => historyBaseline(runs, { window: 3, host: 'laptop' })).toThrow(
      /no recorded run of host laptop in the history \(5 runs in all\)\nfix: /,
    );
    expect(() => historyBaseline(runs, { window: 0 })).toThrow(/window must be a whole number/);
  });

  it("records a stand-in without values, as the platform whose figure it showed: never as the variant's own", () => {
    const standIn = resultOf('qemu-tcg-ide', 'cpu', [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured' });
    const recorded = entryOf(6, [resultOf('qemu-tcg', 'cpu', [1e3]), standIn]);
    expect(recorded.results[1]).toEqual({
      platform: 'qemu-tcg-ide',
      benchmark: 'cpu',
      unit: 'kFLOPS',
      better: 'higher',
      status: 'skipped',
      values: [],
      standIn: 'qemu-tcg',
    });
    // A window of stand-ins only has no figure of the variant's: what it measures now is new.
    const baseline = historyBaseline([recorded], { window: 3 });
    expect(baseline.results[1]).toMatchObject({ status: 'skipped', standIn: 'qemu-tcg', samples: [] });
    const now = resultsFileOf([resultOf('qemu-tcg', 'cpu', [1e3]), resultOf('qemu-tcg-ide', 'cpu', [0.9e3])]);
    expect(compareResults(baseline, now).find((c) => c.platform === 'qemu-tcg-ide')).toMatchObject({ verdict: 'added', failsGate: false });
  });

  it('is a baseline compareResults takes', () => {
    const current = resultsFileOf([resultOf('native', 'cpu', [4e6, 4.1e6, 3.9e6, 4e6, 4e6])]);
    const [cpu] = compareResults(historyBaseline(runs, { window: 3 }), current).filter((c) => c.benchmark === 'cpu');
    expect(cpu).toMatchObject({ verdict: 'regressed', baselineMedian: 5e6, failsGate: true });
  });
});

describe('virtbench history', () => {
  const cli = (...argv: string[]) => cliOutput(argv, { VIRTBENCH_HISTORY: store });
  const writeRun = async (name: string, values: number[], createdAt: string) => {
    const file = resultsFileOf([resultOf('native', 'cpu', values)]);
    file.createdAt = createdAt;
    await writeFile(join(dir, name), JSON.stringify(file));
    return join(dir, name);
  };

  it('appends, shows and writes a pooled baseline that `virtbench compare` reads', async () => {
    const a = await writeRun('a.json', [5e6, 5.1e6, 4.9e6], '2026-11-01T10:00:00Z');
    const b = await writeRun('b.json', [5e6, 5e6, 5.1e6], '2026-11-02T10:00:00Z');
    expect(await cli('history', 'append', a, '--commit', sha(1))).toEqual({
      code: 0,
      out: `recorded aaaaaaa on main (1 results) in ${store}: 1 runs`,
    });
    expect((await cli('history', 'append', b, '--commit', 'b'.repeat(40), '--keep', '5')).code).toBe(0);
    expect((await cli('history', 'append', b, '--commit', 'b'.repeat(40))).out).toMatch(/is already recorded in .*; nothing appended/);

    const shown = await cli('history', 'show');
    expect(shown.out.split('\n')).toEqual([
      '2026-11-01 10:00  aaaaaaa  main  standard  1 results',
      '2026-11-02 10:00  bbbbbbb  main  standard  1 results',
      `2 runs in ${store}`,
    ]);

    const output = join(dir, 'pooled.json');
    const written = await cli('history', 'baseline', '--window', '10', '-o', output);
    expect(written.out).toBe(`wrote ${output}: 1 results pooled from 2 runs, aaaaaaa..bbbbbbb (standard profile)`);
    const pooled = await readResults(output);
    expect(pooled.results[0]!.samples.map((s) => s.extra.run)).toEqual([0, 0, 0, 1, 1, 1]);

    const slow = await writeRun('slow.json', [4e6, 4.1e6, 3.9e6, 4e6, 4e6], '2026-11-03T10:00:00Z');
    expect((await cli('compare', output, slow)).code).toBe(1);
    expect((await cli('history', 'append', slow, '--commit', 'c'.repeat(40), '--keep', '2')).out).toMatch(/2 runs, dropped the oldest 1$/);
  });

  it('says what is wrong and how to fix it', async () => {
    const a = await writeRun('a.json', [5e6], '2026-11-01T10:00:00Z');
    await expect(cli('history', 'append', a)).rejects.toThrow(/needs the commit.*\nfix: --commit "\$\(git rev-parse HEAD\)"/);
    await expect(cli('history', 'append', a, '--commit', 'HEAD; rm -rf /')).rejects.toThrow(/is not a commit hash/);
    await expect(cli('history', 'append', a, '--commit', sha(1), '--keep', 'lots')).rejects.toThrow(/--keep must be a whole number/);
    await expect(cli('history', 'show', '--window', '3')).rejects.toThrow(/history show takes no --window/);
    await expect(cli('history', 'prune')).rejects.toMatchObject({
      code: 'VIRTBENCH_BAD_OPTION',
      message: expect.stringMatching(/unknown history action "prune"/),
    });
    await expect(cli('history', 'baseline')).rejects.toThrow(/no runs recorded in .*\nfix: record main-branch runs/);
    expect((await cli('history', 'show')).out).toBe(`no runs recorded in ${store}`);
  });

  it('uses --store over $VIRTBENCH_HISTORY', async () => {
    const a = await writeRun('a.json', [5e6], '2026-11-01T10:00:00Z');
    const other = join(dir, 'other.jsonl');
    await cli('history', 'append', a, '--commit', sha(1), '--store', other);
    expect(await readHistory(other)).toHaveLength(1);
    expect(await readHistory(store)).toEqual([]);
  });
});
