import type { ConnectionFacts } from './platform.js';
import type { ProfileName } from './profiles.js';
import type { UntilStable } from './run-count.js';
import type { UnikernelImageOptions } from './platforms/unikernel/guest-command.js';
import type {} from 'vitest'; // the module augmented below

/** Whether a larger or a smaller figure is the better one. */
export type Better = 'higher' | 'lower';

/** Platform-specific options from the plugin, passed to every platform factory. */
export interface PlatformSettings {
  /** A user's own unikernel image instead of ours (see README). */
  unikernel?: UnikernelImageOptions;
}

/** What the main process hands each benchmark worker (structured-clone safe), under the key `virtbench`. */
export interface ProvidedSession {
  platform: string;
  profile: ProfileName;
  cacheDir: string;
  /** Set when this platform cannot run here: every benchmark is skipped with it. */
  skipReason?: string;
  facts?: ConnectionFacts;
  /** Adaptive run count: more runs until the figures are this stable. */
  untilStable?: UntilStable;
  settings?: PlatformSettings;
}

export interface Sample {
  /** Unix time in seconds when the run finished. */
  time: number;
  value: number;
  /** Time the workload measured itself, seconds. */
  seconds: number;
  extra: Record<string, string | number>;
}

/** What a benchmark test records in its task meta; the reporter reads only this. */
export interface BenchmarkRecord {
  platform: string;
  benchmark: string;
  title: string;
  unit: string;
  better: Better;
  variant?: string;
  profile: ProfileName;
  samples: Sample[];
  /** Whether the page cache could be flushed before each run. */
  cachesFlushed?: boolean;
  platformInfo?: Record<string, string | number | boolean>;
  skipReason?: string;
}

export const PROVIDE_KEY = 'virtbench';

declare module 'vitest' {
  interface ProvidedContext {
    virtbench: ProvidedSession;
  }
  interface TaskMeta {
    virtbench?: BenchmarkRecord;
  }
}
