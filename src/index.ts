// The config-side entry: importable from vitest.config.ts. Bench files import `test` from "virtbench/bench".
export { virtbench, resolveOptions, type VirtbenchOptions, type ResolvedOptions } from './plugin.js';
export { VirtbenchError, WorkloadFailedError, BadOutputError, type VirtbenchErrorCode } from './errors.js';
export { VirtbenchReporter } from './reporters/virtbench-reporter.js';
export { readResults, writeResults, RESULTS_SCHEMA, type ResultsFile, type BenchmarkResult } from './results/results-file.js';
export { summarize, performanceRatio, type Summary } from './results/statistics.js';
export { workloads, type Workload, type WorkloadName } from './harness/workloads.js';
export { PROFILES, type Profile, type ProfileName } from './harness/profiles.js';
export type { Platform, StartedPlatform, ExecResult, Provisioned, ConnectionFacts } from './harness/platform.js';
