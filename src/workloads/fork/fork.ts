import { timedProgram, tooFast } from '../workload.js';

/** Creating a process (fork, exit, wait) takes tens of microseconds on fast hardware. */
const SECONDS_PER_PROCESS = 1e-6;
/** Creating and joining a thread: microseconds. */
const SECONDS_PER_THREAD = 2e-7;

export const fork = timedProgram('fork/forksum', {
  name: 'fork',
  exercises: ['processes'],
  title: 'forksum (fork + pipe per half)',
  args: (p) => [String(p.fork.start), String(p.fork.end)],
  timeoutMs: () => 600_000,
  implausible: (f) => tooFast(f, Number(f.extra.spawned) * SECONDS_PER_PROCESS, `creating ${f.extra.spawned} processes`),
});

export const forkThreads = timedProgram('fork/forksum', {
  name: 'fork-threads',
  exercises: ['processes'],
  title: 'forksum, thread per half',
  variant: 'threads',
  args: (p) => ['--threads', String(p.fork.start), String(p.fork.end)],
  timeoutMs: () => 600_000,
  implausible: (f) => tooFast(f, Number(f.extra.spawned) * SECONDS_PER_THREAD, `creating ${f.extra.spawned} threads`),
});
