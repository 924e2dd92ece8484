import { randomBytes } from 'node:crypto';
import { open, readFile, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { BadResultsFileError, VirtbenchError, isVirtbenchError } from '../errors.js';
import { isStandIn, RESULTS_SCHEMA, STOP_REASONS, type BenchmarkResult, type Question, type ResultsFile, type Sample } from './schema.js';
import { summarize } from '../statistics/descriptive.js';
import { runResolution } from '../statistics/resolution.js';
import { makeDirectory } from '../host/make-dir.js';

/** The summary of the samples; a summary the result already had is replaced, never kept. */
export function withSummary(result: Omit<BenchmarkResult, 'summary'>): BenchmarkResult {
  const { summary: _stale, ...rest } = result as BenchmarkResult;
  const values = rest.samples.map((s) => s.value);
  return values.length > 0 ? { ...rest, summary: summarize(values) } : rest;
}

/** `<platform>-<benchmark>.csv` with the assignment's `time,value` layout (time in Unix seconds). */
export function toCsv(result: BenchmarkResult): string {
  return ['time,value', ...result.samples.map((s) => `${s.time.toFixed(3)},${s.value}`)].join('\n') + '\n';
}

/** Longest CSV name before ".csv": well below the 255 bytes a file name may have. */
const MAX_CSV_STEM = 200;

/**
 * The CSV file name of a result: the names come from whoever wrote the
 * benchmark or the results file, so anything but [A-Za-z0-9._#-] becomes "_"
 * and a leading dot is dropped: "../../x" cannot leave the directory or hide.
 * `copy` numbers a second result whose names clean up to the same file name.
 */
export function csvFileName(platform: string, benchmark: string, copy = 1): string {
  const stem = `${platform}-${benchmark}`
    .replace(/[^A-Za-z0-9._#-]/g, '_')
    .replace(/^\.+/, '')
    .slice(0, MAX_CSV_STEM);
  return `${stem || '_'}${copy > 1 ? `-${copy}` : ''}.csv`;
}

/** Makes renames in a directory durable; not every file system lets a directory be synced, and that is no error. */
async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => {});
  await handle.close();
}

/**
 * Writes a file so that readers see the old content or the new, never half
 * of it, and two writers never share a temporary file: a unique name in the
 * same directory (rename only replaces atomically within a file system),
 * synced to disk before the rename. `syncDir: false` leaves syncing the
 * directory to a caller that writes many files into it.
 */
export async function writeFileAtomically(path: string, data: string | Uint8Array, options: { syncDir?: boolean } = {}): Promise<void> {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temporary, 'wx');
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
  } catch (error) {
    await handle?.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    throw error;
  }
  if (options.syncDir !== false) await syncDirectory(dirname(path));
}

/** Writes results.json and one CSV per platform and benchmark that has samples of its own; returns the paths. */
export async function writeResults(dir: string, file: ResultsFile): Promise<string[]> {
  await makeDirectory(dir);
  const root = resolve(dir);
  const written = [join(dir, 'results.json')];
  await writeFileAtomically(written[0]!, JSON.stringify(file, null, 2) + '\n', { syncDir: false });
  const taken = new Set(['results.json']);
  for (const result of file.results) {
    // A stand-in's figure is another platform's, whose own CSV has it.
    if (result.samples.length === 0 || isStandIn(result)) continue;
    // Two names can clean up to the same file name: the later one gets a number rather than overwrite.
    let name = csvFileName(result.platform, result.benchmark);
    for (let copy = 2; taken.has(name); copy++) name = csvFileName(result.platform, result.benchmark, copy);
    taken.add(name);
    const path = join(dir, name);
    if (dirname(resolve(path)) !== root) throw new Error(`CSV file name ${JSON.stringify(name)} would leave ${root}`);
    written.push(path);
    // The reporter writes after each benchmark: rewriting (and syncing) only changed CSVs keeps flushes away from runs still measuring.
    const csv = toCsv(result);
    if ((await readFile(path, 'utf8').catch(() => undefined)) === csv) continue;
    await writeFileAtomically(path, csv, { syncDir: false });
  }
  await syncDirectory(dir);
  return written;
}

