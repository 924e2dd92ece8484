import type { HistoryEntry } from '../../results/history.js';
import type { ResultsFile } from '../../results/schema.js';
import type { Comparison } from '../../statistics/compare.js';

/*
 * A report format of `virtbench report`, after hyperfine's `Exporter`: what it is called, its option,
 * where it goes by default, and how it renders a results file. Rendering is pure: the CLI reads the
 * inputs, checks that no output overwrites one, writes the files and says so. A new format is a
 * module of its own and one line in REPORT_FORMATS (./index.ts).
 */

/** What every format renders from: a results file, the comparison when one was given, the history when read. */
export interface ReportInput {
  file: ResultsFile;
  comparisons?: readonly Comparison[];
  history?: readonly HistoryEntry[];
}

export interface ReportFormat {
  /** What it is, as a sentence names it: "the HTML report". */
  name: string;
  /** Its option of `virtbench report`, without the dashes: "md" for `--md [file]`. */
  option: string;
  /** What the option names: the file, or the directory of a format of several files. */
  argument: 'file' | 'dir';
  /**
   * The option's line of the usage, given its default as shown there (virtbench-report/report.md); a
   * longer one breaks into lines that the usage indents to the column of the first.
   */
  usage(shownDefault: string): string;
  /** Where it goes when the option has no value: beside the results file, in the report directory. */
  defaultFile(reportDir: string): string;
  /** The files it writes for the option's value (of the directory, for a format of several); the value itself when absent. */
  files?(target: string): string[];
  /** The text of each file, in the order of files(). */
  render(input: ReportInput): string[] | Promise<string[]>;
  /** What the CLI says it wrote ("bmf.json (Bencher Metric Format)"); the files when absent. */
  wrote?(target: string): string;
  /** Appended to the job summary too ($GITHUB_STEP_SUMMARY), where the CLI runs in a GitHub Actions job. */
  jobSummary?: boolean;
  /** Draws the runs of a history store (`--history`): the CLI reads one only for such a format. */
  drawsHistory?: boolean;
}

/** The files a format writes for the option's value. */
export function filesOf(format: ReportFormat, target: string): string[] {
  return format.files ? format.files(target) : [target];
}
