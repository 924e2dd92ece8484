import { cpu } from './cpu/cpu.js';
import { diskCopyup } from './disk-copyup/disk-copyup.js';
import { diskRandom } from './disk-random/disk-random.js';
import { unusableNumber, type Figure } from './figure.js';
import { fork, forkThreads } from './fork/fork.js';
import { mem } from './mem/mem.js';
import { nginx } from './nginx/nginx.js';
import type { ImageStep, Tool, Workload } from './workload.js';

export * from './workload.js';

/*
 * The built-in benchmarks: each in a folder of its own (its description, its C source, its bench file),
 * one line each here, in the order reports show them.
 */
const definitions = {
  cpu,
  mem,
  'disk-random': diskRandom,
  'disk-copyup': diskCopyup,
  fork,
  'fork-threads': forkThreads,
  nginx,
} satisfies Record<string, Workload>;

export type WorkloadName = keyof typeof definitions;
export const workloads: Record<WorkloadName, Workload> = definitions;
/**
 * Why this figure cannot be true, or undefined: first the floor of every
 * workload (a value and seconds above 0, see unusableNumber; the runner
 * refuses a figure below it before), then the workload's own bounds.
 */
export function implausibility(workload: Workload, figure: Figure): string | undefined {
  return unusableNumber('seconds', figure.seconds) ?? unusableNumber('value', figure.value) ?? workload.implausible?.(figure);
}

/** In the order reports show them. */
export const WORKLOAD_NAMES = Object.keys(workloads) as WorkloadName[];

/** The tool from the platform's packages a workload runs (fio, nginx), if any. */
export function toolOf(workload: Workload): Tool | undefined {
  return workload.kind === 'served' ? workload.tool : 'tool' in workload.program ? workload.program.tool : undefined;
}

/** What the built-in workloads need from a platform's image: Debian packages and baked-in files. */
export function workloadNeeds(list: readonly Workload[] = Object.values(workloads)): { packages: string[]; imageSteps: ImageStep[] } {
  const tools = list.map(toolOf);
  const packages = [...new Set(tools.flatMap((tool) => (tool?.debianPackage ? [tool.debianPackage] : [])))];
  return { packages, imageSteps: list.flatMap((w) => (w.image ? [w.image] : [])) };
}