/** Bounds on what a results file may hold, so a corrupt or hostile one fails fast instead of exhausting memory. */
export const RESULTS_LIMITS = {
  /** Bytes; a real run writes a few hundred kB, a million samples about 100 MB. */
  fileBytes: 256 * 1024 * 1024,
  samples: 10_000_000,
  /** Characters of a platform, benchmark, title or unit. */
  name: 200,
  /** Nesting of arrays and objects; results.json needs 5 (results[].samples[].extra). */
  depth: 32,
} as const;

const MiB = 1024 * 1024;

function badFile(path: string, problem: string, cause?: unknown): VirtbenchError {
  return new BadResultsFileError(`results file ${path} ${problem}`, { cause });
}

/** What a bounded read is of: its name in messages, the bytes it may have, why more is wrong, and the fix. */
export interface BoundedFile {
  /** "results file", "comparison file", "history store". */
  what: string;
  limit: number;
  /** Why a larger one is refused: "not a results file, or far more samples than a run takes". */
  why: string;
  fix: string;
}

/** "300 MiB", or "256.0 MiB (268435457 bytes)" where whole MiB would hide that it is over. */
function sizeText(bytes: number): string {
  const mib = bytes / MiB;
  return Number.isInteger(mib) ? `${mib} MiB` : `${mib.toFixed(1)} MiB (${bytes} bytes)`;
}

/**
 * Reads a whole file, at most `file.limit` bytes, so that a corrupt or hostile one (or /dev/zero)
 * fails fast instead of exhausting memory: the size is checked before reading, and again while
 * reading, for a pipe or device whose size is unknown. Every problem is a BadResultsFileError that
 * names the file (its cause the system's error, ENOENT for one that does not exist).
 */
export async function readBoundedFile(path: string, file: BoundedFile): Promise<Buffer> {
  const limit = file.limit;
  const tooLarge = (size: string) =>
    new BadResultsFileError(
      `${file.what} ${path} is ${size}, more than virtbench reads (${sizeText(limit)}): ${file.why}\nfix: ${file.fix}`,
    );
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new BadResultsFileError(`cannot read ${file.what} ${path}: ${(cause as Error).message}`, { cause });
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new BadResultsFileError(`${file.what} ${path} is a directory`);
    if (info.size > limit) throw tooLarge(sizeText(info.size));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.allocUnsafe(Math.min(8 * MiB, limit + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
      if (total > limit) throw tooLarge('larger than that');
    }
    return Buffer.concat(chunks, total);
  } catch (cause) {
    if (isVirtbenchError(cause)) throw cause;
    throw new BadResultsFileError(`cannot read ${file.what} ${path}: ${(cause as Error).message}`, { cause });
  } finally {
    await handle.close();
  }
}

/** Reads at most RESULTS_LIMITS.fileBytes of a results file (readBoundedFile). */
function readBounded(path: string): Promise<Buffer> {
  return readBoundedFile(path, {
    what: 'results file',
    limit: RESULTS_LIMITS.fileBytes,
    why: 'not a results file, or far more samples than a run takes',
    fix: 'name the results.json of a virtbench run (a run writes a few hundred kB to a few MiB)',
  });
}

const UTF8_BOM = [0xef, 0xbb, 0xbf];

const [OTHER, QUOTE, BACKSLASH, OPENING, CLOSING, SPACE] = [0, 1, 2, 3, 4, 5];
const JSON_BYTE_KIND = new Uint8Array(256);
JSON_BYTE_KIND[0x22] = QUOTE;
JSON_BYTE_KIND[0x5c] = BACKSLASH;
JSON_BYTE_KIND[0x5b] = JSON_BYTE_KIND[0x7b] = OPENING;
JSON_BYTE_KIND[0x5d] = JSON_BYTE_KIND[0x7d] = CLOSING;
for (const space of [0x20, 0x0a, 0x0d, 0x09]) JSON_BYTE_KIND[space] = SPACE;

