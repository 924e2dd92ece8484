import { existsSync } from 'node:fs';
import { readFile, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { BadOptionError } from '../errors.js';

/*
 * Each side of an A/B is measured from its own checkout: a detached git
 * worktree of the ref, so the user's working tree is never touched. Git runs
 * with argv arrays (a ref is data, never shell text).
 */

async function git(cwd: string, args: string[]): Promise<string> {
  const result = await execa('git', args, { cwd, reject: false });
  if (result.exitCode !== 0) {
    throw new BadOptionError(
      `git ${args.join(' ')} failed (exit ${result.exitCode}): ${result.stderr.trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  return result.stdout.trim();
}

/** The top of the git repository that holds dir. */
export async function repositoryRoot(dir: string): Promise<string> {
  try {
    return await git(dir, ['rev-parse', '--show-toplevel']);
  } catch {
    throw new BadOptionError(
      `${dir} is not inside a git repository; fix: run virtbench ab from the checkout of the project whose benchmarks it compares`,
    );
  }
}

/** The commit a ref names; a ref that names none is the user's to fix. */
export async function resolveCommit(root: string, ref: string): Promise<string> {
  if (ref.startsWith('-')) throw new BadOptionError(`"${ref}" is not a git ref`);
  try {
    return await git(root, ['rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`]);
  } catch {
    throw new BadOptionError(
      `git ref "${ref}" names no commit in ${root}; fix: fetch it first (git fetch origin ${ref}) or name a branch, tag or sha`,
    );
  }
}

export async function addWorktree(root: string, path: string, commit: string): Promise<void> {
  await git(root, ['worktree', 'add', '--detach', '--quiet', path, commit]);
}

/** Removes the worktree and git's record of it; safe to call for one that was never made. */
export async function removeWorktree(root: string, path: string): Promise<void> {
  await execa('git', ['worktree', 'remove', '--force', path], { cwd: root, reject: false });
  await execa('git', ['worktree', 'prune'], { cwd: root, reject: false });
}

/**
 * The worktree gets the dependencies it declares: the checkout's own
 * node_modules when both lock files are the same bytes (no install, nothing to
 * download), else a clean `npm ci` in the worktree.
 */
export async function installDependencies(root: string, worktree: string, log: (line: string) => void): Promise<'linked' | 'installed'> {
  const lock = (dir: string) => readFile(join(dir, 'package-lock.json'), 'utf8').catch(() => undefined);
  const [ours, theirs] = await Promise.all([lock(root), lock(worktree)]);
  if (ours !== undefined && ours === theirs && existsSync(join(root, 'node_modules'))) {
    await symlink(join(root, 'node_modules'), join(worktree, 'node_modules'), 'dir');
    return 'linked';
  }
  log(`its package-lock.json differs from the working tree's: npm ci in ${worktree}`);
  const result = await execa('npm', ['ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: worktree, reject: false, all: true });
  if (result.exitCode !== 0) {
    throw new BadOptionError(
      `npm ci in the worktree of ${worktree} failed (exit ${result.exitCode}): ${String(result.all).trim().split('\n').slice(-5).join('\n')}`,
    );
  }
  return 'installed';
}
