import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VirtbenchError } from '../errors.js';
import { RESULTS_SCHEMA, type BenchmarkResult, type ResultsFile } from './schema.js';
import { summarize } from './statistics.js';

export function withSummary(result: Omit<BenchmarkResult, 'summary'>): BenchmarkResult {
  const values = result.samples.map((s) => s.value);
  return values.length > 0 ? { ...result, summary: summarize(values) } : { ...result };
}

/** `<platform>-<benchmark>.csv` with the assignment's `time,value` layout (time in Unix seconds). */
export function toCsv(result: BenchmarkResult): string {
  return ['time,value', ...result.samples.map((s) => `${s.time.toFixed(3)},${s.value}`)].join('\n') + '\n';
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, text);
  await rename(partial, path);
}

/** Writes results.json and one CSV per platform and benchmark that has samples; returns the paths. */
export async function writeResults(dir: string, file: ResultsFile): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const written = [join(dir, 'results.json')];
  await writeAtomically(written[0]!, JSON.stringify(file, null, 2) + '\n');
  for (const result of file.results) {
    if (result.samples.length === 0) continue;
    const path = join(dir, `${result.platform}-${result.benchmark}.csv`);
    await writeAtomically(path, toCsv(result));
    written.push(path);
  }
  return written;
}

/** Reads and checks a results file; every problem names the file. */
export async function readResults(path: string): Promise<ResultsFile> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `cannot read results file ${path}: ${(cause as Error).message}`, { cause });
  }
  if (text.trim() === '') throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `results file ${path} is empty`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `results file ${path} is not JSON: ${(cause as Error).message}`, { cause });
  }
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (schema !== RESULTS_SCHEMA) {
    throw new VirtbenchError(
      'VIRTBENCH_BAD_RESULTS_FILE',
      `results file ${path} has schema ${JSON.stringify(schema)}, expected "${RESULTS_SCHEMA}" (not a virtbench results file, or from another version)`,
    );
  }
  if (!Array.isArray((data as ResultsFile).results)) {
    throw new VirtbenchError('VIRTBENCH_BAD_RESULTS_FILE', `results file ${path} has no "results" array`);
  }
  return data as ResultsFile;
}
