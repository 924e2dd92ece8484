import { isStandIn, type BenchmarkResult, type Question, type ResultsFile } from '../results/schema.js';
import { baselinePlatform, tablePlatforms } from './ordering.js';
import type { RatioEstimate } from '../results/statistics.js';
import { formatPercent, formatRatioWithCi, formatValue, ratioToBaseline } from './table.js';

/*
 * Findings answer the questions the run's platforms pose, one sentence each,
 * from the measured figures and their 95 % intervals: a difference the noise
 * explains is said to be none this machine can resolve, and a stand-in (a
 * figure not measured on its platform) is said to be not measured. Platforms
 * without a question of their own are compared with the baseline platform.
 */

/** The questions of the file, or else: what each platform costs against the baseline, on every benchmark. */
export function questionsOf(file: Pick<ResultsFile, 'results' | 'questions'>): Question[] {
  if (file.questions && file.questions.length > 0) return file.questions;
  const platforms = tablePlatforms(file.results);
  const baseline = baselinePlatform(platforms);
  const benchmarks = [...new Set(file.results.map((r) => r.benchmark))];
  return platforms
    .filter((p) => p !== baseline)
    .map((platform) => ({
      question: `What does ${platform} cost against ${baseline}?`,
      comparisons: [{ platform, against: baseline!, benchmarks }],
    }));
}

/** How far the 95 % interval reaches from 1: differences smaller than this, this machine cannot tell apart. */
export function resolution(estimate: RatioEstimate): number {
  return Math.max(Math.abs(1 - estimate.ci95[0]), Math.abs(estimate.ci95[1] - 1));
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

function answer(result: BenchmarkResult, against: BenchmarkResult, aa: boolean): string | undefined {
  const estimate = ratioToBaseline(result, against);
  if (!estimate) return undefined;
  if (aa)
    return `${result.benchmark} ±${formatPercent(resolution(estimate))} (${result.platform} ${formatRatioWithCi(estimate)} ${against.platform})`;
  const figures = `${result.platform} ${formatValue(result.summary!.median)}, ${against.platform} ${formatValue(against.summary!.median)} ${result.unit}`;
  const ratio = `${result.platform} ${formatRatioWithCi(estimate)} ${against.platform}`;
  return estimate.resolved
    ? `${result.benchmark}: ${ratio} (${figures}; ${result.better} is better)`
    : `${result.benchmark}: no difference this machine can resolve (${ratio}; ${figures})`;
}

/** One line per question that the figures can answer: the question, then each comparison's answer. */
export function findings(file: Pick<ResultsFile, 'results' | 'questions'>): string[] {
  const find = (platform: string, benchmark: string) => file.results.find((r) => r.platform === platform && r.benchmark === benchmark);
  const lines: string[] = [];
  for (const { question, comparisons, aa } of questionsOf(file)) {
    const answers = comparisons.flatMap(({ platform, against, benchmarks }) => {
      const measured: string[] = [];
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
      return [...measured, ...[...unmeasured].map(([why, names]) => `${names.join(', ')}: ${why}`)];
    });
    if (answers.length > 0) lines.push(`${question} ${answers.join('; ')}.`);
  }
  return lines;
}
