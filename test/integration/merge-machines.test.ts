import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import type { ResultsFile } from '../../src/results/schema.js';
import { resultOf, resultsFileOf } from '../builders.js';

/*
 * The merge of .github/workflows/machines.yml (the action's mode merge, action/merge-machines.sh), run
 * as scripts/merge-machines.sh runs it by hand with this repository's virtbench, in a directory laid out
 * as the action's download step leaves the machines' uploads (shards/virtbench-machine-<machine>/results.json).
 */

const ACTION = join(packageRoot, 'action.yml');
let dir: string;

beforeAll(async () => {
  await execa('npm', ['run', 'build'], { cwd: packageRoot });
  dir = await mkdtemp(join(tmpdir(), 'virtbench-merge-machines-'));
  const action = await readFile(ACTION, 'utf8');
  // What mode machine uploads and mode merge downloads, and the script that merges it.
  expect(action).toMatch(/pattern: virtbench-machine-\*\n\s+path: \$\{\{ runner\.temp \}\}\/virtbench-shards\n/);
  expect(action).toContain('"$GITHUB_ACTION_PATH/action/merge-machines.sh" "$RUNNER_TEMP/virtbench-shards" "$OUT"');
  expect(await readFile(join(packageRoot, 'action/resolve.sh'), 'utf8')).toContain('default_artifact="virtbench-machine-$MACHINE"');
  expect(await readFile(join(packageRoot, '.github/workflows/machines.yml'), 'utf8')).toMatch(/mode: merge\n/);
}, 180_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** One machine's upload: native and a remote host measured there, in the machine's class. */
async function shard(root: string, machine: string, scale: number): Promise<void> {
  const results = [
    resultOf(
      'native',
      'cpu',
      [1000, 1010, 990].map((v) => v * scale),
    ),
    resultOf(
      'native',
      'fork',
      [2, 2.1, 1.9].map((v) => v / scale),
    ),
    resultOf(
      'docker',
      'cpu',
      [980, 990, 970].map((v) => v * scale),
    ),
  ];
  const file = resultsFileOf(results, { machine, hostname: 'runner', cpus: 2 });
  await mkdir(join(root, 'shards', `virtbench-machine-${machine}`), { recursive: true });
  await writeFile(join(root, 'shards', `virtbench-machine-${machine}`, 'results.json'), JSON.stringify(file));
}

async function runMergeStep(cwd: string) {
  return execa(join(packageRoot, 'scripts/merge-machines.sh'), ['shards', 'virtbench-merged'], {
    cwd,
    reject: false,
    all: true,
    env: { GITHUB_STEP_SUMMARY: join(cwd, 'summary.md') },
  });
}

describe("the action's merge (mode merge)", () => {
  it('puts two machines side by side: one table, merged.json, the Markdown summary and the HTML report', async () => {
    const cwd = join(dir, 'two');
    await shard(cwd, 'metal-kvm', 2);
    await shard(cwd, 'cloud-vm', 1);
    const merged = await runMergeStep(cwd);
    expect(merged.exitCode, merged.all).toBe(0);
    const file = JSON.parse(await readFile(join(cwd, 'virtbench-merged', 'merged.json'), 'utf8')) as ResultsFile;
    expect([...new Set(file.results.map((r) => r.platform))].sort()).toEqual([
      'docker@cloud-vm',
      'docker@metal-kvm',
      'native@cloud-vm',
      'native@metal-kvm',
    ]);
    expect(file.environment.platforms['native@metal-kvm']).toMatchObject({ host: 'metal-kvm' });
    // The table: one column per platform and machine, machine by machine, each against the first machine's native.
    const table = await readFile(join(cwd, 'virtbench-merged', 'table.txt'), 'utf8');
    expect(table).toMatch(/^benchmark\s+unit\s+better\s+native@cloud-vm\s+docker@cloud-vm\s+native@metal-kvm\s+docker@metal-kvm$/m);
    expect(table).toMatch(/^cpu\s+kFLOPS\s+higher\s+1\.00k .*\s+2\.00k ±\S+\s+2\.00x\s+1\.96k ±\S+\s+1\.96x$/m);
    expect(table).toMatch(/vs native@cloud-vm/);
    expect(merged.all).toContain(table.trim().split('\n')[1]);
    const markdown = await readFile(join(cwd, 'virtbench-merged', 'report.md'), 'utf8');
    // "@" as an entity and a zero-width space, so that GitHub never reads a column as a mention.
    expect(markdown).toMatch(/\| native&#64;\u200bcloud-vm \| docker&#64;\u200bcloud-vm \| native&#64;\u200bmetal-kvm \|/);
    expect(await readFile(join(cwd, 'summary.md'), 'utf8')).toBe(markdown);
    expect(await readFile(join(cwd, 'virtbench-merged', 'report.html'), 'utf8')).toContain('native@cloud-vm');
  });

  it('reports the one machine that measured when the others failed, and fails when none did', async () => {
    const one = join(dir, 'one');
    await shard(one, 'metal-kvm', 1);
    await mkdir(join(one, 'shards', 'virtbench-machine-cloud-vm'), { recursive: true }); // a job that uploaded nothing
    const single = await runMergeStep(one);
    expect(single.exitCode, single.all).toBe(0);
    expect(single.all).toMatch(/only shards\/virtbench-machine-metal-kvm\/results\.json: one machine, nothing to merge/);
    expect(existsSync(join(one, 'virtbench-merged', 'report.html'))).toBe(true);

    const none = join(dir, 'none');
    await mkdir(join(none, 'shards'), { recursive: true });
    const empty = await runMergeStep(none);
    expect(empty.exitCode).toBe(1);
    expect(empty.all).toMatch(/no results\.json under shards: every machine's job failed before it measured/);
  });
});
