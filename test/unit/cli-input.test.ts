import { copyFile, link, mkdir, mkdtemp, open, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refuseOverwrite } from '../../src/cli/options.js';
import { mergeResults } from '../../src/results/merge.js';
import { buildPrivateBin } from '../private-bin.js';
import { resultOf, resultsFileOf, cliOutput } from '../builders.js';

/*
 * What the CLI does with input it should refuse: outputs named like inputs,
 * a file given twice, bad baseline names, and junk that must end in exit 2
 * with one line rather than a stack trace or a hang.
 */

let dir: string;
let env: NodeJS.ProcessEnv;
let resultsText: string;

const cli = (...argv: string[]) => cliOutput(argv, env);
const at = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtbench-cli-input-'));
  env = { VIRTBENCH_BASELINE_DIR: at('baselines') };
  resultsText = JSON.stringify(resultsFileOf([resultOf('native', 'cpu', [5e6, 5.1e6, 4.9e6, 5e6, 5e6])]));
  await writeFile(at('results.json'), resultsText);
  await writeFile(at('other.json'), JSON.stringify(resultsFileOf([resultOf('native', 'cpu', [4e6, 4.1e6, 3.9e6])], { hostname: 'b' })));
});

// The junk files are 100 MB.
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('an output never overwrites an input', () => {
  it.each(['--md', '--html'])('report %s <the results file> refuses, and leaves the file as it was', async (flag) => {
    // `report --md results.json`: the option takes the results file's path as the report's.
    for (const argv of [
      [flag, at('results.json'), at('results.json')],
      [at('results.json'), flag, at('results.json')],
    ]) {
      const error = await cli('report', ...argv).catch((e: Error) => e);
      expect(error).toMatchObject({ code: 'VIRTBENCH_BAD_OPTION' });
      expect((error as Error).message).toMatch(/^refusing to write .*results\.json: it is an input, and writing would destroy it\nfix: /);
    }
    expect(await readFile(at('results.json'), 'utf8')).toBe(resultsText);
  });

  it('catches the same file by another path, a symlink and a hard link', async () => {
    await symlink(at('results.json'), at('link.md'));
    await link(at('results.json'), at('hard.md'));
    for (const output of [`${dir}/../${basename(dir)}/./results.json`, at('link.md'), at('hard.md')]) {
      await expect(cli('report', at('results.json'), '--md', output)).rejects.toThrow(/refusing to write .*: it is an input/);
    }
    expect(await readFile(at('results.json'), 'utf8')).toBe(resultsText);
    await expect(refuseOverwrite([at('hard.md')], [at('results.json')])).rejects.toThrow(/\(the same file as .*results\.json\)/);
    await expect(refuseOverwrite([at('new.md'), at('other.json')], [at('results.json')])).resolves.toBeUndefined();
  });

  it('refuses the baseline, the github-benchmark files and the job summary as outputs too', async () => {
    await cli('baseline', 'save', 'main', at('results.json'));
    const saved = join(env.VIRTBENCH_BASELINE_DIR!, 'main.json');
    await expect(cli('report', at('other.json'), '--baseline', 'main', '--html', saved)).rejects.toThrow(/refusing to write/);
    await mkdir(at('gh'));
    await copyFile(at('results.json'), at('gh/bigger-is-better.json'));
    await expect(cli('report', at('gh/bigger-is-better.json'), '--github-benchmark', at('gh'))).rejects.toThrow(/refusing to write/);
    env.GITHUB_STEP_SUMMARY = at('results.json');
    await expect(cli('report', at('results.json'), '--md', at('summary-test.md'))).rejects.toThrow(/refusing to write .*results\.json/);
    delete env.GITHUB_STEP_SUMMARY;
    expect(existsSync(at('summary-test.md'))).toBe(false); // refused before anything was written
    expect(await readFile(at('results.json'), 'utf8')).toBe(resultsText);
  });

  it('refuses merge -o onto one of the files it merges, and baseline save onto itself', async () => {
    await expect(cli('merge', at('results.json'), at('other.json'), '-o', at('other.json'))).rejects.toThrow(
      /refusing to write .*other\.json/,
    );
    await cli('baseline', 'save', 'self', at('results.json'));
    const saved = join(env.VIRTBENCH_BASELINE_DIR!, 'self.json');
    await expect(cli('baseline', 'save', 'self', saved)).rejects.toThrow(/refusing to write/);
  });
});

describe('compare and report outputs', () => {
  it('compare --md or --pr-comment onto the baseline or the results refuses, and leaves both as they were', async () => {
    for (const flag of ['--md', '--pr-comment']) {
      for (const target of ['results.json', 'other.json']) {
        await expect(cli('compare', at('results.json'), at('other.json'), flag, at(target))).rejects.toThrow(
          /refusing to write .*: it is an input/,
        );
      }
    }
    expect(await readFile(at('results.json'), 'utf8')).toBe(resultsText);
  });

  it('report --bencher writes Bencher Metric Format, and --history needs --html', async () => {
    expect((await cli('report', at('results.json'), '--bencher', at('bmf.json'))).code).toBe(0);
    expect(JSON.parse(await readFile(at('bmf.json'), 'utf8'))).toMatchObject({ 'cpu (native)': { kflops: { value: 5e6 } } });
    await expect(cli('report', at('results.json'), '--md', at('r.md'), '--history', at('h.jsonl'))).rejects.toThrow(/add --html/);
    await expect(cli('report', at('results.json'), '--bencher', at('results.json'))).rejects.toThrow(/refusing to write/);
  });
});

