import { BadOptionError } from '../errors.js';

/*
 * A variant is a platform with one thing changed (the benchmark disk's bus, the
 * container's network). By default it measures only the benchmarks that use
 * what it changes; for the others the report shows the base platform's figure,
 * marked as such, since the variant cannot differ there but costs as much to
 * measure (under TCG, memsweep alone is minutes a run). Pure rules, no I/O.
 */

/** What a workload exercises; a variant names the ones it changes. */
export type Resource = 'cpu' | 'memory' | 'processes' | 'disk' | 'network';
export const RESOURCES: readonly Resource[] = ['cpu', 'memory', 'processes', 'disk', 'network'];

export interface Variant {
  /** The platform this one differs from in one respect. */
  base: string;
  /** What the difference can change: a workload exercising none of these is not measured here. */
  varies: readonly Resource[];
  /** The difference, for the report: "the benchmark disk's bus (IDE)". */
  changes: string;
}

/** 'varied': variants measure what they vary (the default); 'all': every benchmark on every platform. */
export type VariantBenchmarks = 'varied' | 'all';
export const VARIANT_BENCHMARKS: readonly VariantBenchmarks[] = ['varied', 'all'];

/** What a variant's worker gets when its base platform is in the same run. */
export interface StandInPlan extends Variant {
  variant: string;
}

/** VIRTBENCH_VARIANT_BENCHMARKS over the option variantBenchmarks; default 'varied'. */
export function resolveVariantBenchmarks(option: unknown, env: NodeJS.ProcessEnv): VariantBenchmarks {
  const fromEnv = env.VIRTBENCH_VARIANT_BENCHMARKS?.trim();
  const chosen = fromEnv || option;
  if (chosen === undefined) return 'varied';
  if (typeof chosen === 'string' && (VARIANT_BENCHMARKS as readonly string[]).includes(chosen)) return chosen as VariantBenchmarks;
  const where = fromEnv
    ? `VIRTBENCH_VARIANT_BENCHMARKS=${JSON.stringify(fromEnv)}`
    : `option "variantBenchmarks" (${JSON.stringify(option)})`;
  throw new BadOptionError(
    `${where} is not valid: it must be "varied" (variants measure only what they change; the default) or "all" (every benchmark on every variant)\n` +
      `fix: set it to varied or all, or unset it`,
  );
}

/**
 * Whether a variant stands in its base's figures: only when asked to measure
 * what it varies, and when the base runs too (alone, a variant measures
 * everything, or its column would be empty).
 */
export function standInPlan(
  variant: string,
  definition: Variant | undefined,
  runPlatforms: readonly string[],
  mode: VariantBenchmarks,
): StandInPlan | undefined {
  if (!definition || mode === 'all' || !runPlatforms.includes(definition.base)) return undefined;
  return { variant, ...definition };
}

/**
 * Why this workload is not measured on the variant, or undefined when it is.
 * A workload that does not say what it exercises is measured everywhere.
 */
export function standInReason(plan: StandInPlan | undefined, workload: { exercises?: readonly Resource[] }): string | undefined {
  if (!plan || !workload.exercises || workload.exercises.some((r) => plan.varies.includes(r))) return undefined;
  return (
    `not measured on ${plan.variant}: it changes only ${plan.changes}, which this benchmark does not use; ` +
    `shown is ${plan.base}'s figure (VIRTBENCH_VARIANT_BENCHMARKS=all measures it here)`
  );
}

/**
 * The platforms a run will measure: those its --project filters select (a
 * name, a "*" pattern, or "!" to exclude), all when there is none.
 */
export function platformsOfRun(platforms: readonly string[], requested: readonly string[]): string[] {
  const pattern = (glob: string) => new RegExp(`^${glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`);
  const stripBench = (name: string) => name.replace(/ \(bench\)$/, '');
  const include = requested.filter((r) => !r.startsWith('!')).map((r) => pattern(stripBench(r)));
  const exclude = requested.filter((r) => r.startsWith('!')).map((r) => pattern(stripBench(r.slice(1))));
  return platforms.filter((p) => (include.length === 0 || include.some((re) => re.test(p))) && !exclude.some((re) => re.test(p)));
}
