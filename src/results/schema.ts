import type { Summary } from './statistics.js';

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
  /** Whether the page cache could be flushed before each run. */
  cachesFlushed?: boolean;
  /** Every run that finished, also those before a failure. */
  samples: Sample[];
  summary?: Summary;
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

export interface ResultsFile {
  schema: typeof RESULTS_SCHEMA;
  createdAt: string;
  profile: string;
  environment: {
    host: Record<string, string | number>;
    platforms: Record<string, EnvironmentFacts>;
  };
  results: BenchmarkResult[];
  /** The questions the platforms of the run pose (optional: files from older runs have none). */
  questions?: Question[];
}