/** Where the JSON text starts: after a byte order mark and whitespace. */
function jsonStart(bytes: Uint8Array): number {
  let start = UTF8_BOM.every((byte, i) => bytes[i] === byte) ? UTF8_BOM.length : 0;
  while (start < bytes.length && JSON_BYTE_KIND[bytes[start]!] === SPACE) start++;
  return start;
}

/**
 * Refuses what JSON.parse would take long or much memory to parse or refuse:
 * text that cannot be a results file from its first byte on, and deep nesting
 * (50 MB of "[" take V8 half a minute and gigabytes). One pass over the bytes;
 * the bytes of a multi-byte UTF-8 character are never ASCII, so this is safe.
 */
function checkShape(bytes: Uint8Array, start: number, path: string): void {
  if (start === bytes.length) throw badFile(path, 'is empty');
  // An array gets as far as the schema check, which says what it is not.
  if (bytes[start] !== 0x7b && bytes[start] !== 0x5b) throw badFile(path, 'is not JSON: it does not start with "{"');
  let depth = 0;
  let inString = false;
  for (let i = start; i < bytes.length; i++) {
    const kind = JSON_BYTE_KIND[bytes[i]!]!;
    if (kind === OTHER || kind === SPACE) continue; // most bytes: one lookup
    if (inString) {
      // A backslash escapes the next byte.
      if (kind === BACKSLASH) i++;
      else if (kind === QUOTE) inString = false;
    } else if (kind === QUOTE) {
      inString = true;
    } else if (kind === OPENING) {
      if (++depth > RESULTS_LIMITS.depth) {
        throw badFile(path, `nests arrays or objects more than ${RESULTS_LIMITS.depth} deep (at byte ${i}): not a virtbench results file`);
      }
    } else if (kind === CLOSING) {
      depth--;
    }
  }
}

/** Reads a results file and validates it in full (validateResults); every problem names the file and the field. */
export async function readResults(path: string): Promise<ResultsFile> {
  const bytes = await readBounded(path);
  const start = jsonStart(bytes);
  checkShape(bytes, start, path);
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString('utf8', start));
  } catch (cause) {
    throw badFile(path, `is not JSON: ${(cause as Error).message.slice(0, 200)}`, cause);
  }
  return validateResults(data, path);
}

