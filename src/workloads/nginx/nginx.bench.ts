import { test } from '../../bench.js';

test('nginx', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('nginx');
  await bench('nginx', run.benchOptions, run.sample).run(run.runOptions);
});
