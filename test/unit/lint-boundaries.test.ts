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

async function problemsOf(file: string, code: string): Promise<{ rule: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: join(packageRoot, file) });
  return result!.messages.filter((m) => m.severity === 2).map((m) => ({ rule: m.ruleId, message: m.message }));
}

// The first lint loads the parser and the import resolver: seconds on a loaded 2-core machine.
describe('lint: the boundaries of the design', { timeout: 60_000 }, () => {
  it('refuses a reporter that imports platform code', async () => {
    const problems = await problemsOf(
      'src/reporters/planted.ts',
      "import { dockerPlatforms } from '../harness/platforms/docker/index.js';\nexport const planted = dockerPlatforms;\n",
    );
    expect(problems).toContainEqual({
      rule: 'import-x/no-restricted-paths',
      message: expect.stringMatching(/never start or know a platform/),
    });
  });

  it("refuses an import of a platform folder's internals from outside it, and allows its index.ts", async () => {
    const internal = await problemsOf(
      'src/harness/runner-planted.ts',
      "import { shellQuote } from './platforms/qemu/ssh.js';\nexport const planted = shellQuote;\n",
    );
    expect(internal).toContainEqual({
      rule: 'import-x/no-restricted-paths',
      message: expect.stringMatching(/only src\/harness\/platforms\/qemu\/ knows/),
    });
    const sibling = await problemsOf(
      'src/harness/platforms/unikernel/planted.ts',
      "import { bootGuest } from '../qemu/qemu-guest.js';\nexport const planted = bootGuest;\n",
    );
    expect(sibling.map((p) => p.rule)).toContain('import-x/no-restricted-paths');
    const entry = await problemsOf(
      'src/harness/runner-planted.ts',
      "import { qemuPlatforms } from './platforms/qemu/index.js';\nexport const planted = qemuPlatforms;\n",
    );
    expect(entry).toEqual([]);
  });

  it('refuses a bench file that reaches past the public entries', async () => {
    const problems = await problemsOf(
      'bench/planted.bench.ts',
      "import { parseResultLine } from '../src/harness/figure.js';\nexport const planted = parseResultLine;\n",
    );
    expect(problems.map((p) => p.rule)).toContain('import-x/no-restricted-paths');
  });

  it('refuses an import cycle', async () => {
    // errors.ts is imported by host/command.ts; importing that back closes a cycle.
    const problems = await problemsOf(
      'src/errors.ts',
      "import { runCommand } from './harness/host/command.js';\nexport const planted = runCommand;\n",
    );
    expect(problems.map((p) => p.rule)).toContain('import-x/no-cycle');
  });
});
