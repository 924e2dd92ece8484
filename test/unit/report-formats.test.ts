import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { reportCommand } from '../../src/cli/commands/report.js';
import { filesOf, REPORT_FORMATS } from '../../src/reporters/formats/index.js';
import { resultOf, resultsFileOf, cliLines } from '../builders.js';

/*
 * The formats of `virtbench report` are one table (src/reporters/formats/index.ts): each one is an
 * option of the CLI, named in its usage with its default file, and written there by a bare option.
 */

let dir: string;

const cli = (...argv: string[]) => cliLines(argv);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'virtbench-report-formats-'));
  const file = resultsFileOf([resultOf('native', 'cpu', [5e6, 5.1e6, 4.9e6]), resultOf('docker', 'cpu', [4.9e6, 5e6, 4.8e6])]);
  await writeFile(join(dir, 'results.json'), JSON.stringify(file));
});

afterAll(() => rm(dir, { recursive: true, force: true }));

describe('the report formats', () => {
  it('have distinct options, each an option of virtbench report that may name no file', () => {
    const options = REPORT_FORMATS.map((f) => f.option);
    expect(new Set(options).size).toBe(options.length);
    for (const option of options) {
      expect(reportCommand.options[option]).toEqual({ type: 'string' });
      expect(reportCommand.optionalValues).toContain(option);
    }
  });

  it.each(REPORT_FORMATS.map((f) => [f.option, f] as const))('--%s is in the usage with its default file', (option, format) => {
    const shown = format.defaultFile('virtbench-report');
    expect(shown.startsWith('virtbench-report/')).toBe(true);
    const line = reportCommand.usage.split('\n').find((l) => l.startsWith(`      --${option} [${format.argument}]`));
    expect(line).toBeDefined();
    expect(reportCommand.usage).toContain(shown);
  });

  it.each(REPORT_FORMATS.map((f) => [f.option, f] as const))(
    '--%s alone writes its default file beside the results file',
    async (option, format) => {
      const { code, lines } = await cli('report', join(dir, 'results.json'), `--${option}`);
      expect(code).toBe(0);
      const files = filesOf(format, format.defaultFile(dir));
      expect(files.length).toBeGreaterThan(0);
      for (const file of files) {
        expect(existsSync(file)).toBe(true);
        expect((await readFile(file, 'utf8')).length).toBeGreaterThan(0);
      }
      expect(lines).toEqual([expect.stringMatching(/^wrote /)]);
    },
  );

  it('are all named when none is given', async () => {
    const error = await cli('report', join(dir, 'results.json')).catch((e: Error) => e);
    expect(String(error)).toContain(`needs at least one of ${REPORT_FORMATS.map((f) => `--${f.option}`).join(', ')}`);
  });
});
