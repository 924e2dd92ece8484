import { test } from '../../bench.js';

test('disk-copyup', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('disk-copyup');
  await bench('disk-copyup', run.benchOptions, run.sample).run(run.runOptions);
});
