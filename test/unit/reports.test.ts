import { describe, expect, it } from 'vitest';
import { compareResults } from '../../src/statistics/compare.js';
import { toGithubBenchmark } from '../../src/reporters/formats/github-benchmark.js';
import { findings } from '../../src/reporters/findings.js';
import { renderMarkdown } from '../../src/reporters/markdown.js';
import { mergeResults } from '../../src/results/merge.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { asRuns, resultOf, resultsFileOf } from '../builders.js';

/** Each sample a run of its own, so that files compare as pooled runs (one run a side cannot be judged). */
const result = (...args: Parameters<typeof resultOf>) => asRuns(resultOf(...args));
const file = (hostname: string, ...results: BenchmarkResult[]) => resultsFileOf(results, { hostname, cpuModel: 'AMD EPYC', cpus: 2 });

const run = file(
  'vm',
  result('native', 'disk-random', [64_000, 65_000, 63_000, 64_000, 64_000]),
  result('docker', 'disk-random', [52_000, 52_000, 51_000, 53_000, 52_000]),
  result('native', 'mem', [0.34, 0.34, 0.35, 0.34, 0.34]),
  result('docker', 'mem', [], { status: 'failed', error: 'memsweep exited with code 1\nstderr: ...' }),
);

describe('findings', () => {
  it('answers each question with the ratio and its 95% interval, and says when the noise explains a difference', () => {
    const questions = [
      { question: 'Does Docker cost CPU or memory?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['cpu', 'mem'] }] },
      { question: 'Where does copy-on-write cost?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['disk-random'] }] },
      { question: 'Is there a question without figures?', comparisons: [{ platform: 'podman', against: 'native', benchmarks: ['cpu'] }] },
    ];
    const figures = [
      // Recorded medians of a drifting run: docker looked 16 % slower on cpu, within the noise of 5 runs each.
      result('native', 'cpu', [3.18e6, 2.9e6, 3.4e6, 2.7e6, 3.6e6]),
      result('docker', 'cpu', [2.66e6, 3.3e6, 2.5e6, 3.5e6, 2.8e6]),
      ...run.results,
    ];
    expect(findings({ results: figures, questions })).toEqual([
      'Does Docker cost CPU or memory? cannot tell: ±23%, cpu: differences within ±23% are beyond this run (docker 0.93x [0.77, 1.13] native; docker 2.80M, native 3.18M kFLOPS).',
      'Where does copy-on-write cost? slower: 0.81x, disk-random: docker 0.81x [0.80, 0.83] native (docker 52.0k, native 64.0k IOPS; higher is better).',
    ]);
  });

  it('answers an A/A question with the smallest difference this machine can tell apart', () => {
    const aa = {
      question: 'A/A: native measured twice; the smallest difference this machine can tell apart:',
      aa: true,
      comparisons: [{ platform: 'native#2', against: 'native', benchmarks: ['mem'] }],
    };
    const results = [result('native', 'mem', [0.34, 0.35, 0.34, 0.33, 0.34]), result('native#2', 'mem', [0.34, 0.34, 0.35, 0.34, 0.33])];
    expect(findings({ results, questions: [aa] })).toEqual([
      'A/A: native measured twice; the smallest difference this machine can tell apart: mem ±3.1% (native#2 1.00x [0.97, 1.03] native).',
    ]);
  });

  it("says a comparison with a stand-in was not measured, rather than compare a platform with another's figure", () => {
    const standIn = (benchmark: string) =>
      result('qemu-tcg-ide', benchmark, [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured on qemu-tcg-ide' });
    const results = [
      result('qemu-tcg', 'cpu', [1e3, 1.01e3, 0.99e3]),
      result('qemu-tcg', 'mem', [2, 2.1, 2]),
      result('qemu-tcg', 'disk-random', [5000, 5100, 4900]),
      standIn('cpu'),
      standIn('mem'),
      result('qemu-tcg-ide', 'disk-random', [3000, 3100, 2900]),
    ];
    const question = {
      question: 'What does IDE cost?',
      comparisons: [{ platform: 'qemu-tcg-ide', against: 'qemu-tcg', benchmarks: ['cpu', 'mem', 'disk-random'] }],
    };
    expect(findings({ results, questions: [question] })).toEqual([
      'What does IDE cost? slower: 0.60x, disk-random: qemu-tcg-ide 0.60x [0.56, 0.64] qemu-tcg (qemu-tcg-ide 3.00k, qemu-tcg 5.00k IOPS; higher is better); ' +
        "cpu, mem: not measured on qemu-tcg-ide (qemu-tcg's figure stands in), so no difference to state.",
    ]);
    const against = { question: 'Against IDE?', comparisons: [{ platform: 'qemu-tcg', against: 'qemu-tcg-ide', benchmarks: ['cpu'] }] };
    expect(findings({ results, questions: [against] })).toEqual([
      "Against IDE? cpu: not measured on qemu-tcg-ide (qemu-tcg's figure stands in), so no difference to state.",
    ]);
  });

  it('without questions, compares every platform with native', () => {
    expect(findings({ results: run.results })).toEqual([
      'What does docker cost against native? slower: 0.81x, disk-random: docker 0.81x [0.80, 0.83] native (docker 52.0k, native 64.0k IOPS; higher is better).',
    ]);
  });
});

describe('renderMarkdown', () => {
  it('is a GFM table with ratios, failures, the baseline change and findings, short enough for a PR comment', () => {
    const slower = file('vm', result('native', 'disk-random', [50_000, 50_500, 49_500, 50_000, 50_000]));
    const md = renderMarkdown(slower, compareResults(run, slower));
    expect(md).toMatch(
      /^## virtbench\n\n\*\*1 regression\*\* against the baseline: the gate \*\*fails\*\*\.\n\n- native\/disk-random regressed -22%/,
    );
    // docker ran disk-random in the baseline and is gone now: one reason for the platform.
    expect(md).toContain(
      '- docker: platform not in the current run, 1 benchmark the baseline measured; if intended, allow it with --allow-missing docker',
    );
    expect(md).toContain('| benchmark | unit | native |');
    expect(md).toContain('| disk-random | IOPS (higher) | 50.0k ±0.0% |');
    const regressed =
      /\| native \| disk-random \| 64\.0k IOPS \| 50\.0k IOPS \| -22% \\\[-2\d%, -2\d%\\\] \| \*\*REGRESSED\*\* \(fails the gate\) \| beyond the fail threshold \\\(5\.0%\\\): worse beyond 5\.0%, p=\S+ after Holm over 1 row \\\(10 runs in all\\\) \|/g;
    expect(md.match(regressed)).toHaveLength(2); // among the changed rows, and in the folded full comparison
    expect(md).toContain(
      '| docker | mem | - | - | - | removed | platform not in the current run \\(nothing to protect: the baseline failed\\) |',
    );
    expect(md).toContain('<details><summary>Against the baseline: all 4 comparisons</summary>');
    expect(md.length).toBeLessThan(65_536);
    const full = renderMarkdown(run);
    expect(full).toContain('- docker mem failed: memsweep exited with code 1');
    expect(full).toContain('<details><summary>Findings: 1 answer</summary>');
    expect(full).toMatch(/\| disk-random \| IOPS \(higher\) \| 64\.0k ±0\.0% \| 52\.0k ±0\.0% {2}0\.81x \|/);
  });
});

describe('toGithubBenchmark', () => {
  it('splits entries by direction with median, range and extra', () => {
    const { biggerIsBetter, smallerIsBetter } = toGithubBenchmark(run);
    expect(biggerIsBetter).toEqual([
      {
        name: 'disk-random (native)',
        unit: 'IOPS',
        value: 64_000,
        range: '± 0',
        extra: 'median of 5 runs, standard profile; IQR 64.0k..64.0k',
      },
      {
        name: 'disk-random (docker)',
        unit: 'IOPS',
        value: 52_000,
        range: '± 0',
        extra: 'median of 5 runs, standard profile; IQR 52.0k..52.0k',
      },
    ]);
    expect(smallerIsBetter.map((e) => e.name)).toEqual(['mem (native)']); // the failed docker mem is left out
  });

  it("has no entry for a stand-in: its figure is another platform's", () => {
    const standIn = result('docker-hostnet', 'disk-random', [], { status: 'skipped', standIn: 'docker', skipReason: 'not measured' });
    const { biggerIsBetter } = toGithubBenchmark(file('vm', ...run.results, standIn));
    expect(biggerIsBetter.map((e) => e.name)).toEqual(['disk-random (native)', 'disk-random (docker)']);
  });
});

describe('mergeResults', () => {
  it('qualifies a platform by host when two machines ran it, and keeps unique ones as they are', () => {
    const a = file('build-1', result('native', 'mem', [1]), result('docker', 'mem', [2]));
    const b = file('build-2', result('native', 'mem', [3]), result('qemu-tcg', 'mem', [40]));
    const merged = mergeResults([
      { path: 'a.json', file: a },
      { path: 'b.json', file: b },
    ]);
    expect(merged.results.map((r) => r.platform)).toEqual(['native@build-1', 'docker', 'native@build-2', 'qemu-tcg']);
    expect(merged.environment.platforms['native@build-2']).toEqual({ kernel: '6.1', host: 'build-2' });
    expect(merged.environment.host.mergedFrom).toBe('a.json, b.json');
  });

  it("keeps the measured result over another run's stand-in for the same platform and benchmark", () => {
    const standIn = result('qemu-tcg-ide', 'cpu', [], {
      status: 'skipped',
      standIn: 'qemu-tcg',
      skipReason: 'not measured on qemu-tcg-ide',
    });
    // Shard 1 showed qemu-tcg's cpu figure for the variant; shard 2 measured the variant's cpu (VIRTBENCH_VARIANT_BENCHMARKS=all).
    const shard1 = file('ci', result('qemu-tcg', 'cpu', [10]), standIn);
    const shard2 = file('ci', result('qemu-tcg-ide', 'cpu', [9]), result('qemu-tcg-ide', 'disk-random', [3]));
    for (const files of [
      [shard1, shard2],
      [shard2, shard1],
    ]) {
      const merged = mergeResults(files.map((f, i) => ({ path: `${i}.json`, file: f })));
      const variant = merged.results.filter((r) => r.platform === 'qemu-tcg-ide');
      expect(variant.map((r) => [r.benchmark, r.status, r.standIn])).toEqual([
        ['cpu', 'passed', undefined],
        ['disk-random', 'passed', undefined],
      ]);
      expect(merged.results.map((r) => r.platform)).not.toContain('qemu-tcg-ide@ci#1');
    }
  });

  it("qualifies a stand-in's platform as its file's, so it still finds that file's figure", () => {
    const standIn = result('qemu-tcg-ide', 'cpu', [], {
      status: 'skipped',
      standIn: 'qemu-tcg',
      skipReason: 'not measured on qemu-tcg-ide',
    });
    const a = file('build-1', result('qemu-tcg', 'cpu', [10]), standIn, result('qemu-tcg-ide', 'disk-random', [3]));
    const b = file('build-2', result('qemu-tcg', 'cpu', [20]), standIn, result('qemu-tcg-ide', 'disk-random', [4]));
    const merged = mergeResults([
      { path: 'a.json', file: a },
      { path: 'b.json', file: b },
    ]);
    expect(merged.results.filter((r) => r.standIn).map((r) => [r.platform, r.standIn])).toEqual([
      ['qemu-tcg-ide@build-1', 'qemu-tcg@build-1'],
      ['qemu-tcg-ide@build-2', 'qemu-tcg@build-2'],
    ]);
  });

  it('numbers shards of one host', () => {
    const shard = file('ci', result('native', 'mem', [1]));
    const merged = mergeResults([
      { path: '1.json', file: shard },
      { path: '2.json', file: shard },
    ]);
    expect(merged.results.map((r) => r.platform)).toEqual(['native@ci#1', 'native@ci#2']);
  });
});
