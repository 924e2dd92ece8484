import { describe, expect, it } from 'vitest';
import { compareResults, type Comparison } from '../../src/statistics/compare.js';
import { escapeMarkdown, GITHUB_COMMENT_LIMIT, PR_COMMENT_MARKER, renderMarkdown, renderPrComment } from '../../src/reporters/markdown.js';
import type { BenchmarkResult, Question, ResultsFile } from '../../src/results/schema.js';
import { asRuns, resultOf, resultsFileOf } from '../builders.js';

/*
 * The Markdown goes into a pull-request comment and the job summary, from a
 * results file the pull request itself produced: its text must stay text,
 * the comment must stay short enough to read and under GitHub's limit.
 */

const PLATFORMS = [
  'native',
  'docker',
  'docker-volume',
  'docker-hostnet',
  'qemu-kvm',
  'qemu-kvm-qcow2',
  'qemu-kvm-ide',
  'qemu-tcg',
  'qemu-tcg-qcow2',
  'qemu-tcg-ide',
  'unikernel',
];

/** The seven built-in benchmarks with their real units, directions and native medians of a 2-CPU VM. */
const BENCHMARKS: { benchmark: string; unit: string; better: 'higher' | 'lower'; native: number; variant?: string }[] = [
  { benchmark: 'cpu', unit: 'kFLOPS', better: 'higher', native: 3.18e6 },
  { benchmark: 'mem', unit: 's', better: 'lower', native: 0.34 },
  { benchmark: 'disk-random', unit: 'IOPS', better: 'higher', native: 64_000 },
  { benchmark: 'disk-copyup', unit: 's', better: 'lower', native: 0.0042 },
  { benchmark: 'fork', unit: 's', better: 'lower', native: 0.91 },
  { benchmark: 'fork-threads', unit: 's', better: 'lower', native: 0.52, variant: 'threads' },
  { benchmark: 'nginx', unit: 's', better: 'lower', native: 1.2 },
];

/** How much slower than native each platform is (a cost of 8 = eight times the time, an eighth of the rate). */
const COST: Record<string, number> = {
  native: 1,
  docker: 1.02,
  'docker-volume': 1.01,
  'docker-hostnet': 1.01,
  'qemu-tcg': 8,
  'qemu-tcg-qcow2': 8.5,
  'qemu-tcg-ide': 9,
  unikernel: 1.1,
};

const KVM_MISSING = 'KVM is not usable here: /dev/kvm does not exist (no hardware virtualization, or no access to it)';
const UNIKERNEL_NA: Record<string, string> = {
  'disk-random': 'n/a: the unikernel has no block device',
  'disk-copyup': 'n/a: the unikernel has no block device',
  fork: 'n/a: a single-address-space guest has no fork()',
  nginx: 'n/a: the unikernel has no network stack',
};

const QUESTIONS: Question[] = [
  { question: 'Does Docker cost CPU or memory?', comparisons: [{ platform: 'docker', against: 'native', benchmarks: ['cpu', 'mem'] }] },
  {
    question: 'Where does copy-on-write cost?',
    comparisons: [
      { platform: 'docker', against: 'native', benchmarks: ['disk-copyup'] },
      { platform: 'docker', against: 'docker-volume', benchmarks: ['disk-copyup', 'disk-random'] },
    ],
  },
  {
    question: "What does Docker's network path cost?",
    comparisons: [
      { platform: 'docker', against: 'docker-hostnet', benchmarks: ['nginx'] },
      { platform: 'docker-hostnet', against: 'native', benchmarks: ['nginx'] },
    ],
  },
  {
    question: 'What do hardware virtualization and binary translation cost?',
    comparisons: [
      { platform: 'qemu-kvm', against: 'native', benchmarks: ['cpu', 'mem'] },
      { platform: 'qemu-tcg', against: 'native', benchmarks: ['cpu', 'mem'] },
    ],
  },
  {
    question: 'What do IDE emulation and qcow2 cost?',
    comparisons: [
      { platform: 'qemu-tcg-ide', against: 'qemu-tcg', benchmarks: ['disk-random'] },
      { platform: 'qemu-tcg-qcow2', against: 'qemu-tcg', benchmarks: ['disk-random'] },
      { platform: 'qemu-tcg', against: 'native', benchmarks: ['disk-random'] },
    ],
  },
  {
    question: 'Why is fork slower in a VM?',
    comparisons: [{ platform: 'qemu-tcg', against: 'native', benchmarks: ['fork', 'fork-threads'] }],
  },
  {
    question: 'What does a single-application guest cost, and what do threads cost where fork() cannot run?',
    comparisons: [{ platform: 'unikernel', against: 'native', benchmarks: ['cpu', 'mem', 'fork-threads'] }],
  },
];

