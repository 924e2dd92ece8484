// A workload of your own on every platform: a C program that prints virtbench's RESULT line,
// described once with commandWorkload and run through the same fixture as the built-in benchmarks.
import { fileURLToPath } from 'node:url';
import { commandWorkload } from 'virtbench';
import { test } from 'virtbench/bench';

const syscallLatency = commandWorkload({
  name: 'syscall',
  title: 'getppid() system call, mean latency',
  unit: 'ns',
  better: 'lower',
  // Built once with gcc (-O2 -static) and copied into each platform: the same bytes everywhere.
  program: { source: fileURLToPath(new URL('../syscall.c', import.meta.url)) },
  args: (profile) => [profile.name === 'quick' ? '100000' : '5000000'],
  timeoutMs: () => 300_000,
  // A system call is a trap into the kernel and back: no machine does one in under a few nanoseconds.
  implausible: (figure) => (figure.value < 5 ? `${figure.value} ns per system call is faster than any kernel entry` : undefined),
});

test('syscall', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare(syscallLatency);
  await bench('syscall', run.benchOptions, run.sample).run(run.runOptions);
});
