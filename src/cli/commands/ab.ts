import { resolve } from 'node:path';
import { runAb } from '../../ab/run-ab.js';
import { compareResults, pairsTooFew } from '../../reporters/compare.js';
import { renderMarkdown, renderPrComment } from '../../reporters/markdown.js';
import { renderBaselineComparison } from '../../reporters/table.js';
import { allowMissingOption, logGateVerdict } from './compare.js';
import { compareOptions, THRESHOLD_OPTIONS, usageError, writeOut, type CliCommand } from '../options.js';

const USAGE = `  virtbench ab <base-ref> [<head-ref>]            measure base and head on this machine in turns, then compare
      --rounds 2               runs per side (at least 2); each round runs base and head at the same time, their
                               samples taken in turns (paired), or, for a virtbench too old for that, one after the other
      --runs 6                 runs per benchmark in each run (VIRTBENCH_RUNS): 2 rounds of 6 give 12 pairs a benchmark
      --sequential             base and head one after the other (base head base head), never at the same time
      --project <name>         a platform to run (repeatable; default: the config's)
      --profile quick          the profile of every run (default: VIRTBENCH_PROFILE or the config's)
      --filter <text>          only bench files whose name holds this (repeatable), as \`vitest bench <text>\`
      --out virtbench-ab       where the runs, base.json, head.json, comparison.json and comment.md go
      --threshold, --fail-threshold, --allow-missing   as for compare
      head defaults to the working tree, uncommitted changes included`;

export const abCommand: CliCommand = {
  name: 'ab',
  usage: USAGE,
  options: {
    ...THRESHOLD_OPTIONS,
    rounds: { type: 'string', default: '2' },
    runs: { type: 'string', default: '6' },
    sequential: { type: 'boolean' },
    project: { type: 'string', multiple: true },
    profile: { type: 'string' },
    out: { type: 'string', default: 'virtbench-ab' },
    filter: { type: 'string', multiple: true },
    'allow-missing': { type: 'string', multiple: true },
  },
  optionalValues: ['allow-missing'],
  async run(values, positionals, io) {
    const [baseRef, headRef, ...extra] = positionals;
    if (!baseRef || extra.length > 0) throw usageError('usage: virtbench ab <base-ref> [<head-ref>]', USAGE);
    const rounds = Number(values.rounds);
    const runsPerBenchmark = Number(values.runs);
    if (!Number.isInteger(runsPerBenchmark) || runsPerBenchmark < 1 || runsPerBenchmark > 10_000) {
      throw usageError(`--runs must be a whole number from 1 to 10000, got "${String(values.runs)}"`, USAGE);
    }
    // Bad thresholds are refused before anything runs.
    const options = { ...compareOptions(values), allowMissing: allowMissingOption(values) };
    const outDir = resolve(values.out as string);

    // Ctrl-C or a cancelled CI job: stop the current run (vitest stops its platforms), then remove the worktrees.
    const interrupt = new AbortController();
    // Not once: a second signal (npx forwards its own; an impatient Ctrl-C) must not kill us before the worktrees go.
    const onSignal = () => interrupt.abort();
    process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
    let sides;
    try {
      sides = await runAb({
        cwd: process.cwd(),
        baseRef,
        headRef,
        rounds,
        runsPerBenchmark,
        paired: !values.sequential,
        projects: (values.project as string[] | undefined) ?? [],
        filters: (values.filter as string[] | undefined) ?? [],
        profile: values.profile as string | undefined,
        outDir,
        env: io.env,
        log: io.log,
        signal: interrupt.signal,
      });
    } catch (error) {
      if (!interrupt.signal.aborted) throw error;
      io.log(`virtbench ab: interrupted; worktrees removed, the runs measured so far are in ${outDir}/runs`);
      return 130;
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }

    const comparisons = compareResults(sides.base, sides.head, options);
    const json = (data: unknown) => JSON.stringify(data, null, 2) + '\n';
    await writeOut(resolve(outDir, 'base.json'), json(sides.base));
    await writeOut(resolve(outDir, 'head.json'), json(sides.head));
    await writeOut(resolve(outDir, 'comparison.json'), json(comparisons));
    await writeOut(resolve(outDir, 'comment.md'), renderPrComment(sides.head, comparisons));
    await writeOut(resolve(outDir, 'summary.md'), renderMarkdown(sides.head, comparisons));

    const how = sides.paired ? 'each run beside the other, samples paired' : 'one after the other';
    io.log(`virtbench ab: ${sides.head.environment.host.abRef} against ${baseRef}, ${rounds} runs each, ${how}`);
    for (const line of renderBaselineComparison(comparisons)) io.log(line);
    const short = pairsTooFew(comparisons, options.pairedAlpha);
    if (short) io.log(`virtbench ab: warning: ${short}`);
    io.log(`virtbench ab: files in ${outDir}`);
    return logGateVerdict(comparisons, sides.base, options.allowMissing, io);
  },
};
