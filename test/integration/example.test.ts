import { expect, it } from 'vitest';
import { runVitestBench } from './helpers.js';

// examples/syscall-latency: a user's own workload through the public API, run as a user would run it.
it('runs the syscall-latency example on native and reports a plausible latency', async () => {
  const run = await runVitestBench(['--root', 'examples/syscall-latency', '--project', 'native'], { VIRTBENCH_PROFILE: 'quick' });
  expect(run.exitCode, run.output).toBe(0);
  const result = run.results?.results.find((r) => r.benchmark === 'syscall');
  expect(result).toMatchObject({ platform: 'native', status: 'passed', unit: 'ns', better: 'lower' });
  expect(result!.samples).toHaveLength(2);
  // Tens to thousands of nanoseconds per getppid(), depending on the machine; never zero.
  for (const sample of result!.samples) {
    expect(sample.value).toBeGreaterThan(5);
    expect(sample.value).toBeLessThan(1e6);
    expect(sample.extra.calls).toBe(100000);
  }
}, 300_000);
