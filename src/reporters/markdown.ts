import { gateFailures, gateFails, reasonOf, unjudgedRows, type Comparison } from '../statistics/compare.js';
import { driftWarnings } from '../statistics/drift.js';
import { findings } from './findings.js';
import type { ResultsFile } from '../results/schema.js';
import { formatPercent, formatValue } from '../results/format.js';
import { guestHostNote, benchmarkLabel, cellOf, formatChange, STAND_IN_LEGEND, standInShown } from './table.js';
import { baselinePlatform, rowResult, tablePlatforms } from './ordering.js';
import { skipLines } from './skips.js';
import { EQUIVALENCE_MARGIN, legendLevels } from '../statistics/ratio.js';
import { printable, withoutControlCharacters } from '../host/printable.js';
import { resolutionTarget, runResolution } from '../statistics/resolution.js';
import { resolutionTable, undecidedCount, undecidedLine } from './resolution.js';

/*
 * The Markdown report, for a pull-request comment and the job summary. A
 * results file comes from the code under review, so every text in it is
 * data: it passes through escapeMarkdown and never becomes markup, a link or
 * a mention. The visible part answers "did this change slow anything down?";
 * the findings and the full comparison are folded.
 */

/** GitHub refuses a comment of 65,536 characters or more. */
export const GITHUB_COMMENT_LIMIT = 65_536;

/** A workflow finds the one comment it keeps updating by this first line. */
export const PR_COMMENT_MARKER = '<!-- virtbench-pr-comment -->';

export interface MarkdownOptions {
  /** Start with PR_COMMENT_MARKER (renderPrComment sets it). */
  prComment?: boolean;
  /**
   * At most this many characters (UTF-16 code units, never fewer than the characters GitHub counts).
   * Default: GitHub's comment limit less room for a workflow's own footer.
   */
  maxChars?: number;
}

const DEFAULT_MAX_CHARS = GITHUB_COMMENT_LIMIT - 1_000;

/** Longest name (platform, benchmark, unit) and longest other text taken from a results file into one place. */
const MAX_NAME = 80;
const MAX_TEXT = 300;
/** A finding is a sentence per comparison of a question: longer, and folded anyway. */
const MAX_FINDING = 2_000;

/** Lines of each list in the visible part; the rest is in the folded comparison or the table. */
const VISIBLE_LIST_LINES = 12;

const ZERO_WIDTH_SPACE = '\u200b';

/**
 * Text from a results file as inert Markdown: one line, at most maxLength characters, HTML
 * encoded, Markdown punctuation backslash-escaped, and no @mention, #reference or autolink.
 */
