import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { packageRoot } from '../src/host/paths.js';

/**
 * The virtbench bin built into a directory of its own, so a test that runs the real command never
 * races another test's build of dist/ (cli.test.ts, package.test.ts). Returns the bin and its removal.
 */
export async function buildPrivateBin(): Promise<{ bin: string; remove: () => Promise<void> }> {
  const build = await mkdtemp(join(tmpdir(), 'virtbench-bin-'));
  await writeFile(join(build, 'package.json'), JSON.stringify({ type: 'module' }));
  await symlink(join(packageRoot, 'node_modules'), join(build, 'node_modules'));
  await mkdir(join(build, 'bin'));
  await copyFile(join(packageRoot, 'bin/virtbench.js'), join(build, 'bin/virtbench.js'));
  // Type errors elsewhere must not stop the CLI's own files from being emitted.
  const tsc = join(packageRoot, 'node_modules/typescript/bin/tsc');
  await execa(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', join(build, 'dist')], { cwd: packageRoot, reject: false });
  if (!existsSync(join(build, 'dist/cli/bin.js'))) throw new Error(`the private build in ${build} has no dist/cli/bin.js`);
  return { bin: join(build, 'bin/virtbench.js'), remove: () => rm(build, { recursive: true, force: true }) };
}
