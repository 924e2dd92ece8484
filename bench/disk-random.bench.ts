import { test } from 'virtbench/bench';

test('disk-random', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('disk-random');
  await bench('disk-random', run.benchOptions, run.sample).run(run.runOptions);
});
