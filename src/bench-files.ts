import { readdirSync } from 'node:fs';
import { extname, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { globSync } from 'tinyglobby';

/*
 * Which bench files a platform's project runs: the project's own (option include), and the suite that
 * ships in the package (each workload's folder under src/workloads/, dist/workloads/ once built) where it
 * has none of its own or asks for it.
 */

/** Whether the shipped suite runs: see VirtbenchOptions.suite. */
export type Suite = 'standard' | 'none';
export const SUITES: readonly Suite[] = ['standard', 'none'];

/** The shipped suite's bench files: src/workloads/<name>/*.bench.ts from src/, dist/workloads/<name>/*.bench.js from the build. */
export function suiteFiles(): string[] {
  const extension = extname(new URL(import.meta.url).pathname);
  const dir = fileURLToPath(new URL('./workloads/', import.meta.url));
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => name.split('/').length === 2 && name.endsWith(`.bench${extension}`))
    .sort()
    .map((name) => dir + name);
}

/**
 * Vitest's exclude without its node_modules entry, when the suite is installed under node_modules: the
 * suite's files would be excluded with everything else there. Only virtbench's own folder is let through.
 */
export function excludeForSuite(exclude: readonly string[], files: readonly string[], root: string): string[] {
  if (!files.some((file) => relative(root, file).split('/').includes('node_modules'))) return [...exclude];
  return exclude.map((pattern) => (pattern === '**/node_modules/**' ? '**/node_modules/!(virtbench|.pnpm)/**' : pattern));
}

/** A platform project's bench files: the project's own, and the shipped suite's where it runs. */
export interface BenchFiles {
  include: string[];
  exclude: string[];
}

/** The bench files of every platform project: the user's include, plus the suite when it runs. */
export function benchFiles(options: { include: string[]; suite?: Suite }, root: string, exclude: readonly string[]): BenchFiles {
  // Decided once per config: does the project have bench files of its own?
  const suite = options.suite ?? (globSync(options.include, { cwd: root, ignore: [...exclude] }).length > 0 ? 'none' : 'standard');
  if (suite === 'none') return { include: options.include, exclude: [...exclude] };
  const files = suiteFiles();
  return { include: [...options.include, ...files], exclude: excludeForSuite(exclude, files, root) };
}

/**
 * Projects of the user's other than the platforms' (unit tests...) get no bench variant's files: a bench
 * file needs a platform's project (its fixture), and `vitest bench` would otherwise run them there too.
 */
export function withoutBenchFiles(project: unknown): unknown {
  if (typeof project !== 'object' || project === null || !('test' in project)) return project;
  const test = (project as { test?: { benchmark?: { include?: unknown } } }).test;
  if (!test || test.benchmark?.include !== undefined) return project;
  return { ...project, test: { ...test, benchmark: { ...test.benchmark, include: [] } } };
}
