import type { Question, ResultsFile } from './schema.js';
import { baselinePlatform, tablePlatforms } from './ordering.js';

/*
 * The comparisons a run's findings make: the questions its platforms pose, or else each platform
 * against the baseline. Here, below the reporters, because what a run resolved
 * (src/statistics/resolution.ts) is stated for the same comparisons the findings answer.
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
