import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { BadOptionError, BadResultsFileError } from '../errors.js';
import { acquireLock } from '../host/file-lock.js';
import { readBoundedFile, RESULTS_LIMITS, withSummary } from './results-file.js';
import {
  isStandIn,
  RESULTS_SCHEMA,
  type BenchmarkResult,
  type Better,
  type ResultsFile,
  type ResultStatus,
  type Sample,
} from './schema.js';
import { makeDirectory } from '../host/make-dir.js';

/*
 * The history store: main-branch results, so that a pull request is judged
 * against a window of recent base runs rather than one (which may have been
 * a noisy one).
 *
 * Format: JSON lines (UTF-8), one line per recorded run, oldest first:
 *   {"schema":"virtbench.history/v1","commit":"<sha>","ref":"main","recordedAt":"<ISO, when appended>",
 *    "createdAt":"<the results file's createdAt>","profile":"standard","host":{"hostname":...,"cpuModel":...,"cpus":2,...},
 *    "results":[{"platform":"native","benchmark":"cpu","unit":"kFLOPS","better":"higher","status":"passed","values":[...]}]}
 * `values` are the sample values; titles, seconds and platform facts stay in results.json. A stand-in
 * (a variant's benchmark it does not measure) has no values and "standIn": the platform whose figure it showed.
 *
 * Writers hold a lock (the host's file lock, `<store>.lock`; a dead writer's is taken over at once). A line is appended by
 * one write to a file opened with O_APPEND; trimming to `keep` runs (and
 * repairing a torn last line) rewrites a temporary file renamed over the store.
 * Readers take no lock: they see the old file, the new one, or at worst a torn
 * last line, which is skipped with a warning.
 */

export const HISTORY_SCHEMA = 'virtbench.history/v1';

/** Runs a store keeps unless told otherwise: about a year of daily main-branch runs. */
export const DEFAULT_KEEP = 500;

export interface HistoryResult {
  platform: string;
  benchmark: string;
  unit: string;
  better: Better;
  status: ResultStatus;
  values: number[];
  /** A stand-in (BenchmarkResult.standIn): the platform whose figure it showed; it has no values of its own. */
  standIn?: string;
}

export interface HistoryEntry {
  schema: typeof HISTORY_SCHEMA;
  commit: string;
  ref: string;
  recordedAt: string;
  createdAt: string;
  profile: string;
  host: Record<string, string | number>;
  results: HistoryResult[];
}

export type Warn = (message: string) => void;

const warnOnStderr: Warn = (message) => console.warn(`virtbench: warning: ${message}`);

export function shortCommit(commit: string): string {
  return commit.slice(0, 7);
}

/** The line a results file becomes in the store: only what a comparison needs. */
export function historyEntry(file: ResultsFile, run: { commit: string; ref: string; recordedAt?: Date }): HistoryEntry {
  return {
    schema: HISTORY_SCHEMA,
    commit: run.commit,
    ref: run.ref,
    recordedAt: (run.recordedAt ?? new Date()).toISOString(),
    createdAt: file.createdAt,
    profile: file.profile,
    host: file.environment.host,
    results: file.results.map((r) => ({
      platform: r.platform,
      benchmark: r.benchmark,
      unit: r.unit,
      better: r.better,
      status: r.status,
      // A stand-in's figure is another platform's: nothing of it is recorded as this platform's.
      values: isStandIn(r) ? [] : r.samples.map((s) => s.value),
      ...(isStandIn(r) ? { standIn: r.standIn } : {}),
    })),
  };
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
const isText = (value: unknown): value is string => typeof value === 'string' && value !== '';
const isDate = (value: unknown) => typeof value === 'string' && !Number.isNaN(Date.parse(value));
const STATUSES: readonly unknown[] = ['passed', 'failed', 'skipped'] satisfies ResultStatus[];

/** What is wrong with one parsed line, or undefined when it is a valid entry. */
function entryProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not a JSON object';
  if (value.schema !== HISTORY_SCHEMA) return `schema ${JSON.stringify(value.schema)}, expected "${HISTORY_SCHEMA}"`;
  for (const field of ['commit', 'ref', 'profile'] as const) if (!isText(value[field])) return `"${field}" is not a non-empty string`;
  for (const field of ['recordedAt', 'createdAt'] as const) if (!isDate(value[field])) return `"${field}" is not a date`;
  if (!isRecord(value.host) || !Object.values(value.host).every((v) => typeof v === 'string' || typeof v === 'number')) {
    return '"host" is not an object of strings and numbers';
  }
  if (!Array.isArray(value.results)) return '"results" is not an array';
  for (const [i, r] of value.results.entries()) {
    const where = `results[${i}]`;
    if (!isRecord(r)) return `${where} is not an object`;
    for (const field of ['platform', 'benchmark', 'unit'] as const)
      if (!isText(r[field])) return `${where}.${field} is not a non-empty string`;
    if (r.better !== 'higher' && r.better !== 'lower') return `${where}.better is not "higher" or "lower"`;
    if (!STATUSES.includes(r.status)) return `${where}.status is not one of ${STATUSES.join(', ')}`;
    if (!Array.isArray(r.values) || !r.values.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      return `${where}.values is not an array of numbers`;
    }
    if (r.standIn !== undefined && !isText(r.standIn)) return `${where}.standIn is not a non-empty string`;
  }
  return undefined;
}