describe('one input where one is meant', () => {
  it('refuses the same file twice in merge, by any path', async () => {
    await expect(cli('merge', at('results.json'), at('results.json'))).rejects.toThrow(
      /results\.json is given twice\nfix: name each results file once/,
    );
    await expect(cli('merge', at('results.json'), at('other.json'), at('link.md'))).rejects.toThrow(
      /link\.md is given twice \(as .*results\.json and .*link\.md\)/,
    );
  });

  it("qualifies a platform of several files by the run's machine class, else by host name", () => {
    const native = [resultOf('native', 'cpu', [1])];
    const merged = mergeResults([
      { path: 'a.json', file: resultsFileOf(native, { hostname: 'runner', machine: 'metal-kvm' }) },
      { path: 'b.json', file: resultsFileOf(native, { hostname: 'runner', machine: 'cloud-vm' }) },
      { path: 'c.json', file: resultsFileOf(native, { hostname: 'laptop' }) },
    ]);
    expect(merged.results.map((r) => r.platform)).toEqual(['native@metal-kvm', 'native@cloud-vm', 'native@laptop']);
  });

  it('refuses the same path twice in mergeResults too', () => {
    const file = resultsFileOf([resultOf('native', 'cpu', [1])]);
    expect(() =>
      mergeResults([
        { path: 'a.json', file },
        { path: 'a.json', file },
      ]),
    ).toThrow(/a\.json is given twice/);
  });

  it('refuses more than one results file for report', async () => {
    const error = await cli('report', at('results.json'), at('other.json'), '--md', at('r.md')).catch((e: Error) => e);
    expect(error).toMatchObject({ code: 'VIRTBENCH_BAD_OPTION' });
    expect((error as Error).message).toMatch(/report reads one results file, got 2/);
    expect(existsSync(at('r.md'))).toBe(false);
  });
});

describe('baseline names', () => {
  it.each(['.', '..', '.hidden', '_x', 'a/b', 'x'.repeat(101)])('refuses "%s"', async (name) => {
    await expect(cli('baseline', 'save', name, at('results.json'))).rejects.toThrow(/must start with a letter or a digit/);
  });

  it('saves atomically: a reader of the old baseline keeps it whole, and nothing else is left in the directory', async () => {
    const baselines = join(dir, 'atomic');
    env.VIRTBENCH_BASELINE_DIR = baselines;
    try {
      await cli('baseline', 'save', 'v1.2', at('other.json'));
      // A reader that opened the old baseline: copying over it in place would change what it reads.
      const reader = await open(join(baselines, 'v1.2.json'), 'r');
      await Promise.all(['v1.2', 'v1.2', 'nightly_3'].map((name) => cli('baseline', 'save', name, at('results.json'))));
      expect(await reader.readFile('utf8')).toBe(await readFile(at('other.json'), 'utf8'));
      await reader.close();
      expect((await readdir(baselines)).sort()).toEqual(['nightly_3.json', 'v1.2.json']);
      expect(await readFile(join(baselines, 'v1.2.json'), 'utf8')).toBe(resultsText);
    } finally {
      env.VIRTBENCH_BASELINE_DIR = at('baselines');
    }
  });
});

describe('the virtbench bin on bad input', () => {
  let bin: string;
  let removeBuild: () => Promise<void>;
  beforeAll(async () => {
    ({ bin, remove: removeBuild } = await buildPrivateBin());
  }, 180_000);
  afterAll(() => removeBuild());

  const run = async (...args: string[]) => {
    const started = performance.now();
    const result = await execa(process.execPath, [bin, ...args], { reject: false, env: { VIRTBENCH_BASELINE_DIR: at('baselines') } });
    return { ...result, seconds: (performance.now() - started) / 1000 };
  };

  /** Exit 2, one line on stderr that starts with "virtbench:", and no stack frame. */
  const expectRefused = (result: { exitCode?: number; stderr: string }, reason: RegExp) => {
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/^virtbench: /);
    expect(result.stderr).toMatch(reason);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  };

  it('exits 2 quickly with one line for 50 MB of random bytes or of "["', async () => {
    let seed = 1;
    const junk = Buffer.alloc(50 * 1024 * 1024);
    for (let i = 0; i < junk.length; i++) junk[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    await writeFile(at('random.json'), junk);
    await writeFile(at('brackets.json'), '['.repeat(50 * 1024 * 1024));
    const random = await run('report', at('random.json'), '--md', at('junk.md'));
    expectRefused(random, /^virtbench: results file .*random\.json (is not JSON|nests arrays)/);
    expect(random.stderr.trim().split('\n')).toHaveLength(1);
    expect(random.seconds).toBeLessThan(15);
    const brackets = await run('merge', at('results.json'), at('brackets.json'), '-o', at('m.json'));
    expectRefused(brackets, /brackets\.json nests arrays or objects more than 32 deep/);
    expect(brackets.seconds).toBeLessThan(15);
  }, 60_000);

  it('names the field of a file with a string where a number belongs', async () => {
    await writeFile(at('string-value.json'), resultsText.replace('"value":5000000', '"value":"5000000"'));
    expectRefused(
      await run('compare', at('results.json'), at('string-value.json')),
      /results\[0\]\.samples\[0\]\.value must be a finite number >= 0, got "5000000"/,
    );
  });

  it('refuses to overwrite the results file with the report', async () => {
    expectRefused(await run('report', '--md', at('results.json'), at('results.json')), /refusing to write/);
    expect(await readFile(at('results.json'), 'utf8')).toBe(resultsText);
  });

  it('says what failed, without a stack, when the file system refuses', async () => {
    const result = await execa(process.execPath, [bin, 'baseline', 'save', 'x', at('results.json')], {
      reject: false,
      env: { VIRTBENCH_BASELINE_DIR: join(at('results.json'), 'baselines') }, // a directory inside a file
    });
    expectRefused(result, /ENOTDIR|EEXIST/);
  });
});
