import { resolve } from 'node:path';
import { runAb } from '../../ab/run-ab.js';
import type { Comparison } from '../../statistics/compare.js';
import { lookCount, openRows, sequentialLook, type SequentialPlan } from '../../statistics/sequential.js';
import { renderMarkdown, renderPrComment } from '../../reporters/markdown.js';
import { renderBaselineComparison } from '../../reporters/table.js';
import { allowMissingOption, logGateVerdict } from './compare.js';
import { compareOptions, JUDGEMENT_USAGE, THRESHOLD_OPTIONS, usageError, writeOut, type CliCommand } from '../options.js';

const USAGE = `  virtbench ab <base-ref> [<head-ref>]            measure base and head on this machine in turns, then compare
      --min-rounds 2           rounds before the first look (at least 2); each round runs base and head at the same
                               time, their samples taken in turns (paired), or, for a virtbench too old for that, one
                               after the other
      --max-rounds 6           rounds are added until every row is regressed, improved or equivalent, or this many;
                               each look spends its share of the error rates, so stopping early costs no guarantee
      --max-minutes 30         no round starts that would likely end after this many minutes
      --rounds N               exactly N rounds, one look at the end (--min-rounds N --max-rounds N)
      --runs 6                 runs per benchmark in each run (VIRTBENCH_RUNS): a round of 6 gives 6 pairs a benchmark
      --sequential             base and head one after the other (base head base head), never at the same time
      --project <name>         a platform to run (repeatable; default: the config's)
      --profile quick          the profile of every run (default: VIRTBENCH_PROFILE or the config's)
      --filter <text>          only bench files whose name holds this (repeatable), as \`vitest bench <text>\`
      --out virtbench-ab       where the runs, base.json, head.json, comparison.json and comment.md go
      --threshold, --fail-threshold, --allow-missing   as for compare
${JUDGEMENT_USAGE}
      head defaults to the working tree, uncommitted changes included`;

/** Rounds at the most by default: a 10 % change under 3 % pair noise is decided well before (docs/statistics.md). */
const DEFAULT_MAX_ROUNDS = 6;

export const abCommand: CliCommand = {
  name: 'ab',
  usage: USAGE,
  options: {
    ...THRESHOLD_OPTIONS,
    rounds: { type: 'string' },
    'min-rounds': { type: 'string', default: '2' },
    'max-rounds': { type: 'string' },
    'max-minutes': { type: 'string', default: '30' },
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
    const fixed = values.rounds === undefined ? undefined : Number(values.rounds);
    if (fixed !== undefined && values['max-rounds'] !== undefined)
      throw usageError('--rounds sets both --min-rounds and --max-rounds: give one or the others', USAGE);
    const minRounds = fixed ?? Number(values['min-rounds']);
    // Without --max-rounds: 6, or a larger --min-rounds.
    const maxRounds =
      fixed ?? (values['max-rounds'] === undefined ? Math.max(DEFAULT_MAX_ROUNDS, minRounds) : Number(values['max-rounds']));
    const plan: SequentialPlan = { minRounds, maxRounds };
    const maxMinutes = Number(values['max-minutes']);
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
    /** What the looks so far decided (see statistics/sequential.ts). */
    let judged: Comparison[] = [];
    try {
      sides = await runAb({
        cwd: process.cwd(),
        baseRef,
        headRef,
        ...plan,
        maxMinutes,
        runsPerBenchmark,
        paired: !values.sequential,
        projects: (values.project as string[] | undefined) ?? [],
        filters: (values.filter as string[] | undefined) ?? [],
        profile: values.profile as string | undefined,
        outDir,
        env: io.env,
        log: io.log,
        signal: interrupt.signal,
        stop: (pooled, round) => {
          const look = sequentialLook(plan, options, pooled.base, pooled.head, round, judged);
          judged = look.comparisons;
          const open = openRows(judged).length;
          io.log(`virtbench ab: after round ${round}: ${open === 0 ? 'every row decided' : `${open} of ${judged.length} rows undecided`}`);
          return look.done;
        },
      });
    } catch (error) {
      if (!interrupt.signal.aborted) throw error;
      io.log(`virtbench ab: interrupted; worktrees removed, the runs measured so far are in ${outDir}/runs`);
      return 130;
    } finally {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    }

    // Every round from minRounds on was looked at, the last one too: its look is the verdict.
    const comparisons = judged;
    const json = (data: unknown) => JSON.stringify(data, null, 2) + '\n';
    await writeOut(resolve(outDir, 'base.json'), json(sides.base));
    await writeOut(resolve(outDir, 'head.json'), json(sides.head));
    await writeOut(resolve(outDir, 'comparison.json'), json(comparisons));
    await writeOut(resolve(outDir, 'comment.md'), renderPrComment(sides.head, comparisons));
    await writeOut(resolve(outDir, 'summary.md'), renderMarkdown(sides.head, comparisons));

    const how = sides.paired ? 'each run beside the other, samples paired' : 'one after the other';
    const why = {
      decided: 'every row decided',
      'max rounds': `--max-rounds ${plan.maxRounds}`,
      'max minutes': `--max-minutes ${maxMinutes}`,
    }[sides.stoppedBecause];
    io.log(
      `virtbench ab: ${sides.head.environment.host.abRef} against ${baseRef}, ${sides.rounds} rounds (stopped: ${why}; ` +
        `${lookCount(plan)} look${lookCount(plan) === 1 ? '' : 's'} planned, each at 1/${lookCount(plan)} of the error rates), ${how}`,
    );
    for (const line of renderBaselineComparison(comparisons)) io.log(line);
    io.log(`virtbench ab: files in ${outDir}`);
    return logGateVerdict(comparisons, sides.base, options.allowMissing, io);
  },
};
