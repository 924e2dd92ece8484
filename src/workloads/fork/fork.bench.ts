import { test } from '../../bench.js';

test('fork', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('fork');
  await bench('fork', run.benchOptions, run.sample).run(run.runOptions);
});

// The same tree of work with threads: the only form a single-address-space guest can run.
test('fork-threads', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('fork-threads');
  await bench('fork-threads', run.benchOptions, run.sample).run(run.runOptions);
});
