import { test } from '../../bench.js';

test('disk-random', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('disk-random');
  await bench('disk-random', run.benchOptions, run.sample).run(run.runOptions);
});
