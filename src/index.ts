// The config-side entry: importable from vitest.config.ts and from bench files that describe their own
// workloads. Bench files import `test` from "virtbench/bench".
export { virtbench, resolveOptions, type VirtbenchOptions, type ResolvedOptions, type Fraction } from './plugin.js';
export type { Suite } from './bench-files.js';
export {
  VirtbenchError,
  CommandFailedError,
  WorkloadFailedError,
  BadOutputError,
  isVirtbenchError,
  type VirtbenchErrorCode,
} from './errors.js';
export { VirtbenchReporter } from './reporters/virtbench-reporter.js';
export { readResults, writeResults } from './results/results-file.js';
export { RESULTS_SCHEMA, type ResultsFile, type BenchmarkResult, type Sample, type Better } from './results/schema.js';
export { summarize, performanceRatio, type Summary } from './statistics/descriptive.js';
export {
  commandWorkload,
  workloads,
  WORKLOAD_NAMES,
  type Workload,
  type WorkloadName,
  type CommandWorkload,
  type CommandWorkloadInput,
  type ServedWorkload,
  type ServedContext,
  type MeasureContext,
  type Tool,
} from './workloads/index.js';
export { parseResultLine, parseFioJson, type Figure } from './workloads/figure.js';
export { PROFILES, type Profile, type ProfileName } from './workloads/profiles.js';
export { PLATFORM_NAMES, type PlatformOptions } from './platforms/index.js';
export type { UnikernelImageOptions } from './platforms/index.js';
export type { Platform, StartedPlatform, ExecResult, Provisioned, ConnectionFacts, ServiceAddress } from './platforms/platform.js';