interface ParsedStore {
  entries: HistoryEntry[];
  /** The valid lines as they are in the file, to rewrite them unchanged. */
  lines: string[];
  /** The file does not end with a newline: the next append must not glue onto its last line. */
  unterminated: boolean;
}

function parseStore(text: string, path: string, warn: Warn): ParsedStore {
  const rawLines = text.split('\n');
  const unterminated = rawLines.at(-1) !== '';
  if (!unterminated) rawLines.pop();
  const parsed: ParsedStore = { entries: [], lines: [], unterminated };
  for (const [index, line] of rawLines.entries()) {
    if (line.trim() === '') continue;
    let value: unknown;
    let problem: string | undefined;
    try {
      value = JSON.parse(line);
      problem = entryProblem(value);
    } catch (cause) {
      problem = `not JSON: ${(cause as Error).message}`;
    }
    if (problem === undefined) {
      parsed.entries.push(value as HistoryEntry);
      parsed.lines.push(line);
      continue;
    }
    // Appends end with the newline, so only a crash mid-append leaves a bad last line without one.
    if (unterminated && index === rawLines.length - 1) {
      warn(`history store ${path} line ${index + 1} is incomplete (an append that did not finish?); ignored`);
      continue;
    }
    throw new BadResultsFileError(
      `history store ${path} line ${index + 1}: ${problem}\nfix: repair or delete that line (one recorded run per line; format in src/results/history.ts)`,
    );
  }
  return parsed;
}

/**
 * The store as readBoundedFile reads it: no larger than a results file, though DEFAULT_KEEP runs of a
 * results file's figures take a few MiB. A larger one (a --keep of thousands, or not a store) is
 * refused, and the fix keeps its newest runs.
 */
export const HISTORY_FILE = {
  what: 'history store',
  limit: RESULTS_LIMITS.fileBytes,
  why: `far more than ${DEFAULT_KEEP} recorded runs take`,
  fix: 'keep its newest runs, e.g. `tail -n 500 <store> > <store>.new && mv <store>.new <store>`, or start another store (VIRTBENCH_HISTORY)',
} as const;

