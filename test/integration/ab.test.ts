// `virtbench ab` for real: two checkouts of this repository measured in turns on native, then
// compared; and what it leaves behind (nothing) when it is interrupted or given a bad ref.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import { readResults } from '../../src/results/results-file.js';
import { buildPrivateBin } from '../private-bin.js';
import { processesMentioning } from './helpers.js';

let bin: string;
const ab = (args: string[]) =>
  execa(process.execPath, [bin, 'ab', ...args], { cwd: packageRoot, env: { NO_COLOR: '1', CI: 'true' }, reject: false, all: true });

/** Worktrees git knows of beyond the main checkout. */
async function extraWorktrees(): Promise<string[]> {
  const { stdout } = await execa('git', ['worktree', 'list', '--porcelain'], { cwd: packageRoot });
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('worktree '))
    .slice(1);
}

const scratchDirs = async () => (await readdir(tmpdir())).filter((name) => name.startsWith('virtbench-ab-'));

describe('virtbench ab', () => {
  let removeBuild: () => Promise<void>;
  beforeAll(async () => {
    ({ bin, remove: removeBuild } = await buildPrivateBin());
  }, 180_000);
  afterAll(() => removeBuild());

  it('refuses a ref that names no commit, with the fix, before running anything', async () => {
    const out = await mkdtemp(join(tmpdir(), 'virtbench-abtest-'));
    onTestFinished(() => rm(out, { recursive: true, force: true }));
    const run = await ab(['no-such-ref-xyz', '--out', out]);
    expect(run.exitCode).toBe(2);
    expect(run.all).toMatch(/git ref "no-such-ref-xyz" names no commit.*fix: fetch it first/s);
    expect(await readdir(join(out, 'runs')).catch(() => [])).toEqual([]);
  });

  it('measures HEAD and the working tree side by side, samples paired, pools each side by run, compares, and removes its worktrees', async () => {
    const before = await scratchDirs();
    const out = await mkdtemp(join(tmpdir(), 'virtbench-abtest-'));
    onTestFinished(() => rm(out, { recursive: true, force: true }));
    const run = await ab([
      'HEAD',
      '--rounds',
      '2',
      '--runs',
      '3',
      '--project',
      'native',
      '--profile',
      'quick',
      '--filter',
      'cpu',
      '--out',
      out,
    ]);
    // The same code on both sides: a verdict either way is the statistics' business (see the A/A figures in the README);
    // here the command must have measured and compared, not failed to (2).
    expect([0, 1], run.all).toContain(run.exitCode);
    expect(run.all).toMatch(/round 1\/2 base and head paired.*round 2\/2 base and head paired.*samples paired/s);
    for (const file of ['base.json', 'head.json', 'comparison.json', 'comment.md', 'runs/base-1/results.json', 'runs/head-2.log']) {
      expect(existsSync(join(out, file)), file).toBe(true);
    }
    const base = await readResults(join(out, 'base.json'));
    const cpu = base.results.find((r) => r.platform === 'native' && r.benchmark === 'cpu')!;
    expect(new Set(cpu.samples.map((s) => s.extra.run))).toEqual(new Set([1, 2]));
    // Each base sample shares its pair (run, turnstile round) with one head sample: they took turns.
    const head = await readResults(join(out, 'head.json'));
    const headCpu = head.results.find((r) => r.platform === 'native' && r.benchmark === 'cpu')!;
    expect(cpu.samples.map((s) => s.extra.pair).sort()).toEqual(headCpu.samples.map((s) => s.extra.pair).sort());
    expect(cpu.samples).toHaveLength(6);
    const comparison = JSON.parse(await readFile(join(out, 'comparison.json'), 'utf8')) as { pairs?: number }[];
    expect(comparison[0]!.pairs).toBe(6);
    expect(base.environment.host).toMatchObject({ abSide: 'base', abRef: 'HEAD', abRuns: 2 });
    expect(await extraWorktrees()).toEqual([]);
    expect(await scratchDirs()).toEqual(before);
  });

  it('on SIGTERM stops the run under way and removes the worktrees; the runs measured so far stay', async () => {
    const out = await mkdtemp(join(tmpdir(), 'virtbench-abtest-'));
    onTestFinished(() => rm(out, { recursive: true, force: true }));
    const child = execa(process.execPath, [bin, 'ab', 'HEAD', '--project', 'native', '--profile', 'quick', '--out', out], {
      cwd: packageRoot,
      env: { NO_COLOR: '1', CI: 'true' },
      reject: false,
      all: true,
    });
    // Interrupt during the second round: the first round's logs are written when both its runs are done.
    const deadline = Date.now() + 120_000;
    while (!existsSync(join(out, 'runs/base-1.log')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGTERM');
    const result = await child;
    expect(result.exitCode, result.all).toBe(130);
    expect(existsSync(join(out, 'runs/base-1/results.json'))).toBe(true);
    expect(await extraWorktrees()).toEqual([]);
    // No vitest (or anything else) is left running in this A/B's worktrees.
    const scratch = /base = HEAD \(\w+\) in (\S+)\/base,/.exec(String(result.all))?.[1];
    expect(scratch, result.all).toBeDefined();
    expect(existsSync(scratch!)).toBe(false);
    expect(await processesMentioning(scratch!)).toEqual([]);
  });
});
