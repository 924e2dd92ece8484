import { resolve } from 'node:path';
import { appendHistory, DEFAULT_KEEP, historyBaseline, historyEntry, readHistory, shortCommit } from '../../results/history.js';
import { readResults } from '../../results/results-file.js';
import { ownEntry } from '../../host/name-keys.js';
import { printable } from '../../host/printable.js';
import { DEFAULT_RESULTS, usageError, writeOut, type CliCommand, type CliIo, type OptionValues } from '../options.js';

const USAGE = `  virtbench history append [results.json] --commit <sha>   record a main-branch run in the history store
      --ref main               the branch it ran on (default main)
      --keep 500               runs the store keeps; the oldest go
  virtbench history show                          the recorded runs, oldest first
  virtbench history baseline [-o file]            the last runs pooled into one results file, for \`virtbench compare <file>\`
      --window 10              how many of the newest runs (default 10)
      --profile <name>         only runs of this profile (default: the newest run's)
      --host <hostname>        only runs on this host
      --store <file>           the store (default $VIRTBENCH_HISTORY, else .virtbench/history.jsonl)`;

const DEFAULT_WINDOW = 10;
const DEFAULT_OUTPUT = 'virtbench-report/history-baseline.json';

/** Which options each action reads; any other is a mistake worth saying. */
const ACTION_OPTIONS: Record<string, readonly string[]> = {
  append: ['store', 'commit', 'ref', 'keep'],
  show: ['store'],
  baseline: ['store', 'window', 'profile', 'host', 'output'],
};

export function historyStore(env: NodeJS.ProcessEnv): string {
  return resolve(env.VIRTBENCH_HISTORY || '.virtbench/history.jsonl');
}

function count(values: OptionValues, name: string, fallback: number): number {
  const text = values[name] as string | undefined;
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!/^\d+$/.test(text) || value < 1)
    throw usageError(`--${name} must be a whole number of runs, 1 or more, got "${text}"\nfix: e.g. --${name} ${fallback}`);
  return value;
}

const warnTo = (io: CliIo) => (message: string) => io.log(`warning: ${message}`);

async function append(values: OptionValues, positionals: string[], io: CliIo, store: string): Promise<number> {
  const [results = DEFAULT_RESULTS, ...extra] = positionals;
  if (extra.length > 0) throw usageError(`history append takes one results file, got ${positionals.length}`, USAGE);
  // The CLI reads files and starts nothing (README, "Architecture"), so it does not ask git: CI knows the commit.
  const commit = values.commit as string | undefined;
  if (!commit)
    throw usageError('history append needs the commit the results are of\nfix: --commit "$(git rev-parse HEAD)" (or $GITHUB_SHA in CI)');
  if (!/^[0-9a-f]{7,64}$/i.test(commit))
    throw usageError(`--commit "${commit}" is not a commit hash\nfix: --commit "$(git rev-parse HEAD)"`);
  const ref = (values.ref as string | undefined) ?? 'main';
  if (ref.trim() === '') throw usageError('--ref is empty\nfix: --ref main');
  const keep = count(values, 'keep', DEFAULT_KEEP);

  const file = await readResults(results);
  const outcome = await appendHistory(store, historyEntry(file, { commit, ref }), { keep, warn: warnTo(io) });
  if (!outcome.appended) {
    io.log(`${results} (${shortCommit(commit)}, ${file.createdAt}) is already recorded in ${store}; nothing appended`);
    return 0;
  }
  const dropped = outcome.dropped > 0 ? `, dropped the oldest ${outcome.dropped}` : '';
  io.log(`recorded ${shortCommit(commit)} on ${ref} (${file.results.length} results) in ${store}: ${outcome.kept} runs${dropped}`);
  return 0;
}

async function show(io: CliIo, store: string): Promise<number> {
  const entries = await readHistory(store, { warn: warnTo(io) });
  if (entries.length === 0) {
    io.log(`no runs recorded in ${store}`);
    return 0;
  }
  for (const e of entries) {
    const date = e.createdAt.replace('T', ' ').slice(0, 16);
    io.log(printable(`${date}  ${shortCommit(e.commit).padEnd(7)}  ${e.ref}  ${e.profile}  ${e.results.length} results`));
  }
  io.log(`${entries.length} runs in ${store}`);
  return 0;
}

async function baseline(values: OptionValues, io: CliIo, store: string): Promise<number> {
  const window = count(values, 'window', DEFAULT_WINDOW);
  const entries = await readHistory(store, { warn: warnTo(io) });
  if (entries.length === 0) {
    throw usageError(
      `no runs recorded in ${store}\nfix: record main-branch runs with \`virtbench history append <results.json> --commit <sha>\``,
    );
  }
  const file = historyBaseline(entries, {
    window,
    profile: values.profile as string | undefined,
    host: values.host as string | undefined,
  });
  const output = (values.output as string | undefined) ?? DEFAULT_OUTPUT;
  await writeOut(output, JSON.stringify(file, null, 2) + '\n');
  io.log(`wrote ${output}: ${file.results.length} results pooled from ${file.environment.host.historyWindow} (${file.profile} profile)`);
  return 0;
}

export const historyCommand: CliCommand = {
  name: 'history',
  usage: USAGE,
  options: {
    store: { type: 'string' },
    commit: { type: 'string' },
    ref: { type: 'string' },
    keep: { type: 'string' },
    window: { type: 'string' },
    profile: { type: 'string' },
    host: { type: 'string' },
    output: { type: 'string', short: 'o' },
  },
  async run(values, positionals, io) {
    const [action, ...rest] = positionals;
    const allowed = action === undefined ? undefined : ownEntry(ACTION_OPTIONS, action);
    if (!allowed) throw usageError(action ? `unknown history action "${action}"` : 'history needs an action', USAGE);
    const misplaced = Object.keys(values).filter((name) => values[name] !== undefined && !allowed.includes(name));
    if (misplaced.length > 0) throw usageError(`history ${action} takes no ${misplaced.map((n) => `--${n}`).join(', ')}`, USAGE);
    if (action !== 'append' && rest.length > 0) throw usageError(`history ${action} takes no file argument (got ${rest.join(' ')})`, USAGE);

    const store = values.store ? resolve(values.store as string) : historyStore(io.env);
    if (action === 'append') return append(values, rest, io, store);
    if (action === 'show') return show(io, store);
    return baseline(values, io, store);
  },
};
