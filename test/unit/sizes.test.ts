import { mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { CONSOLE_LIMITS, ConsoleBuffer, runToResult } from '../../src/platforms/unikernel/console-run.js';
import { readComparisonFile } from '../../src/results/comparison-file.js';
import { appendHistory, historyEntry, readHistory } from '../../src/results/history.js';
import { RESULTS_LIMITS } from '../../src/results/results-file.js';
import { resultOf, resultsFileOf } from '../builders.js';

/*
 * What virtbench reads or keeps has a size limit: a guest that prints without end, or a history
 * store or comparison file far larger than any virtbench writes, fails fast instead of exhausting
 * the host's memory, and says which file, how large, the limit and the fix.
 */

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'virtbench-sizes-'));
  onTestFinished(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A file of the limit and one byte more, sparse: no disk space, no time. */
async function oversized(path: string): Promise<void> {
  await writeFile(path, '{');
  await truncate(path, RESULTS_LIMITS.fileBytes + 1);
}

const OVER = /is 256\.0 MiB \(268435457 bytes\), more than virtbench reads \(256 MiB\): .*\nfix: /;

describe('the unikernel console', () => {
  it('keeps the head, the tail and the result lines between, and says what it left out', () => {
    const important = (line: string) => /^(RESULT|VIRTBENCH-EXIT) /.test(line);
    const buffer = new ConsoleBuffer(important, { head: 100, tail: 100, line: 50, keptLines: 2 });
    expect(buffer.push('boot line\r\n')).toBe(false);
    for (let i = 0; i < 1000; i++) buffer.push(`noise ${i}\n`);
    expect(buffer.push('RESULT value=1 unit=s seconds=1\n')).toBe(true);
    for (let i = 0; i < 1000; i++) buffer.push(`after ${i}\n`);
    buffer.push('x'.repeat(10_000)); // no line end: broken into lines of 50
    buffer.push('\nVIRTBENCH-EXIT 0');
    const text = buffer.text();
    expect(text.length).toBeLessThan(400);
    expect(text).toMatch(/^boot line\nnoise 0\n/);
    expect(text).toMatch(/\n\[virtbench: \d+ characters of console output left out here; kept the first 100 and the last 100/);
    expect(text).toContain('\nRESULT value=1 unit=s seconds=1\n');
    expect(text).toMatch(/x\nVIRTBENCH-EXIT 0$/);
    expect(text).not.toContain('\r');
  });

  it('keeps what follows a full head in order, however short', () => {
    const buffer = new ConsoleBuffer(() => false, { head: 10, tail: 10, line: 8, keptLines: 0 });
    for (const line of ['12345678\n', '1234\n', 'a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n']) buffer.push(line);
    expect(buffer.text()).toMatch(/^12345678\n\[virtbench: 7 characters .*\]\nb\nc\nd\ne\nf\n$/);
  });

  it('says nothing was left out when nothing was', () => {
    const buffer = new ConsoleBuffer(() => false);
    buffer.push('one\ntwo\n');
    expect(buffer.text()).toBe('one\ntwo\n');
  });

  it('runToResult keeps at most about a MiB of a console that prints 10 MB, and still finds the result and the exit', async () => {
    const script = [
      'echo "Linux version 6.1 boot"',
      "yes 'console noise 0123456789' | head -n 400000",
      "echo 'RESULT value=42 unit=s seconds=1.5'",
      "yes 'after the result' | head -n 100000",
      "echo 'VIRTBENCH-EXIT 0'",
    ].join('; ');
    const run = await runToResult(['sh', '-c', script], { timeoutMs: 60_000 });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.length).toBeLessThan(CONSOLE_LIMITS.head + CONSOLE_LIMITS.tail + 1024);
    expect(run.stdout).toMatch(/^Linux version 6\.1 boot\n/);
    expect(run.stdout).toContain('\nRESULT value=42 unit=s seconds=1.5\n');
    expect(run.stdout).toMatch(/\[virtbench: \d+ characters of console output left out here/);
    expect(run.stdout).toMatch(/after the result\n$/);
    expect(run.stdout).not.toContain('VIRTBENCH-EXIT');
  }, 60_000);
});

describe('files read whole', () => {
  it('refuses a history store over the limit, naming it, its size, the limit and the fix, before reading it', async () => {
    const store = join(await tempDir(), 'history.jsonl');
    await oversized(store);
    const refused = expect.objectContaining({
      code: 'VIRTBENCH_BAD_RESULTS_FILE',
      message: expect.stringMatching(new RegExp(`^history store ${store} ${OVER.source}keep its newest runs`)),
    });
    await expect(readHistory(store)).rejects.toEqual(refused);
    const entry = historyEntry(resultsFileOf([resultOf('native', 'cpu', [1])]), { commit: 'a'.repeat(40), ref: 'main' });
    await expect(appendHistory(store, entry)).rejects.toEqual(refused);
  }, 30_000);

  it('refuses a comparison file over the limit, naming it, its size, the limit and the fix', async () => {
    const path = join(await tempDir(), 'comparison.json');
    await oversized(path);
    await expect(readComparisonFile(path)).rejects.toEqual(
      expect.objectContaining({
        code: 'VIRTBENCH_BAD_RESULTS_FILE',
        message: expect.stringMatching(new RegExp(`^comparison file ${path} ${OVER.source}name the comparison\\.json`)),
      }),
    );
  }, 30_000);

  it('still reads a store that does not exist yet as empty, and says why one cannot be read', async () => {
    const dir = await tempDir();
    expect(await readHistory(join(dir, 'none.jsonl'))).toEqual([]);
    await expect(readHistory(dir)).rejects.toThrow(/^history store .* is a directory$/);
  }, 30_000);
});
