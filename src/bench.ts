import { inject, test as baseTest } from 'vitest';
import { VirtbenchError } from './errors.js';
import { createPlatform } from './harness/platforms/index.js';
import { resolveProfile, type Profile } from './harness/profiles.js';
import { enoughRuns } from './harness/run-count.js';
import { prepareWorkload, type PreparedWorkload } from './harness/runner.js';
import { PROVIDE_KEY } from './harness/session.js';
import type { BenchmarkRecord } from './results/schema.js';
import { WORKLOAD_NAMES, workloads, type Workload, type WorkloadName } from './harness/workloads.js';

/** What `prepare(name)` hands a bench file: the task function and the options to pass on. */
export interface PreparedBench {
  /** The tinybench task: runs the workload once, records the figure, returns the in-platform time. */
  sample: () => Promise<{ overriddenDuration: number; overriddenIterationCost: number }>;
  /** Per-benchmark options for `bench(name, options, fn)`. */
  benchOptions: { perProject: true; async: true; beforeEach: () => Promise<void> };
  /**
   * Run options for `.run()`: no warmup; the profile's runs, then (when a
   * stability target is set) more until the figures are stable.
   */
  runOptions: { time: number; iterations: number; warmup: false };
}

export interface VirtbenchFixture {
  platform: string;
  profile: Profile;
  /** A built-in workload by name, or your own workload description. */
  prepare(workload: WorkloadName | Workload): Promise<PreparedBench>;
}

/**
 * `test` with a `virtbench` fixture that connects to the project's platform.
 * Benchmarks recorded through it land in task meta, where the virtbench
 * reporter reads them, including the runs that finished before a failure.
 */
export const test = baseTest.extend<{ virtbench: VirtbenchFixture }>({
  virtbench: async ({ task, skip, signal }, use) => {
    const session = inject(PROVIDE_KEY);
    if (!session) {
      throw new VirtbenchError(
        'VIRTBENCH_BAD_OPTION',
        'no virtbench session: run bench files through a config that uses the virtbench() plugin (`vitest bench`)',
      );
    }
    const profile = resolveProfile(session.profile);
    // Recorded before anything can fail, so a connection error still shows as this benchmark's failure.
    task.meta.virtbench = recordFor(session.platform, workloads[task.name as WorkloadName] ?? task.name, profile, session.skipReason);
    if (session.skipReason) skip(session.skipReason);

    const platform = await createPlatform(session.platform, session.settings).connect(session.facts ?? {});
    const prepared: PreparedWorkload[] = [];
    try {
      const platformInfo = await platform.describe();
      await use({
        platform: session.platform,
        profile,
        async prepare(nameOrWorkload) {
          const workload = typeof nameOrWorkload === 'string' ? workloads[nameOrWorkload] : nameOrWorkload;
          if (!workload) {
            throw new VirtbenchError(
              'VIRTBENCH_BAD_OPTION',
              `unknown workload "${String(nameOrWorkload)}"; valid workloads: ${WORKLOAD_NAMES.join(', ')}`,
            );
          }
          const record: BenchmarkRecord = { ...recordFor(session.platform, workload, profile), platformInfo };
          task.meta.virtbench = record;
          const unsupported = platform.unsupported?.(workload);
          if (unsupported) {
            record.skipReason = `n/a: ${unsupported}`;
            skip(record.skipReason);
          }
          const ready = await prepareWorkload(platform, workload, profile, { cacheDir: session.cacheDir, signal });
          prepared.push(ready);
          return {
            async sample() {
              const figure = await ready.runOnce();
              record.samples.push({ time: Date.now() / 1000, value: figure.value, seconds: figure.seconds, extra: figure.extra });
              // tinybench runs while its time budget (1 ms when adaptive) is unspent or the
              // minimum count unmet; a declared cost of 0 keeps it going, 1 lets it stop.
              const done = enoughRuns(
                record.samples.map((s) => s.value),
                profile.runs,
                session.untilStable,
              );
              return { overriddenDuration: workload.sampleMs(figure), overriddenIterationCost: done ? 1 : 0 };
            },
            benchOptions: {
              perProject: true,
              async: true,
              async beforeEach() {
                const flushed = await platform.flushCaches();
                record.cachesFlushed = (record.cachesFlushed ?? true) && flushed;
              },
            },
            runOptions: { time: session.untilStable ? 1 : 0, iterations: profile.runs, warmup: false },
          };
        },
      });
    } finally {
      // A server that does not stop politely is still stopped by the owner of the platform's work directory.
      for (const ready of prepared) await ready.dispose().catch(() => {});
      await platform.close();
    }
  },
});

/** The record a benchmark starts with; before prepare() only the test name may be known. */
function recordFor(platform: string, workload: Workload | string, profile: Profile, skipReason?: string): BenchmarkRecord {
  const known = typeof workload === 'string' ? undefined : workload;
  return {
    platform,
    benchmark: known?.name ?? String(workload),
    title: known?.title ?? String(workload),
    unit: known?.unit ?? '',
    better: known?.better ?? 'lower',
    variant: known?.variant,
    profile: profile.name,
    samples: [],
    ...(skipReason ? { skipReason } : {}),
  };
}
