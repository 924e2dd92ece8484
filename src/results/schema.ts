import type { Summary } from '../statistics/descriptive.js';

/*
 * The results schema, owned by the results side: what a benchmark records
 * while it runs, and what results.json holds. The harness writes these
 * records, the reporters and the CLI read them; neither knows the other.
 */

/** Bumped whenever a field changes meaning or disappears; readers reject other versions. */
export const RESULTS_SCHEMA = 'virtbench.results/v1';

/** Whether a larger or a smaller figure is the better one. */
export type Better = 'higher' | 'lower';

export interface Sample {
  /** Unix time in seconds when the run finished. */
  time: number;
  value: number;
  /** Time the workload measured itself, seconds. */
  seconds: number;
  extra: Record<string, string | number>;
}

/** Facts about a platform or the host: engine versions, kernel, accelerator, storage... */
export type EnvironmentFacts = Record<string, string | number | boolean>;

export type ResultStatus = 'passed' | 'failed' | 'skipped';

export interface BenchmarkResult {
  platform: string;
  benchmark: string;
  title: string;
  unit: string;
  better: Better;
  variant?: string;
  status: ResultStatus;
  /** Why it failed: the workload's command, exit code and stderr tail. */
  error?: string;
  skipReason?: string;
  /**
   * Not measured on this platform by design (a variant measures only the benchmarks it varies): the
   * platform whose figure stands in, e.g. "qemu-tcg" for qemu-tcg-ide's cpu. Such a result is skipped,
   * without samples; readers show that platform's figure marked as such, never as this platform's.
   */
  standIn?: string;
  /** Whether the page cache could be flushed before each run. */
  cachesFlushed?: boolean;
  /**
   * Where this benchmark's wall time went on the host, in seconds: connecting to the platform,
   * preparing the workload (build, copy in, served files), the cache flushes, the runs themselves
   * (the measured samples), freezing and thawing the platform around its turns (quiet turns), and
   * cleaning up. Waits for other platforms' turns are in none of them.
   */
  phases?: Partial<Record<Phase, number>>;
  /** Every run that finished, also those before a failure. */
  samples: Sample[];
  summary?: Summary;
  /**
   * Why this platform took no more rounds of this benchmark, when the run added rounds until its
   * comparisons were decided (absent: a fixed count of runs). 'decided': every comparison it is part
   * of reached the run's precision; 'budget': the run's time budget was spent; 'max-rounds': it took
   * the most rounds allowed; 'partner-gone': the platforms it is compared with stopped (failed).
   */
  stoppedBy?: StopReason;
}

export const STOP_REASONS = ['decided', 'budget', 'max-rounds', 'partner-gone'] as const;
export type StopReason = (typeof STOP_REASONS)[number];

export type Phase = 'connect' | 'prepare' | 'flush' | 'run' | 'quiet' | 'cleanup';

/** A result that shows another platform's figure (see standIn): it holds no figure of its own platform. */
export function isStandIn<T extends Pick<BenchmarkResult, 'status' | 'standIn'>>(result: T): result is T & { standIn: string } {
  // Only a skipped result: a measured one that carries the field (pooled with a stand-in of another run) is a measurement.
  return result.status === 'skipped' && typeof result.standIn === 'string';
}

/**
 * A benchmark as its worker records it while it runs: a result without the
 * verdict (the reporter reads that from the test's outcome), plus the
 * platform's facts for the environment section.
 */
export type BenchmarkRecord = Omit<BenchmarkResult, 'status' | 'error' | 'summary'> & {
  profile: string;
  platformInfo?: EnvironmentFacts;
};

/**
 * A question the report answers by comparing platforms (the seed's: does
 * Docker cost CPU or memory? where does copy-on-write cost?...). The
 * platforms that pose them declare them; the report answers from the figures.
 */
export interface Question {
  question: string;
  /** An A/A question: the same platform under two names; the answer is the resolution, not a difference. */
  aa?: boolean;
  /** Each: `platform` against `against`, on these benchmarks. */
  comparisons: { platform: string; against: string; benchmarks: string[] }[];
}

/** What a ratio's 95 % interval lets one say (src/statistics/ratio.ts decides it). */
export type CellVerdict = 'different' | 'equivalent' | 'undecided';

/** One comparison of the findings on one benchmark, and how far its interval reached (src/statistics/resolution.ts). */
export interface ComparisonResolution {
  platform: string;
  against: string;
  /** The performance ratio (> 1: `platform` is better). */
  ratio?: number;
  /** The interval ratioToBaseline gives: 95 %, or 98 % where rounds were added until decided (its level). */
  ci95?: [number, number];
  /** Relative half-width of that interval, (hi - lo) / (2 * ratio); absent without an interval (one round). */
  halfWidth?: number;
  verdict: CellVerdict;
  /** halfWidth within the run's target, or shown the same (equivalent). */
  decided: boolean;
}

/** What a run resolved on one benchmark (src/statistics/resolution.ts). */
export interface BenchmarkResolution {
  benchmark: string;
  /** The largest relative half-width of the 95 % ratio intervals among the comparisons (the smallest difference this run can tell apart on this benchmark, for all of them); undefined when none has an interval. */
  halfWidth?: number;
  comparisons: ComparisonResolution[];
  /** Wall time of the benchmark's sampling, seconds: from the start of its first sample (time - seconds) to the end of its last, over all platforms. */
  seconds: number;
  /** The most rounds any platform took of it. */
  rounds: number;
}

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  createdAt: string;
  profile: string;
  environment: {
    /**
     * The machine's facts, and the run's: roundOrder ("random") and roundSeed, the seed of the order of
     * turns in each round (files of older runs, whose rounds rotated, have neither).
     */
    host: Record<string, string | number>;
    platforms: Record<string, EnvironmentFacts>;
  };
  results: BenchmarkResult[];
  /** The questions the platforms of the run pose (optional: files from older runs have none). */
  questions?: Question[];
  /**
   * What the run resolved, per benchmark (optional: files from older runs and merged files have none).
   * Derived from the samples: a reader computes it again rather than trust the file, as it does the summaries.
   */
  resolution?: BenchmarkResolution[];
}
