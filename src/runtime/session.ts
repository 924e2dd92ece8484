import type { BenchmarkRecord } from '../results/schema.js';
import type { ConnectionFacts } from '../platforms/platform.js';
import type { PlatformSettings } from '../platforms/index.js';
import type { ProfileName } from '../workloads/profiles.js';
import type { UntilDecidedPlan } from './run-count.js';
import type { PlannedComparison } from '../statistics/until-decided.js';
import type { StandInPlan } from '../platforms/variants.js';
import type {} from 'vitest'; // the module augmented below

/*
 * The contract between the main process and the benchmark workers: what
 * globalSetup provides under the key `virtbench`, and what a benchmark test
 * leaves in its task meta for the reporter.
 */

/** What the main process hands each benchmark worker (structured-clone safe). */
export interface ProvidedSession {
  platform: string;
  profile: ProfileName;
  /** Runs per benchmark when not the profile's (option runs, VIRTBENCH_RUNS). */
  runs?: number;
  cacheDir: string;
  /** Where the reporter writes results (relative to the config's root): checked before anything is measured. */
  reportDir?: string;
  /** Asked for by name (--project): unavailable is then an error, not a skip. */
  requested: boolean;
  /** An IDE run (VIRTBENCH_IDE=1): each figure is also printed in the test's output. */
  ide?: boolean;
  /** Set when this platform cannot run here: every benchmark is skipped with it. */
  skipReason?: string;
  facts?: ConnectionFacts;
  /** How long provisioning took in the main process (image, boot, container start), seconds. */
  provisionSeconds?: number;
  /** Rounds until the findings' comparisons are decided (the turnstile decides; see run-count.ts). */
  untilDecided?: UntilDecidedPlan & { comparisons: PlannedComparison[] };
  /** Set to false when quiet turns are off: other platforms stay alive during this platform's samples. */
  quietTurns?: boolean;
  /** The platforms this run measures (after --project), for provisioning them together. */
  runPlatforms?: string[];
  /** Set for a variant whose base platform runs too: benchmarks that do not use what it changes show the base's figure. */
  standIn?: StandInPlan;
  /** The platforms' own options, validated (see the registry). */
  settings: PlatformSettings;
  /**
   * Where the main process's turnstile listens (a Unix socket address): with
   * several platforms in a run, their workers take their samples in turns there.
   */
  turnstile?: string;
  /** Set when the turnstile is another process's (virtbench ab): the platform goes there by "<platform>@<tag>". */
  turnstileTag?: string;
  /** Set with turnstileTag: bench files go there by their path relative to this root. */
  turnstileRoot?: string;
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
