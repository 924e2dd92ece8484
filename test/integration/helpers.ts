import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { packageRoot } from '../../src/host/paths.js';
import { readResults } from '../../src/results/results-file.js';
import type { ResultsFile } from '../../src/results/schema.js';
import { workRoot } from '../../src/host/work-dir.js';

export interface BenchRun {
  exitCode: number;
  output: string;
  reportDir: string;
  results?: ResultsFile;
}

/** Runs `vitest bench` as a user would (same Node, colour off) and reads what it wrote. */
export async function runVitestBench(args: string[], env: Record<string, string> = {}): Promise<BenchRun> {
  const reportDir = await mkdtemp(join(tmpdir(), 'virtbench-report-'));
  const result = await execa(process.execPath, [join(packageRoot, 'node_modules/vitest/vitest.mjs'), 'bench', ...args], {
    cwd: packageRoot,
    env: { VIRTBENCH_REPORT_DIR: reportDir, NO_COLOR: '1', CI: 'true', ...env },
    reject: false,
    all: true,
    timeout: 280_000,
  });
  const results = await readResults(join(reportDir, 'results.json')).catch(() => undefined);
  return { exitCode: result.exitCode ?? -1, output: String(result.all), reportDir, results };
}

/** virtbench work directories currently on disk for a platform, in this test file's work root (work-root.setup.ts). */
export async function workDirs(platform: string): Promise<string[]> {
  return (await readdir(workRoot())).filter((e) => e.startsWith(`virtbench-${platform}-`));
}

/** Processes of this test file's runs: every one names a path in its work root. */
export async function processesOfThisFile(): Promise<string[]> {
  return processesMentioning(workRoot() + '/');
}

/** Processes whose command line mentions text (e.g. a work directory), excluding this test's own. */
export async function processesMentioning(text: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const cmdline = await import('node:fs/promises').then((fs) => fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).catch(() => '');
    if (cmdline.includes(text)) found.push(`${pid} ${cmdline.replaceAll('\0', ' ')}`);
  }
  return found;
}
