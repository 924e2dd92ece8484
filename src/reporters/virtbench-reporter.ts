import { join, relative, resolve } from 'node:path';
import type { Reporter, TestCase, Vitest } from 'vitest/node';
import { readResults, withSummary, writeFileAtomically, writeResults } from '../results/results-file.js';
import { RESULTS_SCHEMA, type BenchmarkRecord, type BenchmarkResult, type Question, type ResultsFile } from '../results/schema.js';
import { answerText, findingsOf } from './findings.js';
import { driftWarnings } from '../statistics/drift.js';
import { baselinePlatform, sortResults, tablePlatforms, type ReportOrder } from './ordering.js';
import { resolveBaseline } from '../results/baselines.js';
import { compareResults, gateFailures, gateFails, unjudgedRows } from '../statistics/compare.js';
import { displayWidth, guestHostNote, renderBaselineComparison, renderComparison, renderComparisonToFit, wrapText } from './table.js';
import { skipLines } from './skips.js';
import { markKind } from '../host/kind.js';
import { nameRecord } from '../host/name-keys.js';
import { printable } from '../host/printable.js';
import { resolutionTarget, runResolution } from '../statistics/resolution.js';
import { resolutionLine, undecidedLine } from './resolution.js';

// Its home was this module: importers of it here keep working.
export { skipLines };

export interface VirtbenchReporterOptions {
  reportDir: string;
  profile: string;
  /** Compare with a baseline at the end and fail the run on a regression beyond the fail threshold. */
  gate?: { baseline: string; threshold?: number; failThreshold?: number; noiseFloor?: number; allowMissing?: boolean | string[] };
  /** Columns and rows in this order; names it does not list follow in the order they finished. */
  order?: ReportOrder;
  /** The host's facts for results.json (the plugin passes the harness's reader: the reporter runs nothing itself). */
  describeHost?: (vitestVersion: string) => Promise<Record<string, string | number>>;
  /** The questions the run's platforms pose; the findings answer them. */
  questions?: Question[];
  /**
   * Platforms whose bench files were not run at all (they cannot run here), with the reason: each
   * benchmark that another platform ran is listed for them as skipped, with that reason.
   */
  notRun?: () => ReadonlyMap<string, string>;
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** The columns of the terminal the table is printed to: its own where it is one and says, else 120. */
export function terminalWidth(stdout: Pick<NodeJS.WriteStream, 'isTTY' | 'columns'> = process.stdout): number {
  return stdout.isTTY && stdout.columns > 0 ? stdout.columns : 120;
}

/** The table's file beside results.json: all platforms side by side, whatever the terminal's width. */
export const TABLE_FILE = 'table.txt';

function runHeading(file: ResultsFile, platforms: string[], profile: string): string {
  return printable(`virtbench: ${profile} profile, ${platforms.join(' vs ')}${guestHostNote(file.environment.host)}`);
}

/**
 * The findings for a terminal of `width` columns: each question, then an answer a line, its verdict
 * in a column of its own ("slower: 0.03x") that the eye runs down, the sentence wrapped beside it.
 */
export function findingLines(file: Pick<ResultsFile, 'results' | 'questions'>, width: number): string[] {
  const found = findingsOf(file);
  const column = Math.max(0, ...found.flatMap((f) => f.answers.map((a) => displayWidth(a.verdict?.words ?? ''))));
  return found.flatMap(({ question, answers }) => [
    ...wrapText(`  ${question}`, width, 4),
    ...answers.flatMap((answer) => {
      if (!answer.verdict) return wrapText(`    ${answerText(answer)}`, width, 6);
      const { words } = answer.verdict;
      const lead = `    ${words}${' '.repeat(column - displayWidth(words))}  `;
      const hanging = displayWidth(lead);
      return wrapText(answer.text, width - hanging).map((line, i) => (i === 0 ? lead : ' '.repeat(hanging)) + line);
    }),
  ]);
}

/** Turns one finished test case and its recorded samples into a result row. */
export function toBenchmarkResult(record: BenchmarkRecord, testCase: Pick<TestCase, 'result'>): BenchmarkResult {
  const outcome = testCase.result();
  const { platformInfo: _info, profile: _profile, skipReason, ...row } = record;
  // A stand-in (row.standIn) is skipped whatever its test did: it shows another platform's figure, never a measurement.
  if (outcome.state === 'skipped' || skipReason || row.standIn !== undefined) {
    const note = outcome.state === 'skipped' ? outcome.note : undefined;
    const standInNote = row.standIn === undefined ? undefined : `not measured on ${row.platform}: shown is ${row.standIn}'s figure`;
    return withSummary({ ...row, status: 'skipped', skipReason: skipReason ?? standInNote ?? note ?? 'skipped' });
  }
  if (outcome.state === 'passed') return withSummary({ ...row, status: 'passed' });
  const error =
    outcome.state === 'failed'
      ? (outcome.errors ?? []).map((e) => e.message).join('\n') || 'failed without an error message'
      : 'interrupted before it finished';
  return withSummary({ ...row, status: 'failed', error });
}

/**
 * Reads what the benchmark tests recorded, prints the cross-platform table and
 * writes results.json and the CSV files. It never starts or stops anything.
 */
export class VirtbenchReporter implements Reporter {
  static {
    // Recognized by its kind rather than instanceof: the plugin may be loaded more than once per run.
    markKind(this.prototype, 'virtbench-reporter');
  }

