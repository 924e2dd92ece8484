import { describe, expect, it } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { PROFILES, resolveProfile } from '../../src/workloads/profiles.js';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { WORKLOAD_NAMES, workloads } from '../../src/workloads/index.js';
import { benchFiles, excludeForSuite, suiteFiles } from '../../src/bench-files.js';
import { resolveOptions, virtbench } from '../../src/plugin.js';
import { errorOf } from '../builders.js';

describe('resolveOptions', () => {
  it('passes what the gate may find missing, from the option or VIRTBENCH_ALLOW_MISSING, and refuses anything else', () => {
    expect(resolveOptions({ baseline: 'main', allowMissing: ['docker-hostnet'] }, {}).gate).toMatchObject({
      baseline: 'main',
      allowMissing: ['docker-hostnet'],
    });
    expect(resolveOptions({ baseline: 'main' }, { VIRTBENCH_ALLOW_MISSING: 'all' }).gate?.allowMissing).toBe(true);
    expect(resolveOptions({ baseline: 'main' }, { VIRTBENCH_ALLOW_MISSING: 'native/nginx, qemu-kvm' }).gate?.allowMissing).toEqual([
      'native/nginx',
      'qemu-kvm',
    ]);
    expect(errorOf(() => resolveOptions({ baseline: 'main', allowMissing: 'docker' as never }, {})).message).toMatch(
      /option "allowMissing" must be true, or a list/,
    );
  });

  it('checks every variable it knows in every run, naming the variable, what it must be and the fix', () => {
    const bad: Record<string, [string, RegExp]> = {
      VIRTBENCH_IDE: ['maybe', /1 \(on\) or 0 \(off\)/],
      VIRTBENCH_QEMU_REFRESH: ['yes', /1 \(on\) or 0 \(off\)/],
      VIRTBENCH_ALLOW_MISSING: ['%%', /"all" or a comma-separated list/],
      VIRTBENCH_DEBIAN_MIRROR: ['not-a-url', /a Debian mirror URL/],
      VIRTBENCH_DEBIAN_SUITE: ['../../etc', /a Debian suite/],
      VIRTBENCH_DEBIAN_SOURCES: ['/nonexistent/sources.list', /an apt sources file that exists/],
      VIRTBENCH_TURNSTILE_TAG: ['head', /only together with VIRTBENCH_TURNSTILE/],
      VIRTBENCH_MAX_ROUNDS: ['-3', /VIRTBENCH_MAX_ROUNDS must be a whole number/],
      VIRTBENCH_MACHINE: ['metal kvm', /a machine class such as metal-kvm/],
      VIRTBENCH_ROUND_SEED: ['-1', /a whole number from 0 to 4294967295/],
    };
    for (const [name, [value, expected]] of Object.entries(bad)) {
      const error = errorOf(() => resolveOptions({ platforms: ['native'] }, { [name]: value }));
      expect(error.code, name).toBe('VIRTBENCH_BAD_OPTION');
      expect(error.message, name).toContain(name);
      expect(error.message, name).toMatch(expected);
      expect(error.message, name).toMatch(/\nfix: /);
    }
    expect(() =>
      resolveOptions(
        { platforms: ['native'] },
        {
          VIRTBENCH_IDE: '0',
          VIRTBENCH_ALLOW_MISSING: 'docker,native/nginx',
          VIRTBENCH_DEBIAN_SUITE: 'bookworm-backports',
          VIRTBENCH_MACHINE: 'metal-kvm.2',
          VIRTBENCH_ROUND_SEED: '42',
        },
      ),
    ).not.toThrow();
  });

  it('defaults to every platform, the standard profile and virtbench-report/', () => {
    const options = resolveOptions({}, {});
    expect(options.platforms).toContain('native');
    expect(options.profile).toBe(PROFILES.standard);
    expect(options.reportDir).toBe('virtbench-report');
    expect(options.cacheDir).toMatch(/\/\.cache\/virtbench$/);
  });

  it('lets the environment choose profile, report and cache directories', () => {
    const options = resolveOptions(
      { profile: 'assignment' },
      { VIRTBENCH_PROFILE: 'quick', VIRTBENCH_REPORT_DIR: 'out', VIRTBENCH_CACHE_DIR: '/tmp/c' },
    );
    expect(options.profile.name).toBe('quick');
    expect(options.reportDir).toBe('out');
    expect(options.cacheDir).toBe('/tmp/c');
  });

  it('rejects an unknown platform, listing the valid ones', () => {
    const error = errorOf(() => resolveOptions({ platforms: ['native', 'vmware'] }, {}));
    expect(error).toBeInstanceOf(VirtbenchError);
    expect(error.code).toBe('VIRTBENCH_BAD_OPTION');
    expect(error.message).toMatch(/unknown platform "vmware"; valid platforms: .*native/);
  });

  it('rejects an unknown option, an empty or repeated platform list, and a bad profile', () => {
    expect(errorOf(() => resolveOptions({ platfroms: ['native'] } as never, {})).message).toMatch(
      /unknown virtbench option "platfroms"; valid options: platforms, profile, reportDir, include/,
    );
    expect(errorOf(() => resolveOptions({ platforms: [] }, {})).message).toMatch(/non-empty array/);
    expect(errorOf(() => resolveOptions({ platforms: ['native', 'native'] }, {})).message).toMatch(/twice/);
    expect(errorOf(() => resolveOptions({ profile: 'fast' }, {})).message).toMatch(/valid profiles: quick, standard, assignment/);
    expect(errorOf(() => resolveOptions({}, { VIRTBENCH_PROFILE: 'fast' })).message).toMatch(/VIRTBENCH_PROFILE/);
  });

  it('measures one platform twice for an A/A run, and accepts "<platform>#<label>" names', async () => {
    expect(resolveOptions({}, { VIRTBENCH_AA: 'native' }).platforms).toEqual(['native', 'native#2']);
    expect(resolveOptions({ platforms: ['native', 'native#b'] }, {}).platforms).toEqual(['native', 'native#b']);
    expect(errorOf(() => resolveOptions({}, { VIRTBENCH_AA: 'vmware' })).message).toMatch(/A\/A platform .* valid platforms: .*native/);
    expect(errorOf(() => resolveOptions({ platforms: ['vmware#2'] }, {})).message).toMatch(/unknown platform "vmware#2"/);
    expect(errorOf(() => resolveOptions({ platforms: ['native#Bad Label'] }, {})).message).toMatch(/unknown platform/);
    const { createPlatform } = await import('../../src/platforms/index.js');
    expect(createPlatform('native#2').name).toBe('native#2');
  });

  it('runs bench files in IDE runs only when opted in: native and quick by default, configurable, checked', () => {
    expect(resolveOptions({}, {}).ide).toBeUndefined();
    const ide = resolveOptions({ platforms: ['native', 'docker'] }, { VIRTBENCH_IDE: '1' });
    expect(ide.ide).toEqual({ platforms: ['native'] });
    expect(ide.profile.name).toBe('quick');
    const chosen = resolveOptions(
      { platforms: ['native', 'docker'], ide: { platforms: ['docker'], profile: 'standard' } },
      { VIRTBENCH_IDE: '1' },
    );
    expect(chosen.ide).toEqual({ platforms: ['docker'] });
    expect(chosen.profile.name).toBe('standard');
    expect(
      resolveOptions({ platforms: ['native', 'docker'] }, { VIRTBENCH_IDE: '1', VIRTBENCH_IDE_PLATFORMS: 'native,docker' }).ide,
    ).toEqual({
      platforms: ['native', 'docker'],
    });
    expect(
      errorOf(() => resolveOptions({ platforms: ['native'] }, { VIRTBENCH_IDE: '1', VIRTBENCH_IDE_PLATFORMS: 'docker' })).message,
    ).toMatch(/IDE platform "docker" .* is not among this config's platforms: native/);
  });

  it('resolves profiles by name and rejects others', () => {
    expect(resolveProfile(undefined).name).toBe('standard');
    expect(resolveProfile('assignment').runs).toBe(48);
    expect(() => resolveProfile('slow')).toThrow(/valid profiles/);
  });
});

type ConfigHook = (config: { test?: Record<string, unknown> }) => void;

describe('virtbench() plugin config', () => {
  const configure = (test: Record<string, unknown>) => {
    const config = { test };
    (virtbench({ platforms: ['native'] }).config as unknown as ConfigHook)(config);
    return config.test!;
  };

  it('adds one benchmark-only project per platform after the existing ones', () => {
    const test = configure({ projects: [{ test: { name: 'unit' } }] });
    const projects = test.projects as {
      test: { name: string; include: string[]; benchmark: { include: string[] }; provide: Record<string, unknown> };
    }[];
    expect(projects.map((p) => p.test.name)).toEqual(['unit', 'native']);
    expect(projects[1]!.test.include).toEqual([]);
    // This repository has no bench files of its own: the shipped suite runs.
    expect(projects[1]!.test.benchmark.include).toEqual(['bench/**/*.bench.ts', ...suiteFiles()]);
    expect(projects[1]!.test.provide.virtbench).toMatchObject({ platform: 'native', requested: false });
  });

  it('looks for the bench files of the project in its root, also a root given with --root', () => {
    const root = mkdtempSync(join(tmpdir(), 'virtbench-root-'));
    try {
      mkdirSync(join(root, 'bench'));
      writeFileSync(join(root, 'bench', 'mine.bench.ts'), '');
      // --root reaches the config hook as test.root (Vitest's CLI plugin puts its options there first).
      const test = configure({ root, projects: [] });
      const projects = test.projects as { test: { benchmark: { include: string[] } } }[];
      expect(projects[0]!.test.benchmark.include).toEqual(['bench/**/*.bench.ts']);
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it("gives the user's other projects no bench files, unless they name their own", () => {
    const test = configure({
      projects: [{ test: { name: 'unit' } }, { test: { name: 'mine', benchmark: { include: ['perf/*.bench.ts'] } } }],
    });
    const projects = test.projects as { test: { name: string; benchmark?: { include: string[] } } }[];
    expect(projects[0]!.test.benchmark).toEqual({ include: [] });
    expect(projects[1]!.test.benchmark).toEqual({ include: ['perf/*.bench.ts'] });
  });

  it('maps --project <platform> to the platform benchmark variant Vitest 5 creates', () => {
    const test = configure({ project: ['native', 'unit'], projects: [{ test: { name: 'unit' } }] });
    expect(test.project).toEqual(['native', 'native (bench)', 'unit']);
    const projects = test.projects as { test: { provide: { virtbench: { requested: boolean } } } }[];
    expect(projects[1]!.test.provide.virtbench.requested).toBe(true);
  });

  it('names the platforms when --project matches nothing', () => {
    expect(() => configure({ project: ['qemu'], projects: [{ test: { name: 'unit' } }] })).toThrow(
      /--project qemu matches no project; platforms in this config: native; other projects: unit/,
    );
  });

  it('leaves project configs that inherit the plugin alone', () => {
    const test = configure({ name: 'unit' });
    expect(test.projects).toBeUndefined();
  });

  it("runs a platform's bench files one at a time, whatever the user's config or --file-parallelism says", () => {
    // The qemu guest is paused when a file's benchmark closes: a second file of the platform must not be running.
    const test = configure({ fileParallelism: true, projects: [{ test: { name: 'unit' } }] });
    const projects = test.projects as { test: { name: string; fileParallelism?: boolean } }[];
    expect(projects.map((p) => [p.test.name, p.test.fileParallelism])).toEqual([
      ['unit', undefined],
      ['native', false],
    ]);
    // The platform project's own config, as Vitest resolves it with --file-parallelism merged over it.
    const own = configure({ ...projects[1]!.test, fileParallelism: true });
    expect(own.fileParallelism).toBe(false);
    expect(own.projects).toBeUndefined();
    expect(configure({ name: 'unit', fileParallelism: true }).fileParallelism).toBe(true);
  });
});

describe('rounds until decided', () => {
  it('is on for the standard profile, off for quick, the assignment and a run count asked for', () => {
    expect(resolveOptions({}, {}).untilDecided).toEqual({
      within: 0.05,
      minRounds: 3,
      maxRounds: 30,
      unpairedRounds: PROFILES.standard.runs,
      budgetMs: 18 * 60_000,
    });
    expect(resolveOptions({ profile: 'quick' }, {}).untilDecided).toBeUndefined();
    expect(resolveOptions({ profile: 'assignment' }, {}).untilDecided).toBeUndefined();
    expect(resolveOptions({}, { VIRTBENCH_RUNS: '8' }).untilDecided).toBeUndefined();
    expect(resolveOptions({ untilDecided: false }, {}).untilDecided).toBeUndefined();
    expect(resolveOptions({}, { VIRTBENCH_UNTIL_WITHIN: 'off' }).untilDecided).toBeUndefined();
  });

  it('takes the environment over the option, and refuses nonsense with the fix', () => {
    const quick = resolveOptions({ profile: 'quick' }, { VIRTBENCH_UNTIL_WITHIN: '3%', VIRTBENCH_MAX_ROUNDS: '9', VIRTBENCH_BUDGET: '2m' });
    expect(quick.untilDecided).toMatchObject({ within: 0.03, maxRounds: 9, unpairedRounds: 2, budgetMs: 120_000 });
    expect(resolveOptions({ untilDecided: { within: '2%', maxRounds: 12, budgetMinutes: 5 } }, {}).untilDecided).toMatchObject({
      within: 0.02,
      maxRounds: 12,
      budgetMs: 300_000,
    });
    expect(() => resolveOptions({}, { VIRTBENCH_UNTIL_WITHIN: '300%' })).toThrow(/between 0 and 100 %.*\nfix: /s);
    expect(() => resolveOptions({}, { VIRTBENCH_MAX_ROUNDS: '2' })).toThrow(/at least 5/);
    expect(() => resolveOptions({}, { VIRTBENCH_BUDGET: 'soon' })).toThrow(/VIRTBENCH_BUDGET .* minutes/);
    // Checked in a run that takes a fixed count too.
    expect(() => resolveOptions({ profile: 'quick' }, { VIRTBENCH_MAX_ROUNDS: '-3' })).toThrow(
      /VIRTBENCH_MAX_ROUNDS must be a whole number/,
    );
    expect(() => resolveOptions({ profile: 'quick' }, { VIRTBENCH_BUDGET: 'soon' })).toThrow(/VIRTBENCH_BUDGET/);
    expect(() => resolveOptions({ profile: 'quick' }, { VIRTBENCH_UNTIL_WITHIN: 'lots' })).toThrow(/VIRTBENCH_UNTIL_WITHIN/);
    // The old per-platform target is gone; its variables name their successors.
    expect(() => resolveOptions({}, { VIRTBENCH_UNTIL_SD: '3%' })).toThrow(
      /VIRTBENCH_UNTIL_SD is replaced\nfix: use VIRTBENCH_UNTIL_WITHIN/,
    );
    expect(() => resolveOptions({}, { VIRTBENCH_MAX_RUNS: '9' })).toThrow(/fix: use VIRTBENCH_MAX_ROUNDS/);
  });

  it('quiet turns are on unless VIRTBENCH_QUIET_TURNS=0 or the option says false', () => {
    expect(resolveOptions({}, {}).quietTurns).toBe(true);
    expect(resolveOptions({}, { VIRTBENCH_QUIET_TURNS: '0' }).quietTurns).toBe(false);
    expect(resolveOptions({ quietTurns: false }, {}).quietTurns).toBe(false);
    expect(() => resolveOptions({}, { VIRTBENCH_QUIET_TURNS: 'yes' })).toThrow(/must be 0 or 1/);
  });

  it("takes another run count at the profile's sizes (VIRTBENCH_RUNS over the option), and refuses nonsense", () => {
    const quick10 = resolveOptions({ profile: 'quick' }, { VIRTBENCH_RUNS: '10' }).profile;
    expect(quick10).toEqual({ ...PROFILES.quick, runs: 10 });
    expect(resolveOptions({ profile: 'quick', runs: 4 }, {}).profile.runs).toBe(4);
    expect(resolveOptions({ profile: 'quick', runs: 4 }, { VIRTBENCH_RUNS: '7' }).profile.runs).toBe(7);
    expect(resolveOptions({ profile: 'quick' }, {}).profile).toBe(PROFILES.quick);
    for (const bad of ['0', '2.5', 'ten', '-3', '100000']) {
      expect(() => resolveOptions({}, { VIRTBENCH_RUNS: bad })).toThrow(
        /VIRTBENCH_RUNS or option "runs"\) must be a whole number from 1 to 10000/,
      );
    }
    expect(() => resolveOptions({ runs: '5' as unknown as number }, {})).toThrow(/got "5"/);
    // The run count reaches the workers, which resolve the profile by name.
    const config = { test: {} as Record<string, unknown> };
    (virtbench({ platforms: ['native'], profile: 'quick', runs: 9 }).config as unknown as ConfigHook)(config);
    const [project] = config.test.projects as { test: { provide: { virtbench: { profile: string; runs?: number } } } }[];
    expect(project!.test.provide.virtbench).toMatchObject({ profile: 'quick', runs: 9 });
  });
});

describe('the shipped suite', () => {
  it("keeps each built-in workload's C programs in the folder of its bench file", () => {
    const folders = new Set(suiteFiles().map((file) => dirname(file)));
    for (const name of WORKLOAD_NAMES) {
      const workload = workloads[name];
      const sources = [
        ...(workload.kind === 'command' && 'source' in workload.program ? [workload.program.source] : []),
        ...(workload.kind === 'served' ? Object.values(workload.programs ?? {}).map((program) => program.source) : []),
      ];
      for (const source of sources) {
        expect(existsSync(source), source).toBe(true);
        expect(folders.has(dirname(source)), `${name}: ${source}`).toBe(true);
        expect(basename(dirname(dirname(source)))).toBe('workloads');
      }
    }
  });

  it('is one bench file per workload family, and together they run every built-in workload', () => {
    const files = suiteFiles();
    expect(files.map((f) => f.split('/').pop())).toEqual([
      'cpu.bench.ts',
      'disk-copyup.bench.ts',
      'disk-random.bench.ts',
      'fork.bench.ts',
      'mem.bench.ts',
      'nginx.bench.ts',
    ]);
    const prepared = files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/virtbench\.prepare\('([\w-]+)'\)/g)].map((m) => m[1]));
    expect(prepared.sort()).toEqual([...WORKLOAD_NAMES].sort());
  });

  it('runs where the project has no bench files of its own, and adds to them only when asked', () => {
    const root = mkdtempSync(join(tmpdir(), 'virtbench-suite-'));
    try {
      const include = ['bench/**/*.bench.ts'];
      expect(benchFiles({ include }, root, ['**/node_modules/**']).include).toEqual([...include, ...suiteFiles()]);
      mkdirSync(join(root, 'bench'));
      writeFileSync(join(root, 'bench', 'mine.bench.ts'), '');
      expect(benchFiles({ include }, root, ['**/node_modules/**']).include).toEqual(include);
      expect(benchFiles({ include, suite: 'standard' }, root, []).include).toEqual([...include, ...suiteFiles()]);
      expect(benchFiles({ include, suite: 'none' }, join(root, 'empty'), []).include).toEqual(include);
    } finally {
      rmSync(root, { recursive: true });
    }
  });

  it("lets the suite through Vitest's node_modules exclude when it is installed there, and nothing else", () => {
    const root = '/home/me/project';
    const installed = ['/home/me/project/node_modules/virtbench/dist/workloads/cpu/cpu.bench.js'];
    expect(excludeForSuite(['**/node_modules/**', '**/.git/**'], installed, root)).toEqual([
      '**/node_modules/!(virtbench|.pnpm)/**',
      '**/.git/**',
    ]);
    expect(excludeForSuite(['**/node_modules/**'], ['/home/me/virtbench/src/workloads/cpu/cpu.bench.ts'], '/home/me/virtbench')).toEqual([
      '**/node_modules/**',
    ]);
  });

  it('refuses a suite it does not know', () => {
    expect(errorOf(() => resolveOptions({ suite: 'all' as never }, {})).message).toMatch(/option "suite" must be 'standard' .* or 'none'/);
  });
});
