import { timedProgram, tooFast } from '../workload.js';

/** One strided memsweep step (a cache line, often a TLB miss): nanoseconds; 0.05 ns is 20 per cycle at 1 GHz. */
const SECONDS_PER_STEP = 5e-11;

export const mem = timedProgram('mem/memsweep', {
  name: 'mem',
  exercises: ['memory'],
  title: 'memsweep (4097-byte stride)',
  args: (p) => [String(p.mem.bytes), String(p.mem.passes)],
  timeoutMs: () => 600_000,
  implausible: (f) => {
    const steps = Number(f.extra.bytes) * Number(f.extra.passes);
    return tooFast(f, steps * SECONDS_PER_STEP, `${steps} strided memory updates`);
  },
});