  private vitest?: Vitest;
  private results = new Map<string, BenchmarkResult>();
  /** Facts by platform name, in a record without a prototype (a platform may be named "constructor"). */
  private platformInfo: Record<string, Record<string, string | number | boolean>> = nameRecord();
  private host?: Promise<Record<string, string | number>>;
  private writing: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: VirtbenchReporterOptions) {}

  onInit(vitest: Vitest): void {
    this.vitest = vitest;
  }

  onTestRunStart(): void {
    this.results.clear(); // watch mode and IDE runs start afresh
    this.platformInfo = nameRecord();
  }

  /**
   * Every finished benchmark is written at once, so an interrupted run (Ctrl-C
   * exits without onTestRunEnd) keeps what it had measured.
   */
  onTestCaseResult(testCase: TestCase): void {
    const record = testCase.meta().virtbench;
    if (!record) return;
    this.results.set(testCase.id, toBenchmarkResult(record, testCase));
    for (const [platform, reason] of this.options.notRun?.() ?? []) {
      const key = `not run\u0000${platform}\u0000${record.benchmark}`;
      if (platform === record.platform || this.results.has(key)) continue;
      const { benchmark, title, unit, better, variant } = record;
      const row = { platform, benchmark, title, unit, better, ...(variant === undefined ? {} : { variant }) };
      this.results.set(key, { ...row, status: 'skipped', skipReason: reason, samples: [] });
    }
    if (record.platformInfo) this.platformInfo[record.platform] = record.platformInfo;
    this.writing = this.writing.then(() => this.write()).catch(() => {}); // reported by the final write
  }

