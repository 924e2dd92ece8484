import { existsSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';
import { leftovers, newCase, record, recordRefused, removeCase, runBench, type FaultCase } from './inject.js';

/*
 * Every environment variable and a few options given a bad value, in a real `vitest bench`: each
 * fails before anything is measured (or, for the gate, after the results are written), names the
 * variable or option, says what it must be or how to fix it, and leaves nothing behind.
 */

let c: FaultCase;
afterAll(async () => {
  if (c) await removeCase(c);
});

/** [variable, bad value, what the error must say]: the run stops before measuring. */
const BEFORE_MEASURING: [string, string, RegExp][] = [
  ['VIRTBENCH_PROFILE', 'fast', /unknown profile "fast" .*valid profiles: quick, standard, assignment/],
  ['VIRTBENCH_RUNS', '0', /VIRTBENCH_RUNS .*must be a whole number from 1 to 10000, got 0/],
  ['VIRTBENCH_RUNS', 'many', /VIRTBENCH_RUNS .*got many/],
  ['VIRTBENCH_UNTIL_WITHIN', 'lots', /VIRTBENCH_UNTIL_WITHIN must be a share .*got "lots"\nfix: /],
  ['VIRTBENCH_MAX_ROUNDS', '-3', /VIRTBENCH_MAX_ROUNDS must be a whole number .*\nfix: /],
  ['VIRTBENCH_REPORT_DIR', '/proc/virtbench-report', /cannot write the report directory \/proc\/virtbench-report .*\nfix: /],
  ['VIRTBENCH_WORK_DIR', '/proc/virtbench-work', /cannot make the work directory in \/proc\/virtbench-work \(VIRTBENCH_WORK_DIR.*\nfix: /],
  ['VIRTBENCH_CACHE_DIR', '/etc/passwd', /cannot trust the cache directory \/etc\/passwd.*not a directory.*\nfix: /s],
  ['VIRTBENCH_CACHE_DIR', '/tmp', /cannot trust the cache directory \/tmp.*\nfix: /s],
  ['VIRTBENCH_ALLOW_MISSING', '%%', /VIRTBENCH_ALLOW_MISSING="%%" is not valid.*\nfix: /],
  ['VIRTBENCH_IDE', 'maybe', /VIRTBENCH_IDE="maybe" is not valid: it must be 1 \(on\) or 0 \(off\)/],
  ['VIRTBENCH_IDE_PLATFORMS', 'vmware', /IDE platform "vmware" \(VIRTBENCH_IDE_PLATFORMS .*\) is not among this config's platforms/],
  ['VIRTBENCH_AA', 'vmware', /A\/A platform \(VIRTBENCH_AA .*valid platforms: /],
  ['VIRTBENCH_DEBIAN_MIRROR', 'not-a-url', /VIRTBENCH_DEBIAN_MIRROR="not-a-url" is not valid: it must be a Debian mirror URL/],
  ['VIRTBENCH_DEBIAN_SUITE', '../../etc', /VIRTBENCH_DEBIAN_SUITE="..\/..\/etc" is not valid/],
  ['VIRTBENCH_DEBIAN_SOURCES', '/nonexistent/sources.list', /VIRTBENCH_DEBIAN_SOURCES=.* an apt sources file that exists/],
  ['VIRTBENCH_QEMU_REFRESH', 'yes', /VIRTBENCH_QEMU_REFRESH="yes" is not valid/],
  ['VIRTBENCH_TURNSTILE', 'garbage', /VIRTBENCH_TURNSTILE is set, so VIRTBENCH_TURNSTILE_TAG must name this run.*fix: /],
  ['VIRTBENCH_TURNSTILE_TAG', 'bad/tag', /VIRTBENCH_TURNSTILE_TAG="bad\/tag" is not valid.*\nfix: /],
];

describe('bad values', () => {
  it('each environment variable with a bad value stops the run before anything is measured, naming it and the fix', async () => {
    c = await newCase();
    const outcomes: string[] = [];
    for (const [name, value, expected] of BEFORE_MEASURING) {
      await rm(join(c.reportDir, 'results.json'), { force: true });
      const run = await runBench(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '0.1', [name]: value });
      expect(run.exitCode, `${name}=${value}`).not.toBe(0);
      expect(run.output, `${name}=${value}`).toMatch(expected);
      expect(run.results, `${name}=${value}: nothing may be measured`).toBeUndefined();
      expect(leftovers(c), `${name}=${value}`).toEqual([]);
      outcomes.push(`${name}=${value}`);
    }
    recordRefused(
      `each environment variable with a bad value (${BEFORE_MEASURING.length} cases: ${[...new Set(BEFORE_MEASURING.map(([n]) => n.replace('VIRTBENCH_', '')))].join(', ')})`,
      'exit 1 at startup: VIRTBENCH_BAD_OPTION naming the variable, what it must be, and the fix',
      'immediate (a few seconds each)',
    );
  });

  it('a dead DOCKER_HOST makes --project docker fail naming it and the fix', async () => {
    c ??= await newCase();
    const asked = await runBench(c, ['--project', 'docker', 'steps'], { DOCKER_HOST: 'tcp://127.0.0.1:1' });
    expect(asked.exitCode).not.toBe(0);
    expect(asked.output).toMatch(/no Docker engine answers at DOCKER_HOST=tcp:\/\/127\.0\.0\.1:1 .*fix: /);
    expect(leftovers(c)).toEqual([]);
    recordRefused(
      'DOCKER_HOST naming a dead engine',
      '--project docker: exit 1, VIRTBENCH_PLATFORM_UNAVAILABLE naming DOCKER_HOST and the fix',
      'immediate',
    );
  });

  it('a baseline that does not exist fails the gate after the results are written', async () => {
    c ??= await newCase();
    const run = await runBench(c, ['--project', 'native', 'steps'], { FAULT_HOLD_SECONDS: '0.1', VIRTBENCH_BASELINE: 'no-such-baseline' });
    expect(run.exitCode).not.toBe(0);
    expect(run.output).toMatch(/cannot compare with baseline no-such-baseline/);
    expect(run.results!.results.map((r) => r.status)).toEqual(['passed', 'passed']);
    expect(leftovers(c)).toEqual([]);
    record({
      fault: 'VIRTBENCH_BASELINE naming no saved baseline',
      outcome: 'exit 1 after the run: "cannot compare with baseline …"',
      kept: 'every result (results.json, CSV)',
      leaked: 'nothing',
      recovery: 'immediate',
    });
  });

  it('bad plugin options stop the run at startup, naming the option', async () => {
    c ??= await newCase();
    const bad: [string, RegExp][] = [
      [`{ platforms: ['native', 'vmware'] }`, /unknown platform.*vmware/i],
      [`{ platforms: ['native'], profile: 'fast' }`, /unknown profile "fast"/],
      [`{ platforms: ['native'], runs: -1 }`, /option "runs"\) must be a whole number/],
      [`{ platforms: ['native'], platfroms: ['native'] }`, /platfroms/],
      [`{ platforms: ['native'], reportDir: '/proc/virtbench-report' }`, /cannot write the report directory \/proc\/virtbench-report/],
    ];
    const config = join(packageRoot, 'fixtures', 'faults', 'bad-options.config.ts');
    try {
      for (const [options, expected] of bad) {
        writeFileSync(
          config,
          `import { defineConfig } from 'vitest/config';\nimport { virtbench } from '../../src/index.js';\nexport default defineConfig({ plugins: [virtbench(${options} as never)] });\n`,
        );
        await rm(join(c.reportDir, 'results.json'), { force: true }); // the baseline case's
        // No VIRTBENCH_REPORT_DIR: it would win over the option.
        const run = await runBench(c, ['--config', config, '--project', 'native', 'steps'], {
          FAULT_HOLD_SECONDS: '0.1',
          VIRTBENCH_REPORT_DIR: '',
        });
        expect(run.exitCode, options).not.toBe(0);
        expect(run.output, options).toMatch(expected);
        expect(run.results, options).toBeUndefined();
        expect(leftovers(c), options).toEqual([]);
      }
    } finally {
      await rm(config, { force: true });
    }
    expect(existsSync(config)).toBe(false);
    recordRefused(
      `bad plugin options (${bad.length}: unknown platform, profile, runs, a misspelt option, an unwritable reportDir)`,
      'exit 1 at startup: VIRTBENCH_BAD_OPTION naming the option',
      'immediate',
    );
  });
});
