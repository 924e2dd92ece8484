import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createVitest } from 'vitest/node';
import { packageRoot } from '../../src/host/paths.js';
import { workDirs } from './helpers.js';

/*
 * The way the Vitest IDE extension runs tests: the node API in test mode with
 * a file filter, never `vitest bench`. With VIRTBENCH_IDE=1 (the extension's
 * `vitest.nodeEnv`) the bench file runs as a test on native; without it, no
 * benchmark runs.
 */

const saved = { ...process.env };
afterEach(() => {
  for (const key of ['VIRTBENCH_IDE', 'VIRTBENCH_IDE_PLATFORMS', 'VIRTBENCH_REPORT_DIR', 'VIRTBENCH_PROFILE']) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

async function runAsTheIde(file: string): Promise<{ passed: string[]; reportDir: string }> {
  const reportDir = process.env.VIRTBENCH_REPORT_DIR ?? (await mkdtemp(join(tmpdir(), 'virtbench-ide-')));
  process.env.VIRTBENCH_REPORT_DIR = reportDir;
  delete process.env.VIRTBENCH_PROFILE;
  const vitest = await createVitest('test', { root: packageRoot, watch: false, reporters: [] });
  try {
    await vitest.start([file]);
    const passed = vitest.state
      .getFiles()
      .flatMap((f) => f.tasks)
      .filter((t) => t.result?.state === 'pass')
      .map((t) => t.name);
    return { passed, reportDir };
  } finally {
    await vitest.close();
  }
}

describe('IDE runs through the node API', () => {
  it('with VIRTBENCH_IDE=1, runs a bench file as a test on native (quick) and writes its results', async () => {
    process.env.VIRTBENCH_IDE = '1';
    const started = performance.now();
    const { passed, reportDir } = await runAsTheIde('src/workloads/cpu/cpu.bench.ts');
    console.log(`[ide test] bench/cpu.bench.ts through the node API: ${Math.round(performance.now() - started)} ms`);
    expect(passed).toEqual(['cpu']);
    const csv = await readFile(join(reportDir, 'native-cpu.csv'), 'utf8');
    expect(csv.trim().split('\n')).toHaveLength(3); // header and the quick profile's 2 runs
    const results = JSON.parse(await readFile(join(reportDir, 'results.json'), 'utf8')) as { profile: string };
    expect(results.profile).toBe('quick');
  }, 300_000);

  it('in watch mode, stops the platform when a run ends and provisions it again for a rerun', async () => {
    process.env.VIRTBENCH_IDE = '1';
    const reportDir = await mkdtemp(join(tmpdir(), 'virtbench-ide-'));
    process.env.VIRTBENCH_REPORT_DIR = reportDir;
    delete process.env.VIRTBENCH_PROFILE;
    const before = await workDirs('native');
    const vitest = await createVitest('test', { root: packageRoot, watch: true, reporters: [] });
    try {
      await vitest.start(['src/workloads/cpu/cpu.bench.ts']);
      // The run ended: its work directory (and, for a container or guest, the platform) is gone.
      expect(await workDirs('native')).toEqual(before);
      // As the extension reruns a file: the same specification again, with the rerun hooks.
      await vitest.rerunTestSpecifications(vitest.getModuleSpecifications(join(packageRoot, 'src/workloads/cpu/cpu.bench.ts')));
      const states = vitest.state.getFiles().flatMap((f) => f.tasks.map((t) => t.result?.state));
      expect(states).toEqual(['pass']);
      expect(await workDirs('native')).toEqual(before);
      const csv = await readFile(join(reportDir, 'native-cpu.csv'), 'utf8');
      expect(csv.trim().split('\n')).toHaveLength(3);
    } finally {
      await vitest.close();
    }
  }, 300_000);

  it('without the opt-in, runs no benchmark: the bench file is not a test file', async () => {
    const reportDir = await mkdtemp(join(tmpdir(), 'virtbench-ide-'));
    process.env.VIRTBENCH_REPORT_DIR = reportDir;
    await expect(runAsTheIde('src/workloads/cpu/cpu.bench.ts')).rejects.toThrow(/No test files found/);
    expect(existsSync(join(reportDir, 'results.json'))).toBe(false);
  }, 300_000);
});
