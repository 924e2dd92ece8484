import { test } from '../../bench.js';

test('cpu', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('cpu');
  await bench('cpu', run.benchOptions, run.sample).run(run.runOptions);
});
