import { withSummary } from '../results/results-file.js';
import type { BenchmarkResult, ResultsFile } from '../results/schema.js';

export interface SideFacts {
  side: 'base' | 'head';
  /** What the user named: a ref, or "working tree". */
  ref: string;
  /** The commit measured (for the working tree: HEAD, plus its changes). */
  commit: string;
}

const key = (r: Pick<BenchmarkResult, 'platform' | 'benchmark'>) => `${r.platform}\u0000${r.benchmark}`;

/** The pair of a paired run's sample: its run and its turnstile round, as one number. */
export const pairId = (run: number, turn: number) => run * 1_000_000 + turn;

/**
 * The runs of one side of an A/B as one results file: every sample tagged
 * with its run (`extra.run`, the A/B round), so the comparison sees how far
 * runs of the same code differ. Rounds of the turnstile inside a run (the
 * cross-platform pairing) are renumbered so that no two runs share one.
 * A benchmark that failed in any run is failed; one skipped in every run is skipped.
 *
 * Paired runs (both sides at once, at one turnstile) also tag each sample with its pair
 * (`extra.pair`: run and turnstile round), which the other side's sample of that round shares.
 */
export function poolRuns(
  runs: readonly { round: number; file: ResultsFile }[],
  facts: SideFacts,
  options: { paired?: boolean } = {},
): ResultsFile {
  if (runs.length === 0) throw new RangeError('no runs to pool');
  const pooled = new Map<string, BenchmarkResult>();
  let roundOffset = 0;
  for (const { round, file } of runs) {
    let lastTurn = 0;
    for (const result of file.results) {
      const samples = result.samples.map((s) => {
        const turn = typeof s.extra.round === 'number' ? s.extra.round : undefined;
        if (turn !== undefined) lastTurn = Math.max(lastTurn, turn);
        const pair: Record<string, number> = options.paired && turn !== undefined ? { pair: pairId(round, turn) } : {};
        return { ...s, extra: { ...s.extra, run: round, ...(turn !== undefined ? { round: roundOffset + turn } : {}), ...pair } };
      });
      const earlier = pooled.get(key(result));
      if (!earlier) {
        pooled.set(key(result), { ...result, samples });
        continue;
      }
      const failed = earlier.status === 'failed' ? earlier : result.status === 'failed' ? result : undefined;
      const status = failed ? 'failed' : earlier.status === 'passed' || result.status === 'passed' ? 'passed' : 'skipped';
      // Measured in some round: no longer another platform's figure (standIn) or a skip, whatever the earlier rounds were.
      const { standIn: _standIn, skipReason: _skipReason, ...measured } = earlier;
      pooled.set(key(result), {
        ...(status === 'skipped' ? earlier : measured),
        status,
        ...(failed?.error ? { error: `round ${failed === result ? round : 'earlier'}: ${failed.error}` } : {}),
        samples: [...earlier.samples, ...samples],
      });
    }
    roundOffset += lastTurn;
  }
  const first = runs[0]!.file;
  return {
    ...first,
    createdAt: runs.at(-1)!.file.createdAt,
    environment: {
      ...first.environment,
      host: { ...first.environment.host, abSide: facts.side, abRef: facts.ref, abCommit: facts.commit, abRuns: runs.length },
    },
    results: [...pooled.values()].map(({ summary: _old, ...result }) => withSummary(result)),
  };
}
