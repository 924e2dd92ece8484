import { join } from 'node:path';
import { ESLint } from 'eslint';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/harness/host/paths.js';

/*
 * The boundaries of the design are lint rules (eslint.config.js). These plant
 * an import that crosses one, as code that never reaches the disk, and check
 * that `npm run lint` would fail on it, naming the rule.
 */

const eslint = new ESLint({ cwd: packageRoot });

/** The errors of a file at `file` that imports `name` from `from` and uses it. */
async function problemsOf(file: string, name: string, from: string): Promise<{ rule: string | null; message: string }[]> {
  const code = `import { ${name} } from '${from}';\nexport const planted = ${name};\n`;
  const [result] = await eslint.lintText(code, { filePath: join(packageRoot, file) });
  return result!.messages.filter((m) => m.severity === 2).map((m) => ({ rule: m.ruleId, message: m.message }));
}

const restricted = (message: RegExp) => ({ rule: 'import-x/no-restricted-paths', message: expect.stringMatching(message) });

// The first lint loads the parser and the import resolver: seconds on a loaded 2-core machine.
describe('lint: the boundaries of the design', { timeout: 60_000 }, () => {
  it('refuses a reporter that imports platform code', async () => {
    const problems = await problemsOf('src/reporters/planted.ts', 'dockerPlatforms', '../harness/platforms/docker/index.js');
    expect(problems).toContainEqual(restricted(/never start or know a platform/));
  });

  it("refuses an import of a platform folder's internals from outside it, and allows its index.ts", async () => {
    const internal = await problemsOf('src/harness/runner-planted.ts', 'commandLine', './platforms/qemu/ssh.js');
    expect(internal).toContainEqual(restricted(/only src\/harness\/platforms\/qemu\/ knows/));
    const sibling = await problemsOf('src/harness/platforms/unikernel/planted.ts', 'bootGuest', '../qemu/qemu-guest.js');
    expect(sibling).toContainEqual(restricted(/only src\/harness\/platforms\/qemu\/ knows/));
    expect(await problemsOf('src/harness/runner-planted.ts', 'qemuPlatforms', './platforms/qemu/index.js')).toEqual([]);
  });

  it('refuses a bench file of the shipped suite or a fixture that reaches past the public entries', async () => {
    const suite = await problemsOf('src/suite/planted.bench.ts', 'parseResultLine', '../harness/figure.js');
    expect(suite).toContainEqual(restricted(/uses the public entry "virtbench\/bench"/));
    expect(await problemsOf('src/suite/planted.bench.ts', 'test', '../bench.js')).toEqual([]);
    const fixture = await problemsOf('fixtures/e2e/bench/planted.bench.ts', 'parseResultLine', '../../../src/harness/figure.js');
    expect(fixture).toContainEqual(restricted(/use the public entries/));
  });

  it('keeps src/reporters/ presentation only: no file storage, no summary of its own, nothing below imports it', async () => {
    const storage = await problemsOf('src/reporters/planted.ts', 'readFile', 'node:fs/promises');
    expect(storage).toContainEqual({ rule: 'no-restricted-imports', message: expect.stringMatching(/presentation only/) });
    const median = await problemsOf('src/reporters/planted.ts', 'median', '../statistics/descriptive.js');
    expect(median).toContainEqual(restricted(/never a summary of your own/));
    expect(await problemsOf('src/reporters/planted.ts', 'ratioToBaseline', '../statistics/ratio.js')).toEqual([]);
    const below = await problemsOf('src/results/planted.ts', 'renderMarkdown', '../reporters/markdown.js');
    expect(below).toContainEqual(restricted(/src\/reporters\/ is presentation only/));
    const statistics = await problemsOf('src/statistics/planted.ts', 'formatCell', '../reporters/table.js');
    expect(statistics).toContainEqual(restricted(/src\/reporters\/ is presentation only/));
  });

  it("refuses an import of the turnstile's internals from outside src/turnstile/, and a platform from inside it", async () => {
    const internal = await problemsOf('src/ab/planted.ts', 'startTurnstile', '../turnstile/server.js');
    expect(internal).toContainEqual(restricted(/only src\/turnstile\/ knows/));
    expect(await problemsOf('src/ab/planted.ts', 'startTurnstile', '../turnstile/index.js')).toEqual([]);
    // The A/B runner hosts a turnstile through its index.ts, and reaches nothing of the harness.
    const harness = await problemsOf('src/ab/planted.ts', 'roundOrder', '../harness/round-order.js');
    expect(harness).toContainEqual(restricted(/never starts or knows a platform/));
    const platform = await problemsOf('src/turnstile/planted.ts', 'dockerPlatforms', '../harness/platforms/docker/index.js');
    expect(platform).toContainEqual(restricted(/the turnstile knows no platform/));
  });

  it('refuses an import cycle', async () => {
    // errors.ts is imported by host/command.ts; importing that back closes a cycle.
    const problems = await problemsOf('src/errors.ts', 'runCommand', './harness/host/command.js');
    expect(problems.map((p) => p.rule)).toContain('import-x/no-cycle');
  });
});
