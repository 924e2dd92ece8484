import { BadOutputError } from '../errors.js';

/** One measurement as the workload itself reported it, measured inside the platform. */
export interface Figure {
  value: number;
  unit: string;
  /** The time the workload measured for itself, in seconds. */
  seconds: number;
  /** Further facts from the result line (solves, residual, checksum, ...). */
  extra: Record<string, string | number>;
}

const RESULT_PREFIX = 'RESULT ';

/** What to do about a figure's value or seconds that is no measurement (see unusableNumber). */
const FIXES = {
  value:
    'print the figure as a finite number above 0 (value=); a count that can be 0 (errors, retries) belongs in an extra ' +
    'key=value, and a time below the printed precision in a finer unit',
  seconds:
    'print as seconds= the time the workload measured for its work, above 0; in a guest, 0 is a clock that stood still ' +
    "(see the platform's facts in results.json, e.g. guestClocksource)",
};

/**
 * Why a figure's value or seconds is no measurement, or undefined when it is one. The report divides by
 * both (a ratio against another platform, a rate), so each must be a finite number above 0, for every
 * workload, a user's too: a 0 would leave a comparison that cannot be computed.
 */
export function unusableNumber(field: 'value' | 'seconds', reported: string | number | undefined): string | undefined {
  if (reported === undefined) return `there is no ${field}=`;
  // Number('') is 0: an empty field is not a figure of 0.
  const number = typeof reported === 'number' ? reported : reported.trim() === '' ? NaN : Number(reported);
  const shown = `${field}=${reported}`;
  if (Number.isNaN(number)) return `${shown} is not a number`;
  if (!Number.isFinite(number)) return `${shown} is not finite`;
  if (number < 0) return `${shown} is negative`;
  if (number > 0) return undefined;
  return field === 'seconds'
    ? `${shown}: the workload measured no time for its work, so the clock it read did not advance (or it did no work)`
    : `${shown} is 0, and the report divides by every figure (its ratio against another platform)`;
}

/** The error for a figure whose seconds or value is no measurement, or undefined: for figures no parser of ours read. */
export function unusableFigureError(workload: string, figure: Figure, output: string, platform?: string): BadOutputError | undefined {
  for (const field of ['seconds', 'value'] as const) {
    const problem = unusableNumber(field, figure[field]);
    if (problem) return new BadOutputError(workload, `no usable figure: ${problem}`, output, platform, FIXES[field]);
  }
  return undefined;
}

function toNumberIfNumeric(text: string): string | number {
  // 1e999 looks like a number and is Infinity, which JSON writes as null: keep what the workload printed.
  const number = Number(text);
  return /^-?\d+(\.\d+)?(e[-+]?\d+)?$/i.test(text) && Number.isFinite(number) ? number : text;
}

/**
 * Parses the line our C workloads print: `RESULT value=<n> unit=<u> seconds=<s> key=value...`.
 * The last RESULT line wins, so diagnostics printed before it do no harm.
 */
export function parseResultLine(workload: string, stdout: string, expectedUnit: string): Figure {
  const line = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(RESULT_PREFIX))
    .at(-1);
  if (!line) throw new BadOutputError(workload, 'no "RESULT ..." line in the output', stdout);

  const fields: Record<string, string> = {};
  for (const pair of line.slice(RESULT_PREFIX.length).trim().split(/\s+/)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new BadOutputError(workload, `malformed field "${pair}" in the RESULT line`, stdout);
    fields[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  // Seconds first: a run that measured no time explains a figure of 0.
  for (const field of ['seconds', 'value'] as const) {
    const problem = unusableNumber(field, fields[field]);
    if (problem) throw new BadOutputError(workload, `RESULT line has no valid ${field}: ${problem}`, stdout, undefined, FIXES[field]);
  }
  const value = Number(fields.value);
  const seconds = Number(fields.seconds);
  if (fields.unit !== expectedUnit) {
    throw new BadOutputError(workload, `RESULT line has unit "${fields.unit}", expected "${expectedUnit}"`, stdout);
  }
  const extra: Record<string, string | number> = {};
  for (const [key, text] of Object.entries(fields)) {
    if (key !== 'value' && key !== 'unit' && key !== 'seconds') extra[key] = toNumberIfNumeric(text);
  }
  return { value, unit: expectedUnit, seconds, extra };
}

/** fio's own output says why no write completed (a full or read-only disk where it writes, for one). */
const FIO_FIX = 'run the same fio command on the platform by hand: its output says why no write completed';

interface FioJob {
  jobname?: string;
  error?: number;
  write?: { iops?: number; runtime?: number; total_ios?: number; bw?: number };
}

/**
 * Parses `fio --output-format=json`. fio may print warnings before the JSON
 * document, so parsing starts at the first "{" at the start of a line.
 */
export function parseFioJson(stdout: string): Figure {
  const start = stdout.search(/^\{/m);
  if (start < 0) throw new BadOutputError('disk-random', 'no JSON document in fio output', stdout);
  let doc: { jobs?: FioJob[]; 'fio version'?: string };
  try {
    doc = JSON.parse(stdout.slice(start));
  } catch (cause) {
    throw new BadOutputError('disk-random', `fio output is not valid JSON (${(cause as Error).message})`, stdout);
  }
  const job = doc.jobs?.[0];
  const write = job?.write;
  if (!job || !write || typeof write.iops !== 'number' || typeof write.runtime !== 'number') {
    throw new BadOutputError('disk-random', 'fio JSON has no jobs[0].write.iops/runtime', stdout);
  }
  if (job.error) throw new BadOutputError('disk-random', `fio job reported error ${job.error}`, stdout);
  const { iops, runtime } = write;
  if (!(iops > 0) || !(runtime > 0)) {
    throw new BadOutputError('disk-random', `fio wrote nothing (iops=${iops}, runtime=${runtime} ms)`, stdout, undefined, FIO_FIX);
  }
  // A JSON number beyond a double (1e999) parses as Infinity.
  if (!Number.isFinite(iops) || !Number.isFinite(runtime)) {
    throw new BadOutputError('disk-random', `fio reported iops=${iops} and runtime=${runtime} ms: not finite`, stdout, undefined, FIO_FIX);
  }
  return {
    value: iops,
    unit: 'IOPS',
    seconds: runtime / 1000,
    extra: {
      ios: write.total_ios ?? 0,
      bandwidthKiBps: write.bw ?? 0,
      fio: doc['fio version'] ?? 'unknown',
    },
  };
}
