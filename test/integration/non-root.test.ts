// The default run of a user without root: a project with virtbench() and no options but the profile
// runs what this host lets that user run, and every other platform is skipped with one line naming
// what it needs and `virtbench setup`.
import { chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import { PLATFORM_NAMES } from '../../src/platforms/index.js';
import { qemuUserMissing } from '../../src/platforms/qemu-user/index.js';
import { readResults } from '../../src/results/results-file.js';

const NOBODY = 65534;
const project = mkdtempSync(join(tmpdir(), 'virtbench-nobody-'));
afterAll(() => rmSync(project, { recursive: true, force: true }));

it.skipIf(process.getuid?.() !== 0)(
  'runs what a user without root can run, and names what each other platform needs in one line',
  async () => {
    for (const dir of ['home', 'cache', 'work', 'report']) mkdirSync(join(project, dir));
    // The user's project: the default platforms (every one virtbench has), no bench files of its own.
    writeFileSync(
      join(project, 'vitest.config.ts'),
      [
        "import { defineConfig } from 'vitest/config';",
        `import { virtbench } from ${JSON.stringify(join(packageRoot, 'src/index.ts'))};`,
        `export default defineConfig({ cacheDir: 'home/.vite', plugins: [virtbench({ profile: 'quick' })] });`,
      ].join('\n'),
    );
    // Vitest and its dependencies come from this repository's node_modules, read-only for that user.
    await execa('ln', ['-s', join(packageRoot, 'node_modules'), join(project, 'node_modules')]);
    for (const entry of ['', ...readdirSync(project)]) chownSync(join(project, entry), NOBODY, NOBODY);

    const run = await execa(
      process.execPath,
      // The runner loads the config in memory: bundling it would write under node_modules, which is not this user's.
      [join(packageRoot, 'node_modules/vitest/vitest.mjs'), 'bench', '--run', '--configLoader', 'runner', 'cpu'],
      {
        cwd: project,
        uid: NOBODY,
        gid: NOBODY,
        env: {
          PATH: process.env.PATH!,
          HOME: join(project, 'home'),
          VIRTBENCH_CACHE_DIR: join(project, 'cache'),
          VIRTBENCH_WORK_DIR: join(project, 'work'),
          VIRTBENCH_REPORT_DIR: join(project, 'report'),
          NO_COLOR: '1',
          CI: 'true',
        },
        extendEnv: false,
        reject: false,
        all: true,
        timeout: 280_000,
      },
    );
    expect(run.exitCode, run.all).toBe(0);
    const { results } = await readResults(join(project, 'report', 'results.json'));
    const cpu = new Map(results.filter((r) => r.benchmark === 'cpu').map((r) => [r.platform, r]));
    expect([...cpu.keys()].sort()).toEqual([...PLATFORM_NAMES].sort());
    expect(cpu.get('native')).toMatchObject({ status: 'passed' });
    expect(cpu.get('native')!.samples).toHaveLength(2);
    for (const [platform, result] of cpu) {
      console.log(`[non-root] ${platform}: ${result.status}${result.skipReason ? `: ${result.skipReason}` : ''}`);
      if (platform === 'native') continue;
      // User-mode emulation needs no root: plain processes, like native (where its tools are installed).
      if (platform === 'qemu-user-arm64' && !qemuUserMissing()) {
        expect(result, platform).toMatchObject({ status: 'passed' });
        continue;
      }
      // Every other platform needs root here (an engine, a guest image built as root, a bridge) or KVM.
      expect(result.status, platform).toBe('skipped');
      expect(result.skipReason, platform).not.toContain('\n');
      expect(result.skipReason, platform).toMatch(/virtbench setup/);
    }
    // Nothing of the run stays in its work directory.
    expect(readdirSync(join(project, 'work'))).toEqual([]);
  },
  300_000,
);
