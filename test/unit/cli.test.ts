import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import { withSummary } from '../../src/results/results-file.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../../src/results/schema.js';
import { cliOutput } from '../builders.js';

/** One run's samples, or with `pooled` each sample a run of its own (a history window). */
const results = (values: number[], pooled = false): ResultsFile => ({
  schema: RESULTS_SCHEMA,
  createdAt: '2026-11-24T00:00:00Z',
  profile: 'standard',
  environment: { host: { hostname: 'vm' }, platforms: {} },
  results: [
    withSummary({
      platform: 'native',
      benchmark: 'cpu',
      title: 'LINPACK',
      unit: 'kFLOPS',
      better: 'higher',
      status: 'passed',
      samples: values.map((value, i) => ({ time: i, value, seconds: 2, extra: (pooled ? { run: i + 1 } : {}) as Record<string, number> })),
    }),
  ],
});

let dir: string;
let env: NodeJS.ProcessEnv;
const cli = (...argv: string[]) => cliOutput(argv, env);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtbench-cli-'));
  env = { VIRTBENCH_BASELINE_DIR: join(dir, 'baselines') };
  await writeFile(join(dir, 'main.json'), JSON.stringify(results([5e6, 5.1e6, 4.9e6, 5e6, 5e6], true)));
  await writeFile(join(dir, 'one-run.json'), JSON.stringify(results([5e6, 5.1e6, 4.9e6, 5e6, 5e6])));
  await writeFile(join(dir, 'same.json'), JSON.stringify(results([5.02e6, 5.05e6, 4.95e6, 5e6, 5e6])));
  await writeFile(join(dir, 'slow.json'), JSON.stringify(results([4e6, 4.1e6, 3.9e6, 4e6, 4e6])));
});

describe('virtbench CLI', () => {
  it('saves a baseline and gates: 0 when shown the same, 1 when regressed, 2 when one run a side cannot be judged', async () => {
    expect((await cli('baseline', 'save', 'main', join(dir, 'main.json'))).code).toBe(0);
    expect((await cli('baseline', 'list')).out).toBe('main');
    const same = await cli('compare', 'main', join(dir, 'same.json'));
    expect(same).toMatchObject({ code: 0 });
    expect(same.out).toMatch(/native\s+cpu\s+equivalent/);
    expect(same.out).toContain('virtbench: 0 regressed, 0 improved, 1 equivalent, 0 undecided');
    const unjudged = await cli('compare', join(dir, 'one-run.json'), join(dir, 'slow.json'));
    expect(unjudged.code).toBe(2);
    expect(unjudged.out).toMatch(/cannot gate: 1 row has one run a side[^]*fix: .*virtbench ab.*--noise-floor/);
    expect((await cli('compare', join(dir, 'one-run.json'), join(dir, 'slow.json'), '--noise-floor', '3%')).code).toBe(1);
    const slow = await cli('compare', 'main', join(dir, 'slow.json'), '--md', join(dir, 'compare.md'));
    expect(slow.code).toBe(1);
    expect(slow.out).toMatch(/native\s+cpu\s+regressed \(fails\)\s+-20%/);
    expect(await readFile(join(dir, 'compare.md'), 'utf8')).toContain('**REGRESSED**');
    // A looser fail threshold lets the same regression pass the gate.
    expect((await cli('compare', 'main', join(dir, 'slow.json'), '--fail-threshold', 'cpu=25%')).code).toBe(0);
  });

  it('writes Markdown to a file and to the CI job summary, HTML and github-action-benchmark files', async () => {
    env.GITHUB_STEP_SUMMARY = join(dir, 'summary.md');
    const out = await cli(
      'report',
      join(dir, 'slow.json'),
      '--md',
      join(dir, 'r.md'),
      '--html',
      join(dir, 'r.html'),
      '--github-benchmark',
      join(dir, 'gh'),
      '--baseline',
      'main',
    );
    delete env.GITHUB_STEP_SUMMARY;
    expect(out.code).toBe(0);
    expect(await readFile(join(dir, 'summary.md'), 'utf8')).toBe(await readFile(join(dir, 'r.md'), 'utf8'));
    expect(await readFile(join(dir, 'r.html'), 'utf8')).toMatch(/^<!doctype html>[\s\S]*Chart[\s\S]*<\/html>\n$/);
    expect(JSON.parse(await readFile(join(dir, 'gh', 'bigger-is-better.json'), 'utf8'))).toHaveLength(1);
  });

  it('writes the reports beside the results file when --md and --html name no file', async () => {
    const out = await cli('report', join(dir, 'slow.json'), '--md', '--html');
    expect(out.code).toBe(0);
    expect(await readFile(join(dir, 'report.md'), 'utf8')).toContain('## virtbench');
    expect(await readFile(join(dir, 'report.html'), 'utf8')).toContain('<!doctype html>');
  });

  it('merges files', async () => {
    const out = await cli('merge', join(dir, 'main.json'), join(dir, 'slow.json'), '-o', join(dir, 'merged.json'));
    expect(out.code).toBe(0);
    const merged = JSON.parse(await readFile(join(dir, 'merged.json'), 'utf8')) as ResultsFile;
    expect(merged.results.map((r) => r.platform)).toEqual(['native@vm#1', 'native@vm#2']);
  });

  it('names the file and the problem for a corrupt, foreign or empty input', async () => {
    await writeFile(join(dir, 'empty.json'), '');
    await writeFile(join(dir, 'foreign.json'), '[{"name":"x","unit":"ms","value":1}]');
    await expect(cli('compare', join(dir, 'empty.json'), join(dir, 'main.json'))).rejects.toThrow(/empty\.json is empty/);
    await expect(cli('compare', 'main', join(dir, 'foreign.json'))).rejects.toThrow(/foreign\.json has schema undefined/);
    await expect(cli('compare', 'nightly')).rejects.toThrow(/no baseline "nightly".*saved: main/);
    await expect(cli('frobnicate')).rejects.toThrow(/unknown command "frobnicate"/);
  });
});

describe('the virtbench bin', () => {
  beforeAll(async () => {
    await execa('npm', ['run', 'build'], { cwd: packageRoot });
  }, 120_000);

  it('exits 2 with a one-line reason on bad input, 1 on a regression', async () => {
    const bin = join(packageRoot, 'bin/virtbench.js');
    const bad = await execa(process.execPath, [bin, 'compare', join(dir, 'missing.json')], { reject: false });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/^virtbench: no baseline ".*missing\.json"/);
    const regressed = await execa(process.execPath, [bin, 'compare', join(dir, 'main.json'), join(dir, 'slow.json')], { reject: false });
    expect(regressed.exitCode).toBe(1);
  });
});
