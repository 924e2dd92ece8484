import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestCase } from 'vitest/node';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { logGateVerdict } from '../../src/cli/commands/compare.js';
import { formatLogLine } from '../../src/host/log.js';
import { printable } from '../../src/host/printable.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import { renderBaselineComparison, renderComparison, renderComparisonToFit } from '../../src/reporters/table.js';
import { VirtbenchReporter } from '../../src/reporters/virtbench-reporter.js';
import type { BenchmarkRecord } from '../../src/results/schema.js';
import { compareResults } from '../../src/statistics/compare.js';
import { asRuns, resultOf, resultsFileOf } from '../builders.js';

/*
 * Names from a results file and strings a remote reports are printed to terminals and CI logs: a
 * newline followed by "::error::" would be a GitHub workflow command, an ESC or a CSI a terminal
 * escape sequence. Each must stay on its line, its control characters shown as escapes.
 */

// A newline, then a workflow command; an ANSI "erase screen"; a C1 NEL (a line break) and CSI.
const BENCHMARK = 'cpu\n::error::bench\x1b[2J\u0085x';
const PLATFORM = 'lab\r\n::error::platform\x1b]0;owned\x07\u009b31m';
const OS = 'Debian\n::error::os\x1b[31m red';

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** Every line of the output: no control character, and none a workflow command (the runner trims leading spaces). */
function expectInert(lines: readonly string[]): void {
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines.flatMap((l) => l.split('\n'))) {
    expect(line, JSON.stringify(line)).not.toMatch(CONTROL);
    expect(line.trimStart().startsWith('::'), JSON.stringify(line)).toBe(false);
  }
}

const results = () => [
  asRuns(resultOf('native', BENCHMARK, [1, 1.01, 0.99, 1, 1])),
  asRuns(resultOf(PLATFORM, BENCHMARK, [2, 2.02, 1.98, 2, 2])),
  resultOf(PLATFORM, 'mem', [], { status: 'skipped', skipReason: `no ${PLATFORM}` }),
];

describe('printable', () => {
  it('shows every control character as an escape, and keeps all else', () => {
    expect(printable(BENCHMARK)).toBe('cpu\\n::error::bench\\x1b[2J\\x85x');
    expect(printable(PLATFORM)).toBe('lab\\r\\n::error::platform\\x1b]0;owned\\x07\\x9b31m');
    expect(printable('a\tb\u2028c\u007f')).toBe('a\\tb\\u2028c\\x7f');
    expect(printable('≈1x ±5% µs naïve 日本')).toBe('≈1x ±5% µs naïve 日本');
    expect(printable('problem\nfix: do this', { joinLines: '; ' })).toBe('problem; fix: do this');
    expect(printable('a\r\nb\x1b', { joinLines: '; ' })).toBe('a; b\\x1b');
  });
});

describe('names with control characters stay on their line', () => {
  it('in the terminal table, whole, split to fit, and against a baseline', () => {
    const table = renderComparison(results(), ['native', PLATFORM]).lines;
    expectInert(table);
    expect(table.join('\n')).toContain('cpu\\n::error::bench\\x1b[2J\\x85x');
    expect(table[0]).toContain('lab\\r\\n::error::platform\\x1b]0;owned\\x07\\x9b31m');
    expectInert(renderComparisonToFit(results(), ['native', PLATFORM], 40).lines);
    const now = resultsFileOf([asRuns(resultOf(PLATFORM, BENCHMARK, [3, 3.03, 2.97, 3, 3]))]);
    expectInert(renderBaselineComparison(compareResults(resultsFileOf(results()), now)));
  });

  it("in `virtbench compare`'s verdict, which a CI step prints", () => {
    const base = resultsFileOf(results());
    const now = resultsFileOf([asRuns(resultOf(PLATFORM, BENCHMARK, [3, 3.03, 2.97, 3, 3]))]);
    const lines: string[] = [];
    const io = { log: (line: string) => lines.push(line), env: {} };
    const code = logGateVerdict(compareResults(base, now, { allowMissing: ['native'] }), base, ['native'], io);
    expect(code).toBe(1);
    expectInert(lines);
    expect(lines.join('\n')).toContain('- lab\\r\\n::error::platform\\x1b]0;owned\\x07\\x9b31m/cpu\\n::error::bench');
  });

  it('in the Markdown report', () => {
    const file = resultsFileOf(results());
    const now = resultsFileOf([asRuns(resultOf(PLATFORM, BENCHMARK, [3, 3.03, 2.97, 3, 3]))]);
    const md = renderMarkdown(now, compareResults(file, now));
    expectInert(md.split('\n'));
    // Escaped, then backslash-escaped for Markdown: it reads "cpu\n::error::bench...".
    expect(md).toContain('cpu\\\\n::error::bench');
    expectInert(renderMarkdown(file).split('\n'));
  });

  it('in the progress log, a remote probe string too', () => {
    const line = formatLogLine(PLATFORM, `lab@host:22: ${OS}, kernel 6.1`, 1234);
    expectInert([line]);
    expect(line).toBe(
      'virtbench [lab\\r\\n::error::platform\\x1b]0;owned\\x07\\x9b31m] 1.2s lab@host:22: Debian; ::error::os\\x1b[31m red, kernel 6.1',
    );
  });

  it("in the reporter's terminal output and its table.txt", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-printable-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const reporter = new VirtbenchReporter({ reportDir: dir, profile: 'quick' });
    const log = vi.fn();
    reporter.onInit({ logger: { log }, config: { root: '/' }, version: 'test' } as never);
    reporter.onTestRunStart();
    const record = (platform: string, values: number[]): BenchmarkRecord => ({
      platform,
      benchmark: BENCHMARK,
      title: BENCHMARK,
      unit: 's',
      better: 'lower',
      profile: 'quick',
      samples: values.map((value, i) => ({ time: 1_795_000_000 + i, value, seconds: value, extra: {} })),
      platformInfo: { os: OS },
    });
    const testCase = (id: string, meta: BenchmarkRecord, result: object) =>
      ({ id, meta: () => ({ virtbench: meta }), result: () => result }) as unknown as TestCase;
    reporter.onTestCaseResult(testCase('a', record('native', [1, 1, 1]), { state: 'passed' }));
    reporter.onTestCaseResult(testCase('b', record(PLATFORM, [2, 2, 2]), { state: 'passed' }));
    const failed = { ...record(PLATFORM, [2]), benchmark: 'mem' };
    reporter.onTestCaseResult(testCase('c', failed, { state: 'failed', errors: [{ message: `${PLATFORM} \x1b[2Jfailed` }] }));
    await reporter.onTestRunEnd();
    const printed = log.mock.calls.map((c) => String(c[0] ?? ''));
    expectInert(printed);
    expect(printed.join('\n')).toContain('lab\\r\\n::error::platform');
    expectInert((await readFile(join(dir, 'table.txt'), 'utf8')).split('\n'));
  });
});