  async onTestRunEnd(): Promise<void> {
    if (this.results.size === 0) return; // not a benchmark run
    await this.writing;
    // One line a call, printable: a name or an error that holds a newline or an escape sequence starts no line of its own.
    const log = (text = '') => {
      const line = printable(text, { joinLines: '; ' });
      if (this.vitest) this.vitest.logger.log(line);
      else console.log(line);
    };
    const file = await this.resultsFile();
    const platforms = tablePlatforms(file.results);

    const width = terminalWidth();
    const say = (line: string) => wrapText(line, width, 4).forEach((l) => log(l));
    log();
    say(runHeading(file, platforms, this.options.profile));
    for (const line of renderComparisonToFit(file.results, platforms, width).lines) log(line);
    const resolved = file.resolution ?? [];
    const footer = resolutionLine(resolved, resolutionTarget(file));
    if (footer) wrapText(footer, width, 2).forEach((l) => log(l));
    for (const line of skipLines(file.results)) say(`  ${line}`);
    for (const line of driftWarnings(file.results, baselinePlatform(platforms))) say(`  WARNING ${line}`);
    for (const line of findingLines(file, width)) log(line);
    const undecided = undecidedLine(resolved, resolutionTarget(file));
    if (undecided) say(`  ${undecided}`);
    // The error text already names the platform and the workload.
    for (const failed of file.results.filter((r) => r.status === 'failed')) say(`  FAILED ${firstLine(failed.error ?? '')}`);
    try {
      const written = await this.write();
      const shown = relative(process.cwd(), written[0]!);
      log(`  results: ${shown.startsWith('..') ? written[0] : shown}, ${TABLE_FILE} (the full table) and ${written.length - 1} CSV files`);
    } catch (error) {
      log(`  virtbench could not write results to ${this.reportDir()}: ${(error as Error).message}`);
      process.exitCode = 1;
    }
    if (this.options.gate) await this.applyGate(file, log);
  }

  /** Runs after the results are written, so a bad baseline never costs the run its results. */
  private async applyGate(file: ResultsFile, log: (line?: string) => void): Promise<void> {
    const { baseline, threshold, failThreshold, noiseFloor, allowMissing } = this.options.gate!;
    try {
      const comparisons = compareResults(await readResults(await resolveBaseline(baseline, process.env)), file, {
        threshold,
        failThreshold,
        noiseFloor,
        allowMissing,
      });
      log();
      log(`virtbench: against baseline ${baseline}`);
      for (const line of renderBaselineComparison(comparisons)) log(`  ${line}`);
      if (gateFails(comparisons)) {
        log('  virtbench: the gate fails, failing the run:');
        for (const cause of gateFailures(comparisons)) log(`    - ${cause}`);
        process.exitCode = 1;
      } else if (unjudgedRows(comparisons).length > 0) {
        // A gate that passed what it could not judge would pass any regression.
        log(
          `  virtbench: the gate cannot judge against ${baseline}: it holds one run and so does this run, so how far runs differ is unknown`,
        );
        log(
          '    fix: gate against a pooled baseline (`virtbench history baseline`), set noiseFloor (measured by an A/A), or use `virtbench ab`',
        );
        process.exitCode = 1;
      }
    } catch (error) {
      log(`  virtbench: cannot compare with baseline ${baseline}: ${(error as Error).message}`);
      process.exitCode = 1;
    }
  }

  private reportDir(): string {
    return resolve(this.vitest?.config.root ?? process.cwd(), this.options.reportDir);
  }

  private async resultsFile(): Promise<ResultsFile> {
    this.host ??= this.options.describeHost?.(this.vitest?.version ?? 'unknown') ?? Promise.resolve({});
    const results = [...this.results.values()];
    const file: ResultsFile = {
      schema: RESULTS_SCHEMA,
      createdAt: new Date().toISOString(),
      profile: this.options.profile,
      environment: { host: await this.host, platforms: this.platformInfo },
      results: sortResults(results, this.options.order),
      ...(this.options.questions?.length ? { questions: this.options.questions } : {}),
    };
    // Every run states what it resolved, in results.json too.
    return { ...file, resolution: runResolution(file) };
  }

  private async write(): Promise<string[]> {
    const file = await this.resultsFile();
    const written = await writeResults(this.reportDir(), file);
    const platforms = tablePlatforms(file.results);
    const footer = resolutionLine(file.resolution ?? [], resolutionTarget(file));
    const table = [
      runHeading(file, platforms, this.options.profile),
      ...renderComparison(file.results, platforms).lines,
      ...(footer ? [footer] : []),
    ];
    await writeFileAtomically(join(this.reportDir(), TABLE_FILE), table.join('\n') + '\n');
    return written;
  }
}
