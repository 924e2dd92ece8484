// What `npm publish` would ship: the build, the CLI, the C sources the workloads build at run time and
// the README; nothing of the development side. scripts/consumer-test.sh installs the real tarball.
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';

interface PackEntry {
  files: { path: string }[];
}

describe('the npm package', () => {
  let files: string[] = [];

  beforeAll(async () => {
    await execa('npm', ['run', 'build', '--silent'], { cwd: packageRoot });
    // --ignore-scripts: the build above is "prepare"; without it npm's JSON is all the output.
    const pack = await execa('npm', ['pack', '--dry-run', '--json', '--ignore-scripts', '--silent'], { cwd: packageRoot });
    const [entry] = JSON.parse(pack.stdout) as PackEntry[];
    files = entry!.files.map((f) => f.path);
  }, 120_000);

  it('ships the build, the suite, the CLI, the workload and unikernel sources and the README', () => {
    for (const file of [
      'package.json',
      'README.md',
      'bin/virtbench.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/bench.js',
      'dist/bench.d.ts',
      // The shipped suite: what a project without bench files of its own runs.
      'dist/workloads/cpu/cpu.bench.js',
      'dist/workloads/mem/mem.bench.js',
      'dist/workloads/disk-random/disk-random.bench.js',
      'dist/workloads/disk-copyup/disk-copyup.bench.js',
      'dist/workloads/fork/fork.bench.js',
      'dist/workloads/nginx/nginx.bench.js',
      'dist/runtime/global-setup.js',
      'dist/cli/bin.js',
      'src/workloads/cpu/linpack.c',
      'src/workloads/fork/forksum.c',
      'src/platforms/unikernel/uni-init.c',
    ]) {
      expect(files).toContain(file);
    }
  });

  it('ships nothing of the development side', () => {
    // Of src/ only the C sources, which the workloads build from where they are, also when run from dist/.
    expect(files.filter((f) => /^(src|test|scripts|examples|bench|\.ci)\/|^fixtures\//.test(f) && !/^src\/.*\.[ch]$/.test(f))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
  });

  it('points every export at a shipped file, and the build loads in plain Node', async () => {
    const manifest = (await import('../../package.json', { with: { type: 'json' } })).default as {
      exports: Record<string, string | Record<string, string>>;
    };
    for (const conditions of Object.values(manifest.exports)) {
      if (typeof conditions !== 'object') continue;
      for (const condition of ['types', 'import']) {
        const target = conditions[condition]!.replace(/^\.\//, '');
        expect(files).toContain(target);
        await access(join(packageRoot, target));
      }
    }
    // Node's own resolution (no "virtbench-source" condition): the package refers to itself and gets dist/.
    // Only the config-side entry is imported: "virtbench/bench" extends Vitest's test, which needs a run.
    const script =
      "const m = await import('virtbench');" +
      "console.log(typeof m.virtbench, typeof m.commandWorkload, import.meta.resolve('virtbench'), import.meta.resolve('virtbench/bench'));";
    const run = await execa(process.execPath, ['--input-type=module', '-e', script], { cwd: packageRoot });
    expect(run.stdout).toMatch(/^function function file:\S*\/dist\/index\.js file:\S*\/dist\/bench\.js$/);
  });
});