/**
 * A full run as the reporter writes it: 11 platforms x 7 benchmarks, five runs each taken in rounds,
 * the three KVM platforms skipped, the unikernel n/a on four benchmarks. `slower` makes a cell slower by that fraction.
 */
function fullRun(slower: Record<string, number> = {}): ResultsFile {
  const results: BenchmarkResult[] = [];
  for (const { benchmark, unit, better, native, variant } of BENCHMARKS) {
    for (const platform of PLATFORMS) {
      const skipReason = platform.startsWith('qemu-kvm') ? KVM_MISSING : platform === 'unikernel' ? UNIKERNEL_NA[benchmark] : undefined;
      if (skipReason) {
        results.push(resultOf(platform, benchmark, [], { unit, better, variant, status: 'skipped', skipReason }));
        continue;
      }
      const cost = COST[platform]! * (1 + (slower[`${platform}/${benchmark}`] ?? 0));
      const median = better === 'higher' ? native / cost : native * cost;
      const values = [0, 0.01, -0.01, 0.005, -0.005].map((spread) => median * (1 + spread));
      const result = resultOf(platform, benchmark, values, { unit, better, variant });
      result.samples.forEach((sample, round) => (sample.extra = { round }));
      results.push(result);
    }
  }
  const file = resultsFileOf(results, { hostname: 'vm', cpuModel: 'AMD EPYC', cpus: 2, hypervisor: 'kvm' });
  return { ...file, questions: QUESTIONS };
}

/** The lines a reader sees without opening a <details>: its summary line stays, its content does not. */
function visibleLines(markdown: string): string[] {
  const visible: string[] = [];
  let folded = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('<details>')) {
      visible.push(line);
      folded = true;
    } else if (line === '</details>') {
      folded = false;
    } else if (!folded) {
      visible.push(line);
    }
  }
  return visible;
}

describe('the PR comment of a full run', () => {
  const baseline = fullRun();
  const current = fullRun({ 'qemu-tcg/cpu': 0.15, 'docker/nginx': -0.1 });
  // One run a side: judged with a stated run-to-run spread, as `compare --noise-floor 2%` does.
  const comparisons = compareResults(baseline, current, { noiseFloor: 0.02 });
  const comment = renderPrComment(current, comparisons);

  it('starts with the marker a workflow finds it by, then the verdict', () => {
    expect(comment.startsWith(`${PR_COMMENT_MARKER}\n## virtbench\n\n**1 regression** against the baseline: the gate **fails**`)).toBe(
      true,
    );
    expect(comment).toContain('- qemu-tcg/cpu regressed -13%: beyond the fail threshold \\(5.0%\\)');
    expect(comment.length).toBeLessThan(20_000); // 17,734 characters in 148 lines, 39 of them visible
  });

  it('shows at most ~40 lines: the verdict, the rows that changed, the table and one line per skipped platform', () => {
    const visible = visibleLines(comment);
    expect(visible.length).toBeLessThanOrEqual(40);
    const changed = visible.filter((l) => /^\| (qemu-tcg|docker) \| (cpu|nginx) \|/.test(l));
    expect(changed).toEqual([expect.stringContaining('**REGRESSED** (fails the gate)'), expect.stringContaining('| improved |')]);
    expect(visible).toContain(
      '| benchmark | unit | native | docker | docker-volume | docker-hostnet | qemu-tcg | qemu-tcg-qcow2 | qemu-tcg-ide | unikernel |',
    );
    // 25 skipped cells, 4 lines: one per platform and reason.
    expect(visible.filter((l) => l.startsWith('- qemu-kvm'))).toEqual([
      `- qemu-kvm skipped: ${escapeMarkdown(KVM_MISSING)}`,
      `- qemu-kvm-qcow2 skipped: ${escapeMarkdown(KVM_MISSING)}`,
      `- qemu-kvm-ide skipped: ${escapeMarkdown(KVM_MISSING)}`,
    ]);
    expect(visible.filter((l) => l.startsWith('- unikernel'))).toEqual([
      '- unikernel disk-random, disk-copyup: n/a: the unikernel has no block device',
      '- unikernel fork: n/a: a single-address-space guest has no fork\\(\\)',
      '- unikernel nginx: n/a: the unikernel has no network stack',
    ]);
  });

  it('folds the findings, the resolution and the full comparison', () => {
    expect(comment).toMatch(/<details><summary>Findings: 7 answers<\/summary>\n\n- Does Docker cost CPU or memory\? slower: 0\.98x, cpu: /);
    expect(comment).toMatch(/<details><summary>Against the baseline: all 77 comparisons<\/summary>\n\n\| platform \| benchmark \|/);
    expect(comment.match(/^<details>/gm)).toHaveLength(3);
    expect(comment.match(/^<\/details>$/gm)).toHaveLength(3);
    // Each platform's runs spread alike in each round: every ratio interval has no width.
    expect(comment).toMatch(
      /<details><summary>Resolution: every comparison decided at ±5\.0%<\/summary>\n\n\| benchmark \| ± half-width \|/,
    );
    expect(comment).toContain('| cpu | ±0.0% | 5s | 5 | - |');
    expect(comment).toContain('- Every comparison was decided at ±5.0%.\n\n</details>');
  });

  it('is the same report as renderMarkdown, less the marker', () => {
    expect(comment).toBe(`${PR_COMMENT_MARKER}\n${renderMarkdown(current, comparisons)}`);
  });
});

