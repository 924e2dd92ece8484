import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/reporters/html.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import { resolutionLine, resolutionTable, undecidedLine } from '../../src/reporters/resolution.js';
import { formatReach } from '../../src/results/format.js';
import type { BenchmarkResult, ResultsFile } from '../../src/results/schema.js';
import { runResolution } from '../../src/statistics/resolution.js';
import { resultOf, resultsFileOf } from '../builders.js';

/*
 * Every output states what the run resolved: the table's footer, the findings' last line, the
 * Markdown and HTML reports' "Resolution" table. A run of three platforms on two benchmarks, in
 * rounds: docker against native is narrow on both, gVisor against docker on mem is wide (±7 %).
 */

const START = 1_795_000_000;

function inRounds(
  platform: string,
  benchmark: string,
  logs: number[],
  ratio: number,
  over: Partial<BenchmarkResult> = {},
): BenchmarkResult {
  const result = resultOf(
    platform,
    benchmark,
    logs.map((d) => 100 * ratio * Math.exp(d)),
    { unit: 'ops/s', better: 'higher', ...over },
  );
  // A round every 20 s on cpu (3 rounds: 42 s from the first start), every 40 s on mem (5 rounds: 162 s).
  const step = benchmark === 'cpu' ? 20 : 40;
  result.samples.forEach((sample, round) => Object.assign(sample, { time: START + step * round, seconds: 2, extra: { round } }));
  return result;
}

function run(): ResultsFile {
  const flat = (n: number) => Array.from({ length: n }, () => 0);
  const results = [
    inRounds('native', 'cpu', flat(3), 1),
    inRounds('docker', 'cpu', [-0.004, 0, 0.004], 0.98),
    inRounds('gvisor', 'cpu', [-0.005, 0, 0.005], 0.9),
    inRounds('native', 'mem', flat(5), 1),
    inRounds('docker', 'mem', [-0.01, 0, 0.01, 0.005, -0.005], 0.97, { stoppedBy: 'decided' }),
    inRounds('gvisor', 'mem', [-0.09, 0, 0.09, 0.045, -0.045], 0.6, { stoppedBy: 'budget' }),
  ];
  return {
    ...resultsFileOf(results),
    questions: [
      { question: 'What does Docker cost?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['cpu', 'mem'] }] },
      { question: 'What does gVisor add?', comparisons: [{ platform: 'gvisor', against: 'docker', benchmarks: ['cpu', 'mem'] }] },
    ],
  };
}

describe('what a run resolved, as each output states it', () => {
  const file = run();
  const resolved = runResolution(file);
  const mem = resolved.find((r) => r.benchmark === 'mem')!;
  const wide = mem.comparisons.find((c) => c.platform === 'gvisor')!;
  const memWidth = formatReach(wide.halfWidth!);

  it('has the figures these tests read', () => {
    expect(wide.halfWidth).toBeGreaterThan(0.05);
    expect(wide.halfWidth).toBeLessThan(0.15);
    expect(mem.halfWidth).toBe(wide.halfWidth);
    expect(resolved.flatMap((r) => r.comparisons.filter((c) => !c.decided))).toEqual([wide]);
    expect(resolved.map((r) => [r.benchmark, r.seconds, r.rounds])).toEqual([
      ['cpu', 42, 3],
      ['mem', 162, 5],
    ]);
  });

  it("the table's footer: each benchmark's half-width and wall time, and how many comparisons are above the target", () => {
    const cpuWidth = formatReach(resolved[0]!.halfWidth!);
    expect(resolutionLine(resolved, 0.05)).toBe(`resolution: cpu ${cpuWidth} in 42s, mem ${memWidth} in 2m42s (1 comparison above ±5.0%)`);
    expect(resolutionLine(runResolution(file, 0.15), 0.15)).toMatch(/\(every comparison decided at ±15%\)$/);
    expect(resolutionLine(runResolution(resultsFileOf([inRounds('native', 'cpu', [0, 0], 1)])), 0.05)).toBeUndefined();
  });

  it("the findings' last line: the comparisons left undecided, with the half-width each reached", () => {
    expect(undecidedLine(resolved, 0.05)).toBe(`Undecided at ±5.0% when the run ended: gvisor vs docker on mem (${memWidth}).`);
    expect(undecidedLine(runResolution(file, 0.15), 0.15)).toBe('Every comparison was decided at ±15%.');
  });

  it('prints names as printable text: a newline in a name stays on its line', () => {
    const hostile = run();
    for (const r of hostile.results) if (r.platform === 'gvisor') r.platform = 'gvisor\n::error::x';
    hostile.questions![1]!.comparisons[0]!.platform = 'gvisor\n::error::x';
    const line = undecidedLine(runResolution(hostile), 0.05)!;
    expect(line).toContain('gvisor\\n::error::x vs docker on mem');
    expect(line).not.toContain('\n');
  });

  it('the Markdown report: a folded Resolution table, the platforms stopped by the budget, and the findings line', () => {
    const md = renderMarkdown(file);
    expect(md).toContain('<details><summary>Resolution: 1 comparison above ±5.0%</summary>');
    expect(md).toContain('| benchmark | ± half-width | time | rounds | undecided at ±5.0% | stopped by the budget |');
    expect(md).toMatch(/\| cpu \| ±\d\.\d% \| 42s \| 3 \| - \| - \|/);
    expect(md).toContain(`| mem | ${memWidth} | 2m42s | 5 | gvisor vs docker \\(${memWidth}\\) | 1 platform |`);
    expect(md).toContain(`- Undecided at ±5.0% when the run ended: gvisor vs docker on mem \\(${memWidth}\\).\n\n</details>`);
  });

  it('the HTML report: a Resolution table and the findings line', async () => {
    const html = await renderHtml(file);
    expect(html).toContain(
      '<h2>Resolution</h2><table><thead><tr><th>benchmark</th><th>± half-width</th><th>time</th><th>rounds</th><th>undecided at ±5.0%</th><th>stopped by the budget</th></tr></thead>',
    );
    expect(html).toContain(
      `<tr><td>mem</td><td>${memWidth}</td><td>2m42s</td><td>5</td><td>gvisor vs docker (${memWidth})</td><td>1 platform</td></tr>`,
    );
    expect(html).toContain(`<p>Undecided at ±5.0% when the run ended: gvisor vs docker on mem (${memWidth}).</p>`);
  });

  it('has no budget column where no platform stopped by the budget', () => {
    const table = resolutionTable(
      resolved,
      file.results.map((r) => ({ ...r, stoppedBy: undefined })),
      0.05,
    )!;
    expect(table.header).toEqual(['benchmark', '± half-width', 'time', 'rounds', 'undecided at ±5.0%']);
    expect(table.rows.every((row) => row.length === 5)).toBe(true);
  });
});
