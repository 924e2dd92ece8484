import { test } from '../../bench.js';

test('mem', async ({ bench, virtbench }) => {
  const run = await virtbench.prepare('mem');
  await bench('mem', run.benchOptions, run.sample).run(run.runOptions);
});
