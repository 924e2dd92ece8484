import { describe, expect, it } from 'vitest';
import { bencherMeasureSlug, toBencherBmf } from '../../src/reporters/formats/bencher.js';
import { resultOf, resultsFileOf } from '../builders.js';

describe('toBencherBmf', () => {
  it('is Bencher Metric Format: "<benchmark> (<platform>)" -> measure slug -> median with the quartiles', () => {
    const file = resultsFileOf([
      resultOf('native', 'cpu', [5.0e6, 5.2e6, 4.8e6, 5.1e6, 4.9e6]),
      resultOf('docker', 'cpu', [4.9e6, 5.0e6]),
      resultOf('native', 'mem', [0.34, 0.35, 0.33]),
      resultOf('native', 'disk-random', [64_000, 65_000, 63_000]),
      resultOf('docker', 'mem', [0.5], { status: 'failed', error: 'memsweep exited with code 1' }),
      resultOf('unikernel', 'fork', [], { status: 'skipped', skipReason: 'a single address space has no fork()' }),
    ]);
    const bmf = toBencherBmf(file);
    expect(bmf).toEqual({
      'cpu (native)': { kflops: { value: 5.0e6, lower_value: 4.9e6, upper_value: 5.1e6 } },
      'cpu (docker)': { kflops: { value: 4.95e6, lower_value: 4.925e6, upper_value: 4.975e6 } },
      'mem (native)': { seconds: { value: 0.34, lower_value: expect.closeTo(0.335, 10), upper_value: expect.closeTo(0.345, 10) } },
      'disk-random (native)': { iops: { value: 64_000, lower_value: 63_500, upper_value: 64_500 } },
    });
    // Bencher's JSON schema: every metric has a number value, lower_value <= value <= upper_value.
    for (const measures of Object.values(JSON.parse(JSON.stringify(bmf)) as typeof bmf)) {
      for (const [slug, metric] of Object.entries(measures)) {
        expect(slug).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
        expect(metric.lower_value!).toBeLessThanOrEqual(metric.value);
        expect(metric.upper_value!).toBeGreaterThanOrEqual(metric.value);
      }
    }
  });

  it("has no metric for a stand-in: its figure is another platform's", () => {
    const file = resultsFileOf([
      resultOf('qemu-tcg', 'cpu', [1e3]),
      resultOf('qemu-tcg-ide', 'cpu', [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured on qemu-tcg-ide' }),
    ]);
    expect(Object.keys(toBencherBmf(file))).toEqual(['cpu (qemu-tcg)']);
  });

  it('is an empty object when nothing passed', () => {
    expect(toBencherBmf(resultsFileOf([resultOf('native', 'cpu', [], { status: 'skipped', skipReason: 'no' })]))).toEqual({});
  });
});

describe('bencherMeasureSlug', () => {
  it('makes a slug of a unit: lower case, [a-z0-9-], at most 64 characters', () => {
    expect(bencherMeasureSlug('kFLOPS')).toBe('kflops');
    expect(bencherMeasureSlug('s')).toBe('seconds');
    expect(bencherMeasureSlug('IOPS')).toBe('iops');
    expect(bencherMeasureSlug('MB/s')).toBe('mb-s');
    expect(bencherMeasureSlug('ns')).toBe('ns');
    expect(bencherMeasureSlug('%')).toBe('percent');
    expect(bencherMeasureSlug('µs / op')).toBe('us-op');
    expect(bencherMeasureSlug('///')).toBe('value');
    expect(bencherMeasureSlug('x'.repeat(63) + '-y')).toBe('x'.repeat(63));
  });
});
