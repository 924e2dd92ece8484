import { appendFile, copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { VirtbenchError } from '../errors.js';
import { baselineDir, resolveBaseline, savedBaselines } from '../reporters/baselines.js';
import { compareResults, gateFails, parseThreshold, type CompareOptions } from '../reporters/compare.js';
import { toGithubBenchmark } from '../reporters/export.js';
import { renderHtml } from '../reporters/html.js';
import { renderMarkdown } from '../reporters/markdown.js';
import { mergeResults } from '../reporters/merge.js';
import { readResults } from '../results/results-file.js';
import type { ResultsFile } from '../results/schema.js';
import { renderBaselineComparison } from '../reporters/table.js';

const USAGE = `virtbench: work with virtbench results files (results.json)

  virtbench baseline save <name> [results.json]   keep a results file as a named baseline
  virtbench baseline list                         the saved baselines
  virtbench compare <baseline> [results.json]     change per platform and benchmark; exit 1 on a regression
      --threshold 5%           noise threshold, or per benchmark: --threshold disk-random=10%
      --fail-threshold 10%     a regression beyond this fails (default: the noise threshold)
      --md <file>              also write the comparison as Markdown
  virtbench report [results.json]                 reports from a results file
      --md [file]              GFM report (default virtbench-report/report.md; also to $GITHUB_STEP_SUMMARY)
      --html [file]            self-contained HTML report with charts (default virtbench-report/report.html)
      --github-benchmark <dir> github-action-benchmark files (bigger- and smaller-is-better)
      --baseline <baseline>    include the comparison against a baseline
  virtbench merge <a.json> <b.json>... [-o merged.json]   combine machines or CI shards

<baseline> is a saved name or a path. results.json defaults to virtbench-report/results.json.
Baselines live in $VIRTBENCH_BASELINE_DIR, default .virtbench/baselines.
Exit codes: 0 fine, 1 a regression crossed its fail threshold, 2 bad usage or input.`;

const DEFAULT_RESULTS = 'virtbench-report/results.json';

function usageError(message: string): VirtbenchError {
  return new VirtbenchError('VIRTBENCH_BAD_OPTION', `${message}\n\n${USAGE}`);
}

function compareOptions(values: { threshold?: string[]; 'fail-threshold'?: string[] }): CompareOptions {
  const options: CompareOptions = { thresholds: {}, failThresholds: {} };
  for (const text of values.threshold ?? []) {
    const { benchmark, value } = parseThreshold(text);
    if (benchmark) options.thresholds![benchmark] = value;
    else options.threshold = value;
  }
  for (const text of values['fail-threshold'] ?? []) {
    const { benchmark, value } = parseThreshold(text);
    if (benchmark) options.failThresholds![benchmark] = value;
    else options.failThreshold = value;
  }
  return options;
}

async function writeOut(path: string, text: string): Promise<void> {
  await mkdir(dirname(resolve(path)), { recursive: true });
  await writeFile(path, text);
}

export interface CliIo {
  log: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

const OPTIONAL_VALUE = ['--md', '--html'];

/** `--md` and `--html` take an optional file: a bare one (last, or before another option) gets the default. */
function withOptionalValues(args: string[]): string[] {
  return args.map((arg, i) => (OPTIONAL_VALUE.includes(arg) && (i === args.length - 1 || args[i + 1]!.startsWith('-')) ? `${arg}=` : arg));
}

/** Runs one command; returns the exit code. Errors are printed by the caller. */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: withOptionalValues(rest),
    allowPositionals: true,
    options: {
      threshold: { type: 'string', multiple: true },
      'fail-threshold': { type: 'string', multiple: true },
      md: { type: 'string' },
      html: { type: 'string' },
      'github-benchmark': { type: 'string' },
      baseline: { type: 'string' },
      output: { type: 'string', short: 'o' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (!command || command === 'help' || command === '--help' || command === '-h' || values.help) {
    io.log(USAGE);
    return 0;
  }

  switch (command) {
    case 'baseline': {
      const [action, name, results = DEFAULT_RESULTS] = positionals;
      const dir = baselineDir(io.env);
      if (action === 'list') {
        const saved = await savedBaselines(dir);
        io.log(saved.length ? saved.join('\n') : `no baselines in ${dir}`);
        return 0;
      }
      if (action !== 'save' || !name) throw usageError('usage: virtbench baseline save <name> [results.json]');
      if (!/^[\w.-]+$/.test(name)) throw usageError(`baseline name "${name}" may hold letters, digits, ".", "_" and "-" only`);
      await readResults(results); // refuse to save something that is not a results file
      await mkdir(dir, { recursive: true });
      await copyFile(results, join(dir, `${name}.json`));
      io.log(`saved ${results} as baseline "${name}" (${join(dir, `${name}.json`)})`);
      return 0;
    }
    case 'compare': {
      const [baselineArg, results = DEFAULT_RESULTS] = positionals;
      if (!baselineArg) throw usageError('usage: virtbench compare <baseline> [results.json]');
      const baseline = await readResults(await resolveBaseline(baselineArg, io.env));
      const current = await readResults(results);
      const comparisons = compareResults(baseline, current, compareOptions(values));
      for (const line of renderBaselineComparison(comparisons)) io.log(line);
      if (values.md) await writeOut(values.md, renderMarkdown(current, comparisons));
      const failed = gateFails(comparisons);
      io.log(failed ? 'virtbench: regression beyond the fail threshold' : 'virtbench: no regression beyond the fail threshold');
      return failed ? 1 : 0;
    }
    case 'report': {
      const [results = DEFAULT_RESULTS] = positionals;
      const file = await readResults(results);
      const comparisons = values.baseline
        ? compareResults(await readResults(await resolveBaseline(values.baseline, io.env)), file, compareOptions(values))
        : undefined;
      const reportDir = dirname(resolve(results));
      const wanted = values.md !== undefined || values.html !== undefined || values['github-benchmark'] !== undefined;
      if (!wanted) throw usageError('report needs at least one of --md, --html, --github-benchmark');
      if (values.md !== undefined) {
        const markdown = renderMarkdown(file, comparisons);
        const path = values.md || join(reportDir, 'report.md');
        await writeOut(path, markdown);
        if (io.env.GITHUB_STEP_SUMMARY) await appendFile(io.env.GITHUB_STEP_SUMMARY, markdown);
        io.log(`wrote ${path}${io.env.GITHUB_STEP_SUMMARY ? ' and the job summary' : ''}`);
      }
      if (values.html !== undefined) {
        const path = values.html || join(reportDir, 'report.html');
        await writeOut(path, await renderHtml(file, comparisons));
        io.log(`wrote ${path}`);
      }
      if (values['github-benchmark'] !== undefined) {
        const dir = values['github-benchmark'];
        const { biggerIsBetter, smallerIsBetter } = toGithubBenchmark(file);
        await writeOut(join(dir, 'bigger-is-better.json'), JSON.stringify(biggerIsBetter, null, 2) + '\n');
        await writeOut(join(dir, 'smaller-is-better.json'), JSON.stringify(smallerIsBetter, null, 2) + '\n');
        io.log(`wrote ${dir}/bigger-is-better.json (customBiggerIsBetter) and smaller-is-better.json (customSmallerIsBetter)`);
      }
      return 0;
    }
    case 'merge': {
      if (positionals.length < 2) throw usageError('usage: virtbench merge <a.json> <b.json>... [-o merged.json]');
      const files: { path: string; file: ResultsFile }[] = [];
      for (const path of positionals) files.push({ path, file: await readResults(path) });
      const merged = mergeResults(files);
      const output = values.output ?? 'virtbench-report/merged.json';
      await writeOut(output, JSON.stringify(merged, null, 2) + '\n');
      io.log(`merged ${files.length} files (${merged.results.length} results) into ${output}`);
      return 0;
    }
    default:
      throw usageError(`unknown command "${command}"`);
  }
}
