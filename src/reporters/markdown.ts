import type { Comparison } from './compare.js';
import { driftWarnings } from './drift.js';
import { findings } from './findings.js';
import type { ResultsFile } from '../results/schema.js';
import { guestHostNote, benchmarkLabel, formatCell, formatChange, formatPercent, formatValue } from './table.js';
import { baselinePlatform, tablePlatforms } from './ordering.js';

const VERDICT_MARK: Record<Comparison['verdict'], string> = {
  improved: 'improved',
  unchanged: 'unchanged',
  regressed: '**REGRESSED**',
  added: 'new',
  removed: 'removed',
  'not comparable': 'not comparable',
};

function escapeCell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function row(cells: string[]): string {
  return `| ${cells.map(escapeCell).join(' | ')} |`;
}

/**
 * A GitHub-flavoured Markdown report short enough for a PR comment: the
 * cross-platform table, the change against a baseline, the findings.
 */
export function renderMarkdown(file: ResultsFile, comparisons?: readonly Comparison[]): string {
  const platforms = tablePlatforms(file.results);
  const baseline = baselinePlatform(platforms);
  const benchmarks = [...new Set(file.results.map((r) => r.benchmark))];
  const find = (p: string, b: string) => file.results.find((r) => r.platform === p && r.benchmark === b);

  const out: string[] = ['## virtbench', ''];
  out.push(
    `${file.profile} profile · ${String(file.environment.host.cpuModel ?? '')} · ${String(file.environment.host.cpus ?? '?')} CPUs · ${file.createdAt}${guestHostNote(file.environment.host)}`,
    '',
  );
  out.push(row(['benchmark', 'unit', ...platforms]), row(['---', '---', ...platforms.map(() => '---:')]));
  for (const benchmark of benchmarks) {
    const any = file.results.find((r) => r.benchmark === benchmark)!;
    const base = baseline ? find(baseline, benchmark) : undefined;
    out.push(row([benchmarkLabel(any), `${any.unit} (${any.better})`, ...platforms.map((p) => formatCell(find(p, benchmark), base))]));
  }
  out.push(
    '',
    `Median ±half the IQR; Nx = performance vs ${baseline}, above 1 is better; ≈1x = no difference this machine can resolve (the 95% interval of the ratio contains 1).`,
  );

  const problems = file.results.filter((r) => r.status !== 'passed');
  if (problems.length > 0) {
    out.push('');
    for (const r of problems)
      out.push(`- ${r.platform} ${r.benchmark} ${r.status}: ${escapeCell((r.error ?? r.skipReason ?? '').split('\n')[0]!)}`);
  }

  if (comparisons && comparisons.length > 0) {
    out.push('', '### Against the baseline', '', row(['platform', 'benchmark', 'baseline', 'now', 'change [95% CI]', 'verdict']));
    out.push(row(['---', '---', '---:', '---:', '---:', '---']));
    for (const c of comparisons) {
      const value = (v?: number) => (v === undefined ? '-' : `${formatValue(v)} ${c.unit}`);
      out.push(
        row([
          c.platform,
          c.benchmark,
          value(c.baselineMedian),
          value(c.currentMedian),
          formatChange(c),
          VERDICT_MARK[c.verdict] + (c.failsGate ? ' (fails the gate)' : ''),
        ]),
      );
    }
    out.push(
      '',
      `Change in performance (+ is better); noise threshold ${formatPercent(comparisons[0]!.threshold)}; rank test: Kruskal-Wallis on two groups (Mann-Whitney U).`,
    );
  }

  const facts = [...driftWarnings(file.results, baseline).map((w) => `**Warning:** ${w}`), ...findings(file)];
  if (facts.length > 0) out.push('', '### Findings', '', ...facts.map((f) => `- ${f}`));
  return out.join('\n') + '\n';
}