export function escapeMarkdown(value: unknown, maxLength = MAX_TEXT): string {
  // Cut first: a megabyte of stderr costs no more than the part that is shown (collapsing only shortens it).
  let text = withoutControlCharacters(String(value ?? '').slice(0, maxLength * 2), ' ').trim();
  if (text.length > maxLength) {
    const cut = /[\ud800-\udbff]/.test(text[maxLength - 2] ?? '') ? maxLength - 2 : maxLength - 1; // not half a surrogate pair
    text = `${text.slice(0, cut)}…`;
  }
  return (
    text
      // A zero-width space keeps GitHub from linking "#123", "http://…" and "www.…" (and from notifying what they name).
      .replace(/#/g, `#${ZERO_WIDTH_SPACE}`)
      .replace(/:\/\//g, `:${ZERO_WIDTH_SPACE}//`)
      .replace(/www\./gi, (www) => `${www.slice(0, 3)}${ZERO_WIDTH_SPACE}.`)
      .replace(/[\\`*_[\]()!#~|$]/g, '\\$&')
      .replace(/&/g, '&amp;')
      .replace(/</g, '&lt;')
      .replace(/>/g, '&gt;')
      // After the other escapes, whose "&" it must not meet; the zero-width space breaks the mention even where the entity is decoded first.
      .replace(/@/g, `&#64;${ZERO_WIDTH_SPACE}`)
  );
}

const esc = escapeMarkdown;
/** A name (platform, benchmark, unit) shows its control characters as escapes (\n, \x1b): two names differ visibly. */
const name = (value: unknown) => escapeMarkdown(printable(String(value ?? '')), MAX_NAME);

/** Cells are Markdown already: escaped data, or this module's own markup. */
function row(cells: string[]): string {
  return `| ${cells.join(' | ')} |`;
}

const VERDICT_MARK: Record<Comparison['verdict'], string> = {
  improved: 'improved',
  equivalent: 'equivalent',
  undecided: 'undecided',
  regressed: '**REGRESSED**',
  added: 'new',
  removed: 'removed',
  'not comparable': 'not comparable',
};

function verdictCell(c: Comparison): string {
  if (c.failsGate) return `${VERDICT_MARK[c.verdict]} (fails the gate)`;
  return c.allowed ? `${VERDICT_MARK[c.verdict]} (allowed)` : VERDICT_MARK[c.verdict];
}

const COMPARISON_HEADER = [
  row(['platform', 'benchmark', 'baseline', 'now', 'change [95% CI]', 'verdict', 'why']),
  row(['---', '---', '---:', '---:', '---:', '---', '---']),
];

function comparisonRow(c: Comparison): string {
  const value = (v?: number) => (v === undefined ? '-' : `${esc(formatValue(v))} ${name(c.unit)}`);
  const change = c.change === undefined ? '-' : esc(formatChange(c));
  return row([
    name(c.platform),
    name(c.benchmark),
    value(c.baselineMedian),
    value(c.currentMedian),
    change,
    verdictCell(c),
    esc(reasonOf(c)),
  ]);
}

/**
 * A part of the report. When the report is too long, parts with a cutOrder lose lines from the
 * end, the lowest order first (the folded parts), and say so.
 */
interface Part {
  /** Kept whole or dropped whole: a table's header, the opening of a <details>. */
  head?: string[];
  lines: string[];
  /** Kept whole or dropped whole: a legend, the closing of a <details>. */
  tail?: string[];
  cutOrder?: number;
  /** What the part is, for the note when all of it goes. */
  what: string;
}

const partText = (p: Part) => [...(p.head ?? []), ...p.lines, ...(p.tail ?? [])].join('\n');
const render = (parts: readonly Part[]) =>
  parts
    .map(partText)
    .filter((t) => t !== '')
    .join('\n\n') + '\n';

function cutNote(count: number, maxChars: number): string {
  return `_${count} more line${count === 1 ? '' : 's'} left out to stay under ${maxChars} characters; \`virtbench report --html\` shows everything._`;
}

/** The parts as text of at most maxChars characters: folded parts are cut first, then the visible ones, each saying what it lost. */
function fit(parts: Part[], maxChars: number): string {
  let text = render(parts);
  const cuttable = parts.filter((p) => p.cutOrder !== undefined).sort((a, b) => a.cutOrder! - b.cutOrder!);
  for (const part of cuttable) {
    if (text.length <= maxChars) return text;
    const excess = text.length - maxChars;
    const total = part.lines.length;
    let kept = total;
    let removed = 0;
    // The note (well under 200 characters) and the blank line before it take room too.
    while (kept > 0 && removed < excess + 200) removed += part.lines[--kept]!.length + 1;
    const fitted = { ...part, lines: [...part.lines.slice(0, kept), '', cutNote(total - kept, maxChars)] };
    Object.assign(part, kept > 0 && partText(part).length - partText(fitted).length >= excess ? fitted : dropped(part, maxChars));
    text = render(parts);
  }
  if (text.length <= maxChars) return text;
  // Only what is never cut is left, and it is bounded by the caps on each text: a last resort.
  const note = `\n\n_Cut to stay under ${maxChars} characters._\n`;
  return text.slice(0, Math.max(0, maxChars - note.length)) + note;
}

function dropped(part: Part, maxChars: number): Part {
  return {
    what: part.what,
    head: [],
    tail: [],
    lines: [`_${part.what} left out to stay under ${maxChars} characters; \`virtbench report --html\` shows it._`],
  };
}

/** The first line of an error (it names the command), read no further than it is shown. */
function firstLine(text: unknown): string {
  return String(text ?? '')
    .slice(0, MAX_TEXT * 2)
    .split('\n')[0]!;
}

/** The first `limit` lines, and a line saying how many more there are and where. */
function capped(lines: string[], limit: number, where: string): string[] {
  return lines.length <= limit ? lines : [...lines.slice(0, limit - 1), `- … and ${lines.length - limit + 1} more ${where}`];
}

/** "**2 regressions**: the gate fails." and why, or "**No regression**: the gate passes (3 improved)." */
function headline(comparisons: readonly Comparison[]): { line: string; causes: string[] } {
  const count = (verdict: Comparison['verdict']) => comparisons.filter((c) => c.verdict === verdict).length;
  const regressions = count('regressed');
  const allowed = comparisons.filter((c) => c.allowed).length;
  const fails = gateFails(comparisons);
  const unjudged = unjudgedRows(comparisons).length;
  const verdict = regressions === 0 ? 'No regression' : `${regressions} regression${regressions === 1 ? '' : 's'}`;
  const gate = fails ? '**fails**' : unjudged > 0 ? '**cannot judge** (one run a side)' : 'passes';
  const extras = [
    ...(['improved', 'equivalent', 'undecided'] as const).flatMap((v) => (count(v) > 0 ? [`${count(v)} ${v}`] : [])),
    ...(allowed > 0 ? [`${allowed} missing figure${allowed === 1 ? '' : 's'} allowed`] : []),
    ...(comparisons.length === 0 ? ['nothing to compare'] : []),
  ];
  const line = `**${verdict}** against the baseline: the gate ${gate}${extras.length > 0 ? ` (${extras.join(', ')})` : ''}.`;
  const causes = gateFailures(comparisons).map((cause) => `- ${esc(cause)}`);
  return { line, causes: capped(causes, VISIBLE_LIST_LINES, 'in the comparison below') };
}

/** What a reader must not take for "no change": each undecided row, with the change it could have seen. */
function undecidedPart(comparisons: readonly Comparison[]): Part | undefined {
  const undecided = comparisons.filter((c) => c.verdict === 'undecided');
  if (undecided.length === 0) return undefined;
  const each = undecided.map(
    (c) =>
      `${name(c.platform)} ${name(c.benchmark)} ` +
      (c.detectable !== undefined ? `(could detect ${formatPercent(c.detectable)})` : c.unjudged ? '(one run a side)' : ''),
  );
  return {
    what: 'the undecided rows',
    lines: [
      `**Undecided** (${undecided.length}), neither changed nor shown the same within the threshold: ${each.slice(0, VISIBLE_LIST_LINES).join('; ')}` +
        (each.length > VISIBLE_LIST_LINES ? `; and ${each.length - VISIBLE_LIST_LINES} more in the comparison below.` : '.'),
    ],
    cutOrder: 4,
  };
}

/** The drift warnings and the findings, folded. */
function findingsPart(file: ResultsFile, baseline: string | undefined): Part | undefined {
  const warnings = driftWarnings(file.results, baseline).map((w) => `- **Warning:** ${esc(w, MAX_FINDING)}`);
  const answers = findings(file).map((f) => `- ${esc(f, MAX_FINDING)}`);
  if (warnings.length + answers.length === 0) return undefined;
  const undecided = undecidedLine(runResolution(file), resolutionTarget(file));
  const counts = [
    ...(answers.length > 0 ? [`${answers.length} answer${answers.length === 1 ? '' : 's'}`] : []),
    ...(warnings.length > 0 ? [`${warnings.length} warning${warnings.length === 1 ? '' : 's'}`] : []),
  ];
  return {
    what: 'The findings',
    head: [`<details><summary>Findings: ${counts.join(', ')}</summary>`, ''],
    lines: [...warnings, ...answers, ...(undecided ? [`- ${esc(undecided, MAX_FINDING)}`] : [])],
    tail: ['', '</details>'],
    cutOrder: 1,
  };
}

/** What the run resolved, per benchmark, folded below a line that says how many comparisons it left undecided. */
function resolutionPart(file: ResultsFile): Part | undefined {
  const resolved = runResolution(file);
  const target = resolutionTarget(file);
  const table = resolutionTable(resolved, file.results, target);
  if (!table) return undefined;
  // The cells are printable already; escaping keeps names and "|" inert.
  return {
    what: 'The resolution',
    head: [
      `<details><summary>Resolution: ${esc(undecidedCount(resolved, target))}</summary>`,
      '',
      row(table.header.map((h) => esc(h))),
      row(table.header.map((_, i) => (i === 0 || i >= 4 ? '---' : '---:'))),
    ],
    lines: table.rows.map((cells) => row(cells.map((cell, i) => (i === 0 ? name(cell) : esc(cell, MAX_FINDING))))),
    tail: ['', `${esc(table.legend, MAX_FINDING)}.`, '', '</details>'],
    cutOrder: 3,
  };
}

/**
 * A GitHub-flavoured Markdown report: the verdict against the baseline, the rows that changed or
 * fail the gate, the cross-platform table and what did not run, with the findings and the full
 * comparison folded; under maxChars characters whatever the results file holds.
 */
export function renderMarkdown(file: ResultsFile, comparisons?: readonly Comparison[], options: MarkdownOptions = {}): string {
  const platforms = tablePlatforms(file.results);
  const baseline = baselinePlatform(platforms);
  const benchmarks = [...new Set(file.results.map((r) => r.benchmark))];
  const byCell = new Map(file.results.map((r) => [`${r.platform}\u0000${r.benchmark}`, r]));
  const find = (p: string, b: string) => byCell.get(`${p}\u0000${b}`);
  const host = file.environment?.host ?? {};

  const parts: Part[] = [];
  parts.push({ what: 'the heading', lines: [...(options.prComment ? [PR_COMMENT_MARKER] : []), '## virtbench'] });

  if (comparisons) {
    const { line, causes } = headline(comparisons);
    parts.push({ what: 'the verdict', lines: [line] });
    // Cut last of all, and apart from the verdict, which is never cut.
    if (causes.length > 0) parts.push({ what: 'Why the gate fails', lines: causes, cutOrder: 6 });
  }

  const guest = guestHostNote(host);
  const facts = [`${file.profile} profile`, host.cpuModel, `${String(host.cpus ?? '?')} CPUs`, file.createdAt].filter(
    (f) => f !== undefined,
  );
  parts.push({ what: 'the environment', lines: [facts.map((f) => esc(f)).join(' · ') + (guest ? ` ${esc(guest)}` : '')] });

  if (comparisons) {
    // Failing rows first: they are why the check is red.
    const notable = comparisons
      .filter((c) => c.failsGate || c.verdict === 'regressed' || c.verdict === 'improved')
      .sort((a, b) => Number(b.failsGate) - Number(a.failsGate));
    if (notable.length > 0) {
      const rows = notable.map(comparisonRow);
      const more = rows.length - VISIBLE_LIST_LINES;
      parts.push({
        what: 'the changed rows',
        head: COMPARISON_HEADER,
        lines: more > 0 ? rows.slice(0, VISIBLE_LIST_LINES) : rows,
        tail: more > 0 ? ['', `_… and ${more} more in the comparison below._`] : [],
        cutOrder: 5,
      });
    }
  }

  const undecided = comparisons ? undecidedPart(comparisons) : undefined;
  if (undecided) parts.push(undecided);

  parts.push({
    what: 'the cross-platform table',
    head: [row(['benchmark', 'unit', ...platforms.map(name)]), row(['---', '---', ...platforms.map(() => '---:')])],
    lines: benchmarks.map((benchmark) => {
      const any = rowResult(file.results, benchmark)!;
      const base = baseline ? find(baseline, benchmark) : undefined;
      const cells = platforms.map((p) => esc(cellOf(find(p, benchmark), base, find)));
      return row([name(benchmarkLabel(any)), `${name(any.unit)} (${name(any.better)})`, ...cells]);
    }),
    tail: [
      '',
      legendLine(name(baseline), legendLevels(file.results)),
      ...(standInShown(file.results, platforms) ? ['', `${esc(STAND_IN_LEGEND)}.`] : []),
    ],
    cutOrder: 4,
  });

  // One line per platform and reason, not per cell: three skipped platforms would otherwise take 21 lines.
  const notRun = [
    ...skipLines(file.results).map((line) => `- ${esc(line)}`),
    ...file.results
      .filter((r) => r.status === 'failed')
      .map((r) => `- ${name(r.platform)} ${name(r.benchmark)} failed: ${esc(firstLine(r.error))}`),
  ];
  if (notRun.length > 0)
    parts.push({ what: 'what did not run', lines: capped(notRun, VISIBLE_LIST_LINES, 'in the table above'), cutOrder: 3 });

  const found = findingsPart(file, baseline);
  if (found) parts.push(found);
  const resolution = resolutionPart(file);
  if (resolution) parts.push(resolution);

  if (comparisons && comparisons.length > 0) {
    parts.push({
      what: 'The comparison against the baseline',
      head: [`<details><summary>Against the baseline: all ${comparisons.length} comparisons</summary>`, '', ...COMPARISON_HEADER],
      lines: comparisons.map(comparisonRow),
      tail: [
        '',
        `Change in performance (+ is better); noise threshold ${formatPercent(comparisons[0]!.threshold)}; rank test: Kruskal-Wallis on two groups (Mann-Whitney U).`,
        '',
        '</details>',
      ],
      cutOrder: 2,
    });
  }

  return fit(parts, options.maxChars ?? DEFAULT_MAX_CHARS);
}

/** The report as a pull-request comment: starts with PR_COMMENT_MARKER, under GitHub's comment limit. */
export function renderPrComment(file: ResultsFile, comparisons: readonly Comparison[] | undefined, options: MarkdownOptions = {}): string {
  return renderMarkdown(file, comparisons, { ...options, prComment: true });
}

function legendLine(baseline: string, levels: ReturnType<typeof legendLevels>): string {
  return (
    `Median ±half the IQR; Nx = performance vs ${baseline}, above 1 is better (its ${levels.difference} interval excludes 1); ` +
    `≈1x = the same within ±${formatPercent(EQUIVALENCE_MARGIN)} (its ${levels.equivalence} interval lies inside); ` +
    `? ±N% = cannot tell, the ${levels.difference} interval reaches N% from 1${levels.note}.`
  );
}