/** What a wrong value was, short and safe to print (never the whole of a large or deep value). */
function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}...` : JSON.stringify(value);
  return String(value); // number, boolean
}

type Json = Record<string, unknown>;

/** `at.key`, or `at["odd key"]` (shortened) for a key that is no plain name. */
function field(at: string, key: string): string {
  return /^[A-Za-z_$][\w$-]{0,59}$/.test(key) ? `${at}.${key}` : `${at}[${describe(key)}]`;
}

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The checks, with the file's name and the path of the field in hand. Field
 * paths are built only when a check fails: a million samples pass in a
 * fraction of a second.
 */
class ResultsValidator {
  constructor(private readonly path: string) {}

  fail(at: string, expected: string, got: unknown): never {
    throw new BadResultsFileError(
      `results file ${this.path}: ${at} must be ${expected}, got ${describe(got)}\n` +
        'fix: write it with a virtbench run (or `virtbench merge`), or correct that field',
    );
  }

  object(value: unknown, at: string): Json {
    return isObject(value) ? value : this.fail(at, 'an object', value);
  }

  array(value: unknown, at: string): unknown[] {
    return Array.isArray(value) ? value : this.fail(at, 'an array', value);
  }

  string(value: unknown, at: string): string {
    return typeof value === 'string' ? value : this.fail(at, 'a string', value);
  }

  name(value: unknown, at: string, allowEmpty = false): string {
    if (typeof value === 'string' && value.length <= RESULTS_LIMITS.name && (allowEmpty || value !== '')) return value;
    return this.fail(at, `a ${allowEmpty ? '' : 'non-empty '}string of at most ${RESULTS_LIMITS.name} characters`, value);
  }

  optional<T>(value: unknown, at: string, check: (value: unknown, at: string) => T): T | undefined {
    return value === undefined ? undefined : check(value, at);
  }

  oneOf<T extends string>(value: unknown, at: string, allowed: readonly T[]): T {
    return allowed.includes(value as T) ? (value as T) : this.fail(at, allowed.map((a) => `"${a}"`).join(' or '), value);
  }

  /** Facts: an object whose values are strings, finite numbers or (when allowed) booleans. */
  facts(value: unknown, at: string, booleans: boolean): Record<string, string | number | boolean> {
    const facts = this.object(value, at);
    for (const key in facts) {
      const fact = facts[key];
      const ok = typeof fact === 'string' || (typeof fact === 'number' && Number.isFinite(fact)) || (booleans && typeof fact === 'boolean');
      if (!ok) this.fail(field(at, key), `a string${booleans ? ', a finite number or a boolean' : ' or a finite number'}`, fact);
    }
    return facts as Record<string, string | number | boolean>;
  }

  /** One sample; the hot loop of a large file, so its field paths are built only on a failure. */
  sample(value: unknown, at: string, index: number): void {
    const here = () => `${at}[${index}]`;
    if (!isObject(value)) this.fail(here(), 'an object', value);
    const { time, value: figure, seconds, extra } = value;
    // Numbers only: "5" is no number (and would be concatenated, not added), and 1e999 parses to Infinity.
    if (typeof time !== 'number' || !Number.isFinite(time)) this.fail(`${here()}.time`, 'a finite number', time);
    // Every figure is a rate or a duration.
    if (typeof figure !== 'number' || !Number.isFinite(figure) || figure < 0) this.fail(`${here()}.value`, 'a finite number >= 0', figure);
    if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) {
      this.fail(`${here()}.seconds`, 'a finite number >= 0', seconds);
    }
    if (!isObject(extra)) this.fail(`${here()}.extra`, 'an object', extra);
    for (const key in extra) {
      const fact = extra[key];
      if (typeof fact !== 'string' && !(typeof fact === 'number' && Number.isFinite(fact))) {
        this.fail(field(`${here()}.extra`, key), 'a string or a finite number', fact);
      }
    }
  }

  result(value: unknown, at: string, samplesSoFar: number): BenchmarkResult {
    const row = this.object(value, at);
    const samples = this.array(row.samples, `${at}.samples`);
    if (samplesSoFar + samples.length > RESULTS_LIMITS.samples) {
      throw new BadResultsFileError(
        `results file ${this.path} holds more than ${RESULTS_LIMITS.samples} samples (at ${at}): more than virtbench reads`,
      );
    }
    for (let i = 0; i < samples.length; i++) this.sample(samples[i], `${at}.samples`, i);
    const result: Omit<BenchmarkResult, 'summary'> = {
      platform: this.name(row.platform, `${at}.platform`),
      benchmark: this.name(row.benchmark, `${at}.benchmark`),
      title: this.name(row.title, `${at}.title`),
      // A benchmark that was skipped before its workload was known has no unit yet.
      unit: this.name(row.unit, `${at}.unit`, samples.length === 0),
      better: this.oneOf(row.better, `${at}.better`, ['higher', 'lower'] as const),
      status: this.oneOf(row.status, `${at}.status`, ['passed', 'failed', 'skipped'] as const),
      samples: samples as Sample[],
    };
    const variant = this.optional(row.variant, `${at}.variant`, (v, a) => this.string(v, a));
    const error = this.optional(row.error, `${at}.error`, (v, a) => this.string(v, a));
    const skipReason = this.optional(row.skipReason, `${at}.skipReason`, (v, a) => this.string(v, a));
    // A platform's name, like `platform`: readers look its result up by it.
    const standIn = this.optional(row.standIn, `${at}.standIn`, (v, a) => this.name(v, a));
    const cachesFlushed = this.optional(row.cachesFlushed, `${at}.cachesFlushed`, (v, a) =>
      typeof v === 'boolean' ? v : this.fail(a, 'true or false', v),
    );
    const stoppedBy = this.optional(row.stoppedBy, `${at}.stoppedBy`, (v, a) => this.oneOf(v, a, STOP_REASONS));
    // Unknown fields are kept; the summary is not: it is computed again from the samples.
    const { summary: _trusted, ...rest } = row;
    return withSummary({
      ...rest,
      ...result,
      ...(variant === undefined ? {} : { variant }),
      ...(error === undefined ? {} : { error }),
      ...(skipReason === undefined ? {} : { skipReason }),
      ...(standIn === undefined ? {} : { standIn }),
      ...(cachesFlushed === undefined ? {} : { cachesFlushed }),
      ...(stoppedBy === undefined ? {} : { stoppedBy }),
    });
  }

  question(value: unknown, at: string): Question {
    const question = this.object(value, at);
    this.name(question.question, `${at}.question`);
    this.optional(question.aa, `${at}.aa`, (v, a) => (typeof v === 'boolean' ? v : this.fail(a, 'true or false', v)));
    this.array(question.comparisons, `${at}.comparisons`).forEach((c, i) => {
      const comparison = this.object(c, `${at}.comparisons[${i}]`);
      this.name(comparison.platform, `${at}.comparisons[${i}].platform`);
      this.name(comparison.against, `${at}.comparisons[${i}].against`);
      this.array(comparison.benchmarks, `${at}.comparisons[${i}].benchmarks`).forEach((b, j) =>
        this.name(b, `${at}.comparisons[${i}].benchmarks[${j}]`),
      );
    });
    return question as unknown as Question;
  }
}

/**
 * Checks parsed JSON against the results schema, in full, before anyone
 * reads a field: every problem is a VIRTBENCH_BAD_RESULTS_FILE naming the file
 * and the field (`results[3].samples[7].value`), never a TypeError later on.
 * Returns the file with each summary computed from its samples (and its resolution, where it has one).
 */
export function validateResults(data: unknown, path: string): ResultsFile {
  const check = new ResultsValidator(path);
  const schema = isObject(data) ? data.schema : undefined;
  if (!isObject(data) || schema !== RESULTS_SCHEMA) {
    const found = schema === undefined ? 'undefined' : describe(schema);
    throw badFile(path, `has schema ${found}, expected "${RESULTS_SCHEMA}" (not a virtbench results file, or from another version)`);
  }
  if (!Array.isArray(data.results)) throw badFile(path, 'has no "results" array');
  const createdAt = check.string(data.createdAt, 'createdAt');
  const profile = check.string(data.profile, 'profile');
  const environment = check.object(data.environment, 'environment');
  const host = check.facts(environment.host, 'environment.host', false) as Record<string, string | number>;
  const platforms = check.object(environment.platforms, 'environment.platforms');
  for (const platform in platforms) check.facts(platforms[platform], field('environment.platforms', platform), true);

  const results: BenchmarkResult[] = [];
  const seen = new Map<string, number>();
  let samples = 0;
  data.results.forEach((value, i) => {
    const result = check.result(value, `results[${i}]`, samples);
    samples += result.samples.length;
    const key = `${result.platform}\u0000${result.benchmark}`;
    const first = seen.get(key);
    if (first !== undefined) {
      throw badFile(
        path,
        `has platform "${result.platform}" benchmark "${result.benchmark}" twice (results[${first}] and results[${i}]): ` +
          'which one holds the figures is unknowable\nfix: keep one of them, or combine two runs with `virtbench merge`',
      );
    }
    seen.set(key, i);
    results.push(result);
  });
  const questions = check.optional(data.questions, 'questions', (v, a) => check.array(v, a).map((q, i) => check.question(q, `${a}[${i}]`)));

  const { resolution: stored, ...rest } = data;
  const file: ResultsFile = {
    ...rest,
    schema: RESULTS_SCHEMA,
    createdAt,
    profile,
    environment: { ...environment, host, platforms: platforms as ResultsFile['environment']['platforms'] },
    results,
    ...(questions === undefined ? {} : { questions }),
  };
  // What the run resolved is derived from the samples, like the summaries: computed again, never
  // trusted (a stale or malformed one is replaced); a file without it stays without.
  return stored === undefined ? file : { ...file, resolution: runResolution(file) };
}
