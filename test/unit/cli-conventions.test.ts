import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { resolveOptions } from '../../src/plugin.js';
import { cliOutput } from '../builders.js';

const cli = (...argv: string[]) => cliOutput(argv);

describe('CLI conventions', () => {
  it('prints the version of the package with --version, -v and version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v', 'version']) expect(await cli(flag)).toEqual({ code: 0, out: version });
  });

  it("prints one command's usage with <command> --help and help <command>, everything with --help", async () => {
    const one = await cli('compare', '--help');
    expect(one.code).toBe(0);
    expect(one.out).toMatch(/^virtbench compare:\n {2}virtbench compare <baseline>/);
    expect(one.out).not.toContain('virtbench ab <base-ref>');
    expect((await cli('help', 'ab')).out).toMatch(/^ {2}virtbench ab <base-ref>/);
    const all = await cli('--help');
    expect(all.out).toContain('virtbench compare <baseline>');
    expect(all.out).toContain('virtbench ab <base-ref>');
    expect(all.out).toContain('virtbench --version');
  });
});

describe('one threshold notation: the config takes percentages too', () => {
  const gate = (options: Parameters<typeof resolveOptions>[0]) =>
    resolveOptions({ platforms: ['native'], baseline: 'main', ...options }, {}).gate!;

  it("reads '5%' and 0.05 alike, for the threshold, the fail threshold and the noise floor", () => {
    expect(gate({ threshold: '5%', failThreshold: '12.5%', noiseFloor: '3%' })).toMatchObject({
      threshold: 0.05,
      failThreshold: 0.125,
      noiseFloor: 0.03,
    });
    expect(gate({ threshold: 0.05 })).toMatchObject({ threshold: 0.05 });
  });

  it('refuses a bare number of 1 or more (5 would be 500 %) and junk, with the fix', () => {
    expect(() => gate({ threshold: 5 })).toThrow(
      /option "threshold" is a fraction \(0\.05 = 5 %\), and 5 would be 500 %.*fix: write it as '5%' or 0\.05/,
    );
    expect(() => gate({ failThreshold: 'lots' as never })).toThrow(/option "failThreshold" must be a percentage such as '5%'/);
    expect(() => gate({ noiseFloor: -0.1 })).toThrow(/option "noiseFloor"/);
  });
});
