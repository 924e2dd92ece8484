import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { processesOfThisFile, runVitestBench, workDirs } from './helpers.js';

const config = ['--root', 'fixtures/e2e'];

describe('vitest bench with the virtbench plugin', () => {
  it('reports broken workloads with their stderr and still writes every other result', async () => {
    const before = await workDirs('native');
    const run = await runVitestBench([...config, 'cpu', 'broken']);
    expect(run.exitCode, run.output).not.toBe(0);

    const byName = Object.fromEntries(run.results!.results.map((r) => [r.benchmark, r]));
    expect(byName.cpu).toMatchObject({ status: 'passed', platform: 'native', unit: 'kFLOPS' });
    expect(byName.cpu!.samples).toHaveLength(2);
    expect(byName.cpu!.summary!.median).toBeGreaterThan(0);
    expect(await readFile(join(run.reportDir, 'native-cpu.csv'), 'utf8')).toMatch(/^time,value\n\d+\.\d{3},\d+(\.\d+)?\n/);

    expect(byName['exits-nonzero']).toMatchObject({ status: 'failed' });
    expect(byName['exits-nonzero']!.error).toMatch(/`ls \/nonexistent\/virtbench-e2e` exited with code 2/);
    expect(byName['exits-nonzero']!.error).toMatch(/No such file or directory/);

    expect(byName.garbage!.status).toBe('failed');
    expect(byName.garbage!.error).toMatch(/no "RESULT \.\.\." line/);
    expect(byName.garbage!.error).toContain('hello, I am not a benchmark result');

    // The first run of flaky succeeded: it stays in the results beside the failure.
    expect(byName.flaky).toMatchObject({ status: 'failed', samples: [{ value: 0.25 }] });
    expect(byName.flaky!.error).toContain('second run breaks on purpose');

    expect(run.output).toMatch(/FAILED \[native\] exits-nonzero failed: .*exited with code 2/);
    expect(run.output).toContain('FAILED (1 run kept)');
    expect(run.results!.environment.host).toMatchObject({ cpus: expect.any(Number), fio: expect.any(String) });

    // Nothing left behind: the run's work directory and its processes are gone.
    const after = await workDirs('native');
    expect(after.filter((d) => !before.includes(d))).toEqual([]);
  });

  it('adds rounds until the comparison is decided, up to the maximum, and says why each platform stopped', async () => {
    // An A/A run (native against itself): steady's figures agree at once, noisy's never reach ±5 %.
    const run = await runVitestBench([...config, 'stability'], {
      VIRTBENCH_AA: 'native',
      VIRTBENCH_UNTIL_WITHIN: '5%',
      VIRTBENCH_MAX_ROUNDS: '6',
    });
    expect(run.exitCode, run.output).toBe(0);
    const runs = Object.fromEntries(run.results!.results.map((r) => [`${r.platform}/${r.benchmark}`, [r.samples.length, r.stoppedBy]]));
    expect(runs).toEqual({
      'native/steady': [3, 'decided'],
      'native#2/steady': [3, 'decided'],
      'native/noisy': [6, 'max-rounds'],
      'native#2/noisy': [6, 'max-rounds'],
    });
  });

  it('--project native runs the native benchmarks only, under its own name', async () => {
    const run = await runVitestBench([...config, '--project', 'native', 'cpu']);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain('native (bench)');
    expect(run.results!.results.map((r) => `${r.platform}/${r.benchmark}`)).toEqual(['native/cpu']);
  });

  it('--project with an unknown platform fails naming the platforms', async () => {
    const run = await runVitestBench([...config, '--project', 'vmware']);
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(/--project vmware matches no project; platforms in this config: native/);
    expect(run.results).toBeUndefined();
  });

  it('leaves no nginx behind after the nginx benchmark', async () => {
    const run = await runVitestBench(['--project', 'native', 'nginx'], { VIRTBENCH_PROFILE: 'quick' });
    expect(run.exitCode, run.output).toBe(0);
    const nginx = run.results!.results.find((r) => r.benchmark === 'nginx')!;
    expect(nginx.status).toBe('passed');
    expect(nginx.samples[0]!.extra).toMatchObject({ parallel: 2, downloads: expect.any(Number), MBps: expect.any(Number) });
    expect(await processesOfThisFile()).toEqual([]);
  });
});
