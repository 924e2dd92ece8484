import type { VirtbenchError } from '../src/errors.js';
import { withSummary } from '../src/results/results-file.js';
import { RESULTS_SCHEMA, type BenchmarkResult, type ResultsFile } from '../src/results/schema.js';
import { runCli } from '../src/cli/main.js';

const UNITS: Record<string, { unit: string; better: 'higher' | 'lower' }> = {
  cpu: { unit: 'kFLOPS', better: 'higher' },
  'disk-random': { unit: 'IOPS', better: 'higher' },
};

/** A result row as the reporter writes it, with the benchmark's real unit and direction (seconds, lower, by default). */
export function resultOf(platform: string, benchmark: string, values: number[], over: Partial<BenchmarkResult> = {}): BenchmarkResult {
  // Own keys only: a benchmark named "constructor" or "__proto__" is one of seconds, like any unlisted one.
  const { unit, better } = (Object.hasOwn(UNITS, benchmark) ? UNITS[benchmark] : undefined) ?? { unit: 's', better: 'lower' };
  return withSummary({
    platform,
    benchmark,
    title: benchmark,
    unit,
    better,
    status: 'passed',
    samples: values.map((value, i) => ({ time: 1_795_000_000 + i, value, seconds: 1, extra: {} })),
    ...over,
  });
}

export function resultsFileOf(results: BenchmarkResult[], host: Record<string, string | number> = { hostname: 'vm' }): ResultsFile {
  return {
    schema: RESULTS_SCHEMA,
    createdAt: '2026-11-24T00:00:00Z',
    profile: 'standard',
    environment: { host, platforms: Object.fromEntries(results.map((r) => [r.platform, { kernel: '6.1' }])) },
    results,
  };
}

/** The error fn throws (a VirtbenchError, for its code and message); fails when it throws none. */
export function errorOf(fn: () => unknown): VirtbenchError {
  try {
    fn();
  } catch (error) {
    return error as VirtbenchError;
  }
  throw new Error('expected an error');
}

/** The result with each sample tagged as a run of its own (extra.run), as a history window or an A/B side pools them. */
export function asRuns(result: BenchmarkResult): BenchmarkResult {
  result.samples.forEach((sample, i) => (sample.extra.run = i + 1));
  return result;
}

/** Base and current results paired sample by sample (extra.pair), as a paired `virtbench ab` writes them. */
export function asPairs(base: BenchmarkResult, current: BenchmarkResult): [BenchmarkResult, BenchmarkResult] {
  for (const result of [base, current])
    result.samples.forEach((sample, i) => Object.assign(sample.extra, { pair: i + 1, run: 1 + (i % 2) }));
  return [base, current];
}

/** Runs the virtbench CLI in this process, as the bin does: its exit code and the lines it printed. */
export async function cliLines(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runCli(argv, { log: (l) => lines.push(l), env });
  return { code, lines };
}

/** cliLines with the printed lines as one text. */
export async function cliOutput(argv: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; out: string }> {
  const { code, lines } = await cliLines(argv, env);
  return { code, out: lines.join('\n') };
}