async function readStoreText(path: string): Promise<string> {
  try {
    return (await readBoundedFile(path, HISTORY_FILE)).toString('utf8');
  } catch (error) {
    // A store that does not exist yet has no runs.
    if (((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') return '';
    throw error;
  }
}

/** The recorded runs, oldest first; a store that does not exist yet has none. */
export async function readHistory(path: string, options: { warn?: Warn } = {}): Promise<HistoryEntry[]> {
  return parseStore(await readStoreText(path), path, options.warn ?? warnOnStderr).entries;
}

function checkCount(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new BadOptionError(`${name} must be a whole number of runs, 1 or more, got ${value}\nfix: e.g. --${name} 10`);
  }
}

async function lockStore(path: string): Promise<() => Promise<void>> {
  await makeDirectory(dirname(path));
  const lock = await acquireLock(path, {
    // An append takes milliseconds: wait about 15 s before blaming a stuck writer.
    timeoutMs: 15_000,
    what: 'appending to the history store',
    timeoutError: (message) => new BadResultsFileError(`history store ${path} stayed locked: ${message}`),
  });
  return lock.release;
}

async function writeFully(path: string, flags: string, text: string, sync: boolean): Promise<void> {
  const data = Buffer.from(text);
  const handle = await open(path, flags);
  try {
    // One write call: an O_APPEND write lands whole at the end, never interleaved with another.
    const { bytesWritten } = await handle.write(data, 0, data.length);
    if (bytesWritten !== data.length) {
      throw new BadResultsFileError(
        `wrote ${bytesWritten} of ${data.length} bytes to ${path}\nfix: free disk space; the next append repairs the store`,
      );
    }
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
}

export interface AppendOutcome {
  /** False when this very run (commit, createdAt, profile) was already recorded: nothing was written. */
  appended: boolean;
  /** Runs in the store afterwards. */
  kept: number;
  /** The oldest runs dropped to stay within `keep`. */
  dropped: number;
}

/** Adds one run to the store under its lock, keeping at most `keep` runs (the newest). */
export async function appendHistory(
  path: string,
  entry: HistoryEntry,
  options: { keep?: number; warn?: Warn } = {},
): Promise<AppendOutcome> {
  const keep = options.keep ?? DEFAULT_KEEP;
  checkCount('keep', keep);
  const problem = entryProblem(entry);
  if (problem) throw new BadResultsFileError(`cannot record this run: ${problem}\nfix: record a virtbench results file`);

  const release = await lockStore(path);
  try {
    const store = parseStore(await readStoreText(path), path, options.warn ?? warnOnStderr);
    // A retried CI step records the same results file again; counting it twice would weight it double.
    const same = (e: HistoryEntry) => e.commit === entry.commit && e.createdAt === entry.createdAt && e.profile === entry.profile;
    if (store.entries.some(same)) return { appended: false, kept: store.entries.length, dropped: 0 };

    const line = JSON.stringify(entry);
    const lines = [...store.lines, line];
    const dropped = Math.max(0, lines.length - keep);
    if (dropped === 0 && !store.unterminated) {
      await writeFully(path, 'a', line + '\n', false);
    } else {
      const partial = `${path}.partial`;
      await writeFully(partial, 'w', lines.slice(dropped).join('\n') + '\n', true);
      await rename(partial, path);
    }
    return { appended: true, kept: lines.length - dropped, dropped };
  } finally {
    await release().catch(() => {});
  }
}

export interface BaselineWindow {
  /** How many of the newest matching runs to pool. */
  window: number;
  /** Only runs of this profile; default: the newest (matching) run's, so a quick run never mixes with standard ones. */
  profile?: string;
  /** Only runs on this host (its hostname). */
  host?: string;
}

const keyOf = (r: Pick<HistoryResult, 'platform' | 'benchmark'>) => `${r.platform}\u0000${r.benchmark}`;

/**
 * A results file whose samples are the pooled values of the last `window`
 * matching runs, usable as the baseline of compareResults. Each sample says
 * which run it came from (`extra.run`: 0 is the oldest run of the window),
 * so a rule can tell the noise between runs from the noise within one.
 */
export function historyBaseline(entries: readonly HistoryEntry[], options: BaselineWindow): ResultsFile {
  checkCount('window', options.window);
  const onHost = options.host === undefined ? [...entries] : entries.filter((e) => e.host.hostname === options.host);
  const profile = options.profile ?? onHost.at(-1)?.profile;
  const runs = onHost.filter((e) => e.profile === profile).slice(-options.window);
  const newest = runs.at(-1);
  if (!newest) {
    const wanted = [options.profile && `profile ${options.profile}`, options.host && `host ${options.host}`].filter(Boolean).join(' and ');
    throw new BadResultsFileError(
      `no recorded run${wanted ? ` of ${wanted}` : ''} in the history (${entries.length} runs in all)\n` +
        'fix: record main-branch runs with `virtbench history append <results.json> --commit <sha>`, or widen --profile/--host',
    );
  }

  // Newest first, so a benchmark's unit and direction are its latest, and its row comes where the newest run has it.
  const latest = new Map<string, HistoryResult>();
  for (const run of [...runs].reverse()) for (const r of run.results) if (!latest.has(keyOf(r))) latest.set(keyOf(r), r);

  const results: BenchmarkResult[] = [...latest.values()].map((defining) => {
    const samples: Sample[] = [];
    runs.forEach((run, index) => {
      const r = run.results.find((candidate) => keyOf(candidate) === keyOf(defining));
      // Values in another unit or direction are not comparable; a failed run's values are not what good looks like.
      if (!r || r.status !== 'passed' || r.unit !== defining.unit || r.better !== defining.better) return;
      const time = Date.parse(run.createdAt) / 1000;
      for (const value of r.values) samples.push({ time, value, seconds: 0, extra: { run: index } });
    });
    return withSummary({
      platform: defining.platform,
      benchmark: defining.benchmark,
      title: defining.benchmark, // titles are not kept in the history
      unit: defining.unit,
      better: defining.better,
      status: samples.length > 0 ? 'passed' : defining.status,
      samples,
      // Nothing measured in the window, and the newest run showed another platform's figure: the baseline has none of its own.
      ...(samples.length === 0 && isStandIn(defining) ? { standIn: defining.standIn } : {}),
    });
  });

  return {
    schema: RESULTS_SCHEMA,
    createdAt: newest.createdAt,
    profile: newest.profile,
    environment: {
      host: { ...newest.host, historyWindow: `${runs.length} runs, ${shortCommit(runs[0]!.commit)}..${shortCommit(newest.commit)}` },
      platforms: {},
    },
    results,
  };
}
