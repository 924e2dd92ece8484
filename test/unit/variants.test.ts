import { describe, expect, it } from 'vitest';
import { virtbench } from '../../src/plugin.js';
import { variantOf } from '../../src/platforms/index.js';
import { platformsOfRun, resolveVariantBenchmarks, standInPlan, standInReason } from '../../src/platforms/variants.js';
import { workloads } from '../../src/workloads/index.js';

const ide = { base: 'qemu-tcg', varies: ['disk'] as const, changes: "the benchmark disk's bus (IDE instead of virtio)" };

describe('which benchmarks a variant measures', () => {
  const plan = standInPlan('qemu-tcg-ide', ide, ['native', 'qemu-tcg', 'qemu-tcg-ide'], 'varied');

  it('measures the workloads that use what it changes, and shows the base figure for the rest', () => {
    const measured = Object.values(workloads).filter((w) => !standInReason(plan, w));
    expect(measured.map((w) => w.name)).toEqual(['disk-random', 'disk-copyup']);
    expect(standInReason(plan, workloads.cpu)).toBe(
      "not measured on qemu-tcg-ide: it changes only the benchmark disk's bus (IDE instead of virtio), which this benchmark " +
        "does not use; shown is qemu-tcg's figure (VIRTBENCH_VARIANT_BENCHMARKS=all measures it here)",
    );
  });

  it('measures a workload that does not say what it exercises (a user workload) everywhere', () => {
    expect(standInReason(plan, { exercises: undefined })).toBeUndefined();
  });

  it('measures everything when its base is not in the run, or when asked for every benchmark', () => {
    expect(standInPlan('qemu-tcg-ide', ide, ['native', 'qemu-tcg-ide'], 'varied')).toBeUndefined();
    expect(standInPlan('qemu-tcg-ide', ide, ['qemu-tcg', 'qemu-tcg-ide'], 'all')).toBeUndefined();
    expect(standInPlan('qemu-tcg', undefined, ['qemu-tcg'], 'varied')).toBeUndefined();
  });

  it('knows the variants of the registry, and that "<platform>#2" is none', () => {
    expect(variantOf('docker-hostnet')).toMatchObject({ base: 'docker', varies: ['network'] });
    expect(variantOf('docker-volume')).toMatchObject({ base: 'docker', varies: ['disk'] });
    expect(variantOf('qemu-kvm-qcow2')).toMatchObject({ base: 'qemu-kvm', varies: ['disk'] });
    expect(variantOf('qemu-tcg')).toBeUndefined();
    expect(variantOf('docker-volume#2')).toBeUndefined();
    // The network variant measures nginx only.
    const hostnet = standInPlan('docker-hostnet', variantOf('docker-hostnet'), ['docker', 'docker-hostnet'], 'varied');
    expect(
      Object.values(workloads)
        .filter((w) => !standInReason(hostnet, w))
        .map((w) => w.name),
    ).toEqual(['nginx']);
  });
});

describe('the platforms of a run', () => {
  const all = ['native', 'docker', 'docker-volume', 'qemu-tcg', 'qemu-tcg-ide'];

  it('are every platform without --project, else those the names and patterns select', () => {
    expect(platformsOfRun(all, [])).toEqual(all);
    expect(platformsOfRun(all, ['qemu-tcg-ide', 'unit'])).toEqual(['qemu-tcg-ide']);
    expect(platformsOfRun(all, ['qemu-tcg*'])).toEqual(['qemu-tcg', 'qemu-tcg-ide']);
    expect(platformsOfRun(all, ['docker-volume (bench)'])).toEqual(['docker-volume']);
    expect(platformsOfRun(all, ['!docker*'])).toEqual(['native', 'qemu-tcg', 'qemu-tcg-ide']);
  });
});

describe('VIRTBENCH_VARIANT_BENCHMARKS', () => {
  it('is varied by default, all when asked, and anything else an error naming the fix', () => {
    expect(resolveVariantBenchmarks(undefined, {})).toBe('varied');
    expect(resolveVariantBenchmarks('all', {})).toBe('all');
    expect(resolveVariantBenchmarks('varied', { VIRTBENCH_VARIANT_BENCHMARKS: 'all' })).toBe('all');
    expect(() => resolveVariantBenchmarks(undefined, { VIRTBENCH_VARIANT_BENCHMARKS: 'full' })).toThrow(
      /VIRTBENCH_VARIANT_BENCHMARKS="full" is not valid[^]*fix: set it to varied or all/,
    );
    expect(() => resolveVariantBenchmarks(true, {})).toThrow(/option "variantBenchmarks" \(true\)/);
  });
});

type ConfigHook = (config: { test?: Record<string, unknown> }) => void;
type Projects = { test: { name: string; provide: { virtbench: { standIn?: { base: string } } } } }[];

describe('the plugin hands a variant its stand-in plan', () => {
  const configure = (test: Record<string, unknown>, env: Record<string, string> = {}) => {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      const config = { test };
      (virtbench({ platforms: ['native', 'docker', 'docker-volume', 'docker-hostnet'] }).config as unknown as ConfigHook)(config);
      return Object.fromEntries((config.test.projects as Projects).map((p) => [p.test.name, p.test.provide.virtbench.standIn?.base]));
    } finally {
      process.env = saved;
    }
  };

  it('when the base runs too', () => {
    expect(configure({})).toEqual({ native: undefined, docker: undefined, 'docker-volume': 'docker', 'docker-hostnet': 'docker' });
  });

  it('not when the variant runs without its base (--project docker-volume), nor with VIRTBENCH_VARIANT_BENCHMARKS=all', () => {
    expect(configure({ project: ['docker-volume'] })['docker-volume']).toBeUndefined();
    expect(configure({}, { VIRTBENCH_VARIANT_BENCHMARKS: 'all' })['docker-volume']).toBeUndefined();
  });
});
