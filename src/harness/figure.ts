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
  const value = Number(fields.value);
  const seconds = Number(fields.seconds);
  if (fields.value === undefined || !Number.isFinite(value) || value < 0) {
    throw new BadOutputError(workload, `RESULT line has no valid value (value=${fields.value})`, stdout);
  }
  if (fields.seconds === undefined || !Number.isFinite(seconds) || seconds < 0) {
    throw new BadOutputError(workload, `RESULT line has no valid seconds (seconds=${fields.seconds})`, stdout);
  }
  if (fields.unit !== expectedUnit) {
    throw new BadOutputError(workload, `RESULT line has unit "${fields.unit}", expected "${expectedUnit}"`, stdout);
  }
  const extra: Record<string, string | number> = {};
  for (const [key, text] of Object.entries(fields)) {
    if (key !== 'value' && key !== 'unit' && key !== 'seconds') extra[key] = toNumberIfNumeric(text);
  }
  return { value, unit: expectedUnit, seconds, extra };
}

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
  if (!(write.iops > 0) || !(write.runtime > 0)) {
    throw new BadOutputError('disk-random', `fio wrote nothing (iops=${write.iops}, runtime=${write.runtime} ms)`, stdout);
  }
  return {
    value: write.iops,
    unit: 'IOPS',
    seconds: write.runtime / 1000,
    extra: {
      ios: write.total_ios ?? 0,
      bandwidthKiBps: write.bw ?? 0,
      fio: doc['fio version'] ?? 'unknown',
    },
  };
}
