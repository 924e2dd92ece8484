import { isStandIn, type BenchmarkResult, type ResultsFile } from '../results/schema.js';
import { questionsOf } from '../results/questions.js';
import { formatPercent, formatReach, formatValue } from '../results/format.js';
import { ratioToBaseline, readingOf, type RatioEstimate, type RatioReading } from '../statistics/ratio.js';
import { formatRatio, formatRatioWithCi } from './table.js';

/*
 * Findings answer the questions the run's platforms pose, one sentence each,
 * from the measured figures and their 95 % intervals, in the table's words: a
 * difference, the same within the margin, or cannot tell (how far the interval
 * reaches), never "no difference" for what was not shown; a stand-in (a
 * figure not measured on its platform) is said to be not measured. Platforms
 * without a question of their own are compared with the baseline platform.
 */

// Its home was this module: importers of it here keep working.
export { questionsOf };

/** How far the 95 % interval reaches from 1 (differences smaller than this, this run cannot tell apart); undefined without an interval. */
export function resolution(estimate: RatioEstimate): number | undefined {
  return estimate.resolution;
}

/**
 * "not measured on qemu-tcg-ide (qemu-tcg's figure stands in), ..." when either side is a stand-in: a
 * difference to it would compare a platform with another's figure, or with its own under another name.
 */
function notMeasured(result: BenchmarkResult, against: BenchmarkResult): string | undefined {
  const standIns = [result, against].filter((r) => isStandIn(r));
  if (standIns.length === 0) return undefined;
  const where = standIns.map((r) => `${r.platform} (${r.standIn}'s figure stands in)`).join(' nor on ');
  return `not measured on ${where}, so no difference to state`;
}

/** One answer: its verdict in a few words first ("slower: 0.03x"), where it has one, then the sentence. */
export interface Answer {
  /** Where the answer is a ratio's verdict (not an A/A's resolution, not "not measured"). */
  verdict?: { reading: RatioReading; words: string };
  text: string;
}

export interface Finding {
  question: string;
  answers: Answer[];
}

const READING_WORDS: Record<RatioReading, string> = { faster: 'faster', slower: 'slower', equivalent: 'same', undecided: 'cannot tell' };

/** "slower: 0.03x", "same: ≈1x", "cannot tell: ±23%", "cannot tell: 1 round": the verdict in the table's words. */
export function verdictWords(estimate: RatioEstimate): string {
  const cell = formatRatio(estimate);
  return `${READING_WORDS[readingOf(estimate)]}: ${cell.startsWith('? ') ? cell.slice(2) : cell}`;
}

function answer(result: BenchmarkResult, against: BenchmarkResult, aa: boolean): Answer | undefined {
  const estimate = ratioToBaseline(result, against);
  if (!estimate) return undefined;
  const reach = resolution(estimate);
  if (aa) {
    const width = reach === undefined ? 'no interval' : formatReach(reach);
    return { text: `${result.benchmark} ${width} (${result.platform} ${formatRatioWithCi(estimate)} ${against.platform})` };
  }
  const verdict = { reading: readingOf(estimate), words: verdictWords(estimate) };
  const figures = `${result.platform} ${formatValue(result.summary!.median)}, ${against.platform} ${formatValue(against.summary!.median)} ${result.unit}`;
  const ratio = `${result.platform} ${formatRatioWithCi(estimate)} ${against.platform}`;
  if (estimate.verdict === 'different') return { verdict, text: `${result.benchmark}: ${ratio} (${figures}; ${result.better} is better)` };
  if (estimate.verdict === 'equivalent')
    return { verdict, text: `${result.benchmark}: the same within ±${formatPercent(estimate.margin)} (${ratio}; ${figures})` };
  const why = reach === undefined ? 'one round gives no interval' : `differences within ${formatReach(reach)} are beyond this run`;
  return { verdict, text: `${result.benchmark}: ${why} (${ratio}; ${figures})` };
}

/** Each question that the figures can answer, with each comparison's answer. */
export function findingsOf(file: Pick<ResultsFile, 'results' | 'questions'>): Finding[] {
  const find = (platform: string, benchmark: string) => file.results.find((r) => r.platform === platform && r.benchmark === benchmark);
  const found: Finding[] = [];
  for (const { question, comparisons, aa } of questionsOf(file)) {
    const answers = comparisons.flatMap(({ platform, against, benchmarks }): Answer[] => {
      const measured: Answer[] = [];
      // Benchmarks not measured, by why: "cpu, mem: not measured on ...", once.
      const unmeasured = new Map<string, string[]>();
      for (const benchmark of benchmarks) {
        const result = find(platform, benchmark);
        const base = find(against, benchmark);
        if (!result || !base) continue;
        const why = notMeasured(result, base);
        if (why) unmeasured.set(why, [...(unmeasured.get(why) ?? []), benchmark]);
        const text = why ? undefined : answer(result, base, aa === true);
        if (text) measured.push(text);
      }
      return [...measured, ...[...unmeasured].map(([why, names]) => ({ text: `${names.join(', ')}: ${why}` }))];
    });
    if (answers.length > 0) found.push({ question, answers });
  }
  return found;
}

/** An answer as text: "slower: 0.81x, disk-random: docker 0.81x [0.80, 0.83] native (...)". */
export function answerText(answer: Answer): string {
  return answer.verdict ? `${answer.verdict.words}, ${answer.text}` : answer.text;
}

/** One line per question that the figures can answer: the question, then each comparison's answer. */
export function findings(file: Pick<ResultsFile, 'results' | 'questions'>): string[] {
  return findingsOf(file).map(({ question, answers }) => `${question} ${answers.map(answerText).join('; ')}.`);
}
