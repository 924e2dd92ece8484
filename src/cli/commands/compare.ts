import { resolveBaseline } from '../../results/baselines.js';
import {
  allowsMissing,
  compareResults,
  gateFailures,
  gateFails,
  unjudgedRows,
  type Comparison,
  type CompareOptions,
} from '../../statistics/compare.js';
import { renderMarkdown, renderPrComment } from '../../reporters/markdown.js';
import { renderBaselineComparison } from '../../reporters/table.js';
import { printable } from '../../host/printable.js';
import { readResults } from '../../results/results-file.js';
import type { ResultsFile } from '../../results/schema.js';
import {
  compareOptions,
  DEFAULT_RESULTS,
  refuseOverwrite,
  JUDGEMENT_USAGE,
  THRESHOLD_OPTIONS,
  usageError,
  writeOut,
  type CliCommand,
  type CliIo,
  type OptionValues,
} from '../options.js';

/** `--allow-missing` alone allows every missing figure (it arrives as ""); with values, the platforms and benchmarks they name. */
export function allowMissingOption(values: OptionValues): CompareOptions['allowMissing'] {
  const given = (values['allow-missing'] as string[] | undefined) ?? [];
  if (given.length === 0) return undefined;
  if (given.includes('')) return true;
  // `compare main --allow-missing new.json` hands the results file to the option: comparing the default file instead would mislead.
  const file = given.find((entry) => entry.endsWith('.json'));
  if (file) {
    throw usageError(
      `--allow-missing took "${file}" as a platform or benchmark: put the files first (virtbench compare main ${file} --allow-missing)`,
    );
  }
  return given;
}

/** Entries that name nothing the baseline measured: a typo, or a platform that has left the baseline too. */
function unmatched(allowMissing: CompareOptions['allowMissing'], baseline: ResultsFile): string[] {
  if (!Array.isArray(allowMissing)) return [];
  return allowMissing.filter((entry) => !baseline.results.some((r) => allowsMissing([entry], r.platform, r.benchmark)));
}

/** Prints what was allowed and why the gate fails, if it does; returns the exit code (0 passes, 1 fails). */
export function logGateVerdict(
  comparisons: readonly Comparison[],
  baseline: ResultsFile,
  allowMissing: CompareOptions['allowMissing'],
  io: CliIo,
): number {
  for (const entry of unmatched(allowMissing, baseline)) {
    io.log(`virtbench: --allow-missing ${entry} names no platform or benchmark of the baseline`);
  }
  const allowed = comparisons.filter((c) => c.allowed).map((c) => `${c.platform}/${c.benchmark}`);
  // Names from the results files: printable, so none starts a line of its own (a workflow command in a CI log).
  if (allowed.length > 0) io.log(printable(`virtbench: allowed to be missing: ${allowed.join(', ')}`));
  const count = (verdict: Comparison['verdict']) => comparisons.filter((c) => c.verdict === verdict).length;
  io.log(
    `virtbench: ${(['regressed', 'improved', 'equivalent', 'undecided'] as const).map((v) => `${count(v)} ${v}`).join(', ')}` +
      (count('not comparable') > 0 ? `, ${count('not comparable')} not comparable` : ''),
  );
  if (gateFails(comparisons)) {
    io.log('virtbench: the gate fails:');
    for (const cause of gateFailures(comparisons)) io.log(printable(`  - ${cause}`));
    return 1;
  }
  const unjudged = unjudgedRows(comparisons);
  if (unjudged.length > 0) {
    // Passing them would pass any regression; failing them would blame the code for the method.
    io.log(
      `virtbench: cannot gate: ${unjudged.length} row${unjudged.length === 1 ? ' has' : 's have'} one run a side, so how far runs differ is unknown`,
    );
    io.log(
      '  fix: measure both sides paired with `virtbench ab <base-ref>`, compare with a pooled baseline (`virtbench history baseline`), ' +
        'or state the run-to-run spread with --noise-floor 3% (measure it with an A/A: VIRTBENCH_AA=native npx vitest bench)',
    );
    return 2;
  }
  io.log('virtbench: no regression beyond the fail threshold, nothing the baseline measured is missing');
  return 0;
}

export const compareCommand: CliCommand = {
  name: 'compare',
  usage: `  virtbench compare <baseline> [results.json]     change per platform and benchmark; exit 1 when the gate fails, 2 when it cannot judge
      --threshold 5%           noise threshold, or per benchmark: --threshold disk-random=10%
      --fail-threshold 10%     a regression beyond this fails (default: the noise threshold)
      --allow-missing [name]   a benchmark the baseline measured may be gone, skipped, without runs or in another
                               unit without failing: all of them, or a platform, a benchmark or platform/benchmark
                               (repeatable); a benchmark that failed always fails
${JUDGEMENT_USAGE}
      --md <file>              also write the comparison as Markdown
      --pr-comment <file>      also write it as a pull-request comment: a marker line first (a workflow finds
                               and updates its comment by it), under GitHub's 65,536-character limit`,
  options: {
    ...THRESHOLD_OPTIONS,
    md: { type: 'string' },
    'pr-comment': { type: 'string' },
    'allow-missing': { type: 'string', multiple: true },
  },
  optionalValues: ['allow-missing'],
  async run(values, positionals, io) {
    const [baselineArg, results = DEFAULT_RESULTS] = positionals;
    if (!baselineArg) throw usageError('usage: virtbench compare <baseline> [results.json]');
    const allowMissing = allowMissingOption(values);
    const baselinePath = await resolveBaseline(baselineArg, io.env);
    const baseline = await readResults(baselinePath);
    const current = await readResults(results);
    const outputs = [values.md, values['pr-comment']].filter((p): p is string => typeof p === 'string' && p !== '');
    await refuseOverwrite(outputs, [baselinePath, results]);
    const comparisons = compareResults(baseline, current, { ...compareOptions(values), allowMissing });
    for (const line of renderBaselineComparison(comparisons)) io.log(line);
    if (values.md) await writeOut(values.md as string, renderMarkdown(current, comparisons));
    if (values['pr-comment']) await writeOut(values['pr-comment'] as string, renderPrComment(current, comparisons));
    return logGateVerdict(comparisons, baseline, allowMissing, io);
  },
};
