import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/host/paths.js';

/*
 * The boundaries of the design are lint rules (eslint.config.js). These plant
 * an import that crosses one, as code that never reaches the disk, and check
 * that `npm run lint` would fail on it, naming the rule.
 */

const eslint = new ESLint({ cwd: packageRoot });
const CHECK_CYCLES = join(packageRoot, 'scripts', 'check-cycles.mjs');

/** The errors of `code` as a file at `file`. */
async function problemsOfCode(file: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: join(packageRoot, file) });
  return result!.messages.filter((m) => m.severity === 2).map((m) => ({ rule: m.ruleId, message: m.message }));
}

/** The errors of a file at `file` that imports `name` from `from` and uses it. */
async function problemsOf(file: string, name: string, from: string): Promise<{ rule: string | null; message: string }[]> {
  return problemsOfCode(file, `import { ${name} } from '${from}';\nexport const planted = ${name};\n`);
}

const restricted = (message: RegExp) => ({ rule: 'import-x/no-restricted-paths', message: expect.stringMatching(message) });

// The first lint loads the parser and the import resolver: seconds on a loaded 2-core machine.
describe('lint: the boundaries of the design', { timeout: 60_000 }, () => {
  it('refuses a reporter that imports platform code', async () => {
    const problems = await problemsOf('src/reporters/planted.ts', 'dockerPlatforms', '../platforms/docker/index.js');
    expect(problems).toContainEqual(restricted(/never start or know a platform/));
  });

  it("refuses an import of a platform folder's internals from outside it, and allows its index.ts", async () => {
    const internal = await problemsOf('src/runtime/runner-planted.ts', 'commandLine', '../platforms/qemu/ssh.js');
    expect(internal).toContainEqual(restricted(/only src\/platforms\/qemu\/ knows/));
    const sibling = await problemsOf('src/platforms/unikernel/planted.ts', 'bootGuest', '../qemu/qemu-guest.js');
    expect(sibling).toContainEqual(restricted(/only src\/platforms\/qemu\/ knows/));
    expect(await problemsOf('src/runtime/runner-planted.ts', 'qemuPlatforms', '../platforms/qemu/index.js')).toEqual([]);
  });

  it('refuses a bench file of the shipped suite or a fixture that reaches past the public entries', async () => {
    const suite = await problemsOf('src/workloads/cpu/planted.bench.ts', 'parseResultLine', '../figure.js');
    expect(suite).toContainEqual(restricted(/uses the public entry "virtbench\/bench"/));
    expect(await problemsOf('src/workloads/cpu/planted.bench.ts', 'test', '../../bench.js')).toEqual([]);
    const fixture = await problemsOf('fixtures/e2e/bench/planted.bench.ts', 'parseResultLine', '../../../src/workloads/figure.js');
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
    const harness = await problemsOf('src/ab/planted.ts', 'runOnePlatform', '../runtime/runner.js');
    expect(harness).toContainEqual(restricted(/never starts or knows a platform/));
    const platform = await problemsOf('src/turnstile/planted.ts', 'dockerPlatforms', '../platforms/docker/index.js');
    expect(platform).toContainEqual(restricted(/the turnstile knows no platform/));
  });

  it('keeps src/host/ below every layer, and a platform away from any one workload', async () => {
    const host = await problemsOf('src/host/planted.ts', 'roundOrder', '../turnstile/index.js');
    expect(host).toContainEqual(restricted(/src\/host\/ serves every layer and knows none/));
    expect(await problemsOf('src/host/planted.ts', 'VirtbenchError', '../errors.js')).toEqual([]);
    const workload = await problemsOf('src/platforms/native/planted.ts', 'cpu', '../../workloads/cpu/cpu.js');
    expect(workload).toContainEqual(restricted(/never imports one workload's folder/));
    expect(await problemsOf('src/platforms/native/planted.ts', 'workloads', '../../workloads/index.js')).toEqual([]);
  });

  it('refuses an error given its code at the call site, or told apart by instanceof, outside src/errors.ts', async () => {
    const syntax = (message: RegExp) => ({ rule: 'no-restricted-syntax', message: expect.stringMatching(message) });
    const inline =
      "import { VirtbenchError } from '../errors.js';\nexport const planted = new VirtbenchError('VIRTBENCH_BAD_OPTION', 'bad');\n";
    expect(await problemsOfCode('src/runtime/planted.ts', inline)).toContainEqual(
      syntax(/throw the class of the code from src\/errors\.ts/),
    );
    const byClass = "import { BadOptionError } from '../errors.js';\nexport const planted = new BadOptionError('bad');\n";
    expect(await problemsOfCode('src/runtime/planted.ts', byClass)).toEqual([]);
    const instance =
      "import { TurnstileError } from '../errors.js';\nexport const planted = (e: unknown) => e instanceof TurnstileError;\n";
    expect(await problemsOfCode('src/runtime/planted.ts', instance)).toContainEqual(syntax(/isVirtbenchError\(value, code\)/));
    const recognized =
      "import { isVirtbenchError } from '../errors.js';\nexport const planted = (e: unknown) => isVirtbenchError(e, 'VIRTBENCH_TURNSTILE_FAILED');\n";
    expect(await problemsOfCode('src/runtime/planted.ts', recognized)).toEqual([]);
    // src/errors.ts itself builds them.
    const base = "class VirtbenchError extends Error {}\nexport const planted = new VirtbenchError('bad');\n";
    expect(await problemsOfCode('src/errors.ts', base)).toEqual([]);
  });

  it('refuses an import cycle', async () => {
    // errors.ts is imported by host/command.ts; importing that back closes a cycle.
    const problems = await problemsOf('src/errors.ts', 'runCommand', './host/command.js');
    expect(problems.map((p) => p.rule)).toContain('import-x/no-cycle');
  });

  it('refuses a cycle of type-only imports too (scripts/check-cycles.mjs, part of npm run lint), and passes src/', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'virtbench-cycles-'));
    try {
      writeFileSync(join(dir, 'a.ts'), "import type { B } from './b.js';\nexport interface A { b?: B }\n");
      writeFileSync(join(dir, 'b.ts'), "import type { A } from './a.js';\nexport interface B { a?: A }\n");
      const planted = await execa(process.execPath, [CHECK_CYCLES, dir], { reject: false });
      expect(planted.exitCode).toBe(1);
      expect(planted.stderr).toMatch(/import cycle \(type-only imports count\): .*a\.ts <-> .*b\.ts/);
      const src = await execa(process.execPath, [CHECK_CYCLES], { reject: false });
      expect(src).toMatchObject({ exitCode: 0, stdout: expect.stringMatching(/^no import cycles among \d+ files of src$/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
