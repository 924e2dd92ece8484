import { workloadSource } from '../build.js';
import { commandWorkload } from '../workload.js';

/** Generic x86-64 (SSE2) code on one core: 4 flops a cycle, so 24 GFLOPS at 6 GHz; 50 GFLOPS cannot be. */
const MAX_KFLOPS = 5e7;

export const cpu = commandWorkload({
  name: 'cpu',
  exercises: ['cpu'],
  title: 'LINPACK (LU factorisation + solve)',
  unit: 'kFLOPS',
  better: 'higher',
  program: { source: workloadSource('cpu/linpack') },
  args: (p) => [String(p.cpu.n), String(p.cpu.lda), String(p.cpu.minSeconds)],
  sampleMs: (f) => (f.seconds * 1000) / Number(f.extra.solves ?? 1),
  timeoutMs: (p) => 120_000 + p.cpu.minSeconds * 60_000,
  implausible: (f) => {
    // sampleMs divides the timed pass by its solves: LINPACK times at least one.
    if (!(Number(f.extra.solves ?? 1) >= 1)) return `LINPACK timed ${f.extra.solves} solves (at least 1)`;
    return f.value > MAX_KFLOPS ? `${f.value} kFLOPS is beyond any single core's peak for this code (${MAX_KFLOPS} kFLOPS)` : undefined;
  },
});