describe('escapeMarkdown', () => {
  it.each([
    ['<img src=x onerror=alert(1)>', '&lt;img src=x onerror=alert\\(1\\)&gt;'],
    ['[x](javascript:alert(1))', '\\[x\\]\\(javascript:alert\\(1\\)\\)'],
    ['![t](http://evil/p.png)', '\\!\\[t\\]\\(http:\u200b//evil/p.png\\)'],
    ['@org/team', '&#64;\u200borg/team'],
    ['`rm -rf /` *bold* _it_ ~~s~~ $x$', '\\`rm -rf /\\` \\*bold\\* \\_it\\_ \\~\\~s\\~\\~ \\$x\\$'],
    ['a | b \\ c & d', 'a \\| b \\\\ c &amp; d'],
    ['line one\nline two\r\n', 'line one line two'],
    ['# not a heading, fixes #12', '\\#\u200b not a heading, fixes \\#\u200b12'],
  ])('%j', (hostile, escaped) => {
    expect(escapeMarkdown(hostile)).toBe(escaped);
  });

  it('cuts a long text to its limit', () => {
    expect(escapeMarkdown('x'.repeat(10_000), 50)).toBe(`${'x'.repeat(49)}…`);
  });
});

describe('renderMarkdown with a hostile results file', () => {
  const IMG = '<img src=x onerror=alert(1)>';
  const LINK = '[x](javascript:alert(1))';
  const PICTURE = '![t](http://evil/p.png)';
  const hostile: BenchmarkResult[] = [
    asRuns(resultOf('native', 'cpu', [1, 1.01, 0.99, 1, 1])),
    asRuns(resultOf(IMG, 'cpu', [2, 2.02, 1.98, 2, 2])),
    asRuns(resultOf('native', LINK, [1, 1.01, 0.99, 1, 1], { unit: '<b>ms</b>', variant: PICTURE })),
    resultOf(IMG, LINK, [], { status: 'failed', error: '@org/team look: `rm -rf /` <script>alert(1)</script>\nsecond line' }),
    resultOf('qemu-kvm | evil', 'cpu', [], { status: 'skipped', skipReason: `${PICTURE} cc @org/team` }),
  ];
  const file = {
    ...resultsFileOf(hostile, { hostname: 'vm', cpuModel: '<b>EPYC</b> @org/team', cpus: '<i>2</i>', hypervisor: `kvm ${IMG}` }),
    questions: [{ question: `${LINK} @org/team?`, comparisons: [{ platform: IMG, against: 'native', benchmarks: ['cpu'] }] }],
  };
  const baseline = { ...file, results: [...hostile, asRuns(resultOf('`gone`', '@org/team', [1, 1, 1]))] };
  const md = renderPrComment(file, compareResults(baseline, file));

  it('lets no HTML, link, image, code, emphasis or mention through', () => {
    expect(md).not.toMatch(/<(img|script|b|i)\b/);
    expect(md).not.toContain('](');
    expect(md).not.toContain('![');
    expect(md).not.toContain('@');
    expect(md).not.toMatch(/(?<!\\)`/);
    // Only the report's own markup may emphasise.
    const ownMarkup = /\*\*(REGRESSED|fails|No regression|\d+ regressions?|Warning:)\*\*|change \[95% CI\]/g;
    expect(md.replace(ownMarkup, '')).not.toMatch(/(?<!\\)[*_[\]~$]/);
    expect(md).toContain('- qemu-kvm \\| evil skipped: \\!\\[t\\]\\(http:\u200b//evil/p.png\\) cc &#64;\u200borg/team');
    // The first line of an error names the command; the rest is in results.json.
    expect(md).toContain('failed: &#64;\u200borg/team look: \\`rm -rf /\\` &lt;script&gt;alert\\(1\\)&lt;/script&gt;\n');
  });

  it('keeps every table row to its columns', () => {
    const tables = md.split('\n\n').filter((block) => block.startsWith('|'));
    expect(tables.length).toBeGreaterThanOrEqual(2);
    for (const table of tables) {
      const pipes = table.split('\n').map((line) => line.match(/(?<!\\)\|/g)!.length);
      expect(new Set(pipes).size).toBe(1);
    }
  });
});

describe('the size of the comment', () => {
  /** Rows as compareResults makes them, without running its statistics thousands of times. */
  const removed = (platform: string, benchmark: string): Comparison => ({
    platform,
    benchmark,
    unit: 's',
    better: 'lower',
    verdict: 'removed',
    reason: 'not in the current run',
    note: 'not in the current run, but the baseline measured it: fails the gate',
    threshold: 0.05,
    failThreshold: 0.05,
    failsGate: true,
    missing: true,
  });

  it('stays under GitHub limit for a huge file, cutting the folded parts first and saying so', () => {
    const longName = (i: number) => `${'<b>x</b>@org/team'.repeat(20)}-${i}`;
    const stderr = '![t](http://evil/p.png)'.repeat(50_000);
    const results = Array.from({ length: 3_000 }, (_, i) =>
      resultOf(`p${i % 30}`, `b${Math.floor(i / 30)}`, [], { status: 'failed', error: stderr }),
    );
    const comparisons = Array.from({ length: 3_000 }, (_, i) => removed(longName(i), longName(i + 1)));
    const md = renderPrComment({ ...resultsFileOf(results), questions: [] }, comparisons);
    expect(md.length).toBeLessThan(GITHUB_COMMENT_LIMIT);
    expect(md.startsWith(`${PR_COMMENT_MARKER}\n## virtbench\n\n**No regression** against the baseline: the gate **fails**.`)).toBe(true);
    expect(md).toContain('- … and 2989 more in the comparison below');
    expect(md).toMatch(
      /\n\n_\d+ more lines left out to stay under 64536 characters; `virtbench report --html` shows everything\._\n\nChange in performance/,
    );
    expect(md.match(/^<details>/gm)).toHaveLength(1);
    expect(md.match(/^<\/details>$/gm)).toHaveLength(1);
    expect(md).not.toContain('<b>');
  });

  it('cuts only the folded parts when they are what makes it too long', () => {
    const file = fullRun();
    const comparisons = compareResults(file, file);
    const many = [
      ...comparisons,
      ...Array.from({ length: 2_000 }, (_, i) => ({ ...removed('gone', `b${i}`), failsGate: false, allowed: true })),
    ];
    const md = renderMarkdown(file, many, { maxChars: 20_000 });
    expect(md.length).toBeLessThanOrEqual(20_000);
    // The findings go first, then rows of the full comparison.
    expect(md).toContain('\n_The findings left out to stay under 20000 characters; `virtbench report --html` shows it._\n');
    expect(md).toMatch(
      /\n\n_\d+ more lines left out to stay under 20000 characters; `virtbench report --html` shows everything\._\n\nChange in performance/,
    );
    expect(md).toMatch(/<\/details>\n$/);
    expect(md).toContain('| benchmark | unit | native |'); // the visible table is whole
    expect(md).toContain('| nginx | s (lower) | 1.20 ±0.5% |');
  });
});

describe('a stand-in in the Markdown report', () => {
  it("shows the stand-in platform's figure marked as its, with a line that explains the mark", () => {
    const md = renderMarkdown(
      resultsFileOf([
        resultOf('native', 'cpu', [3000, 3000, 3000]),
        resultOf('qemu-tcg', 'cpu', [1230, 1230, 1230]),
        resultOf('qemu-tcg-ide', 'cpu', [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured on qemu-tcg-ide' }),
        resultOf('native', 'disk-random', [64_000, 64_000, 64_000]),
        resultOf('qemu-tcg', 'disk-random', [5000, 5000, 5000]),
        resultOf('qemu-tcg-ide', 'disk-random', [3000, 3000, 3000]),
      ]),
    );
    expect(md).toContain('| cpu | kFLOPS (higher) | 3.00k ±0.0% | 1.23k ±0.0%  0.41x | \\(1.23k as qemu-tcg\\) |');
    expect(md).toContain("\\(N as P\\) = not measured on that column's platform");
    expect(md).toContain('- qemu-tcg-ide cpu: not measured on qemu-tcg-ide');
    expect(renderMarkdown(resultsFileOf([resultOf('native', 'cpu', [1])]))).not.toContain('(N as P');
  });
});
