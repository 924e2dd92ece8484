import { describe, expect, it } from 'vitest';
import { forestRows, forestSvg } from '../../src/reporters/forest.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { resultOf } from '../builders.js';

const rounds = (r: BenchmarkResult) => (r.samples.forEach((s, round) => (s.extra = { round })), r);

describe('forest plot', () => {
  const results = [
    rounds(resultOf('native', 'cpu', [100, 101, 99, 100.5, 99.5])),
    rounds(resultOf('docker', 'cpu', [98, 99.5, 97.5, 98, 98.2])),
    rounds(resultOf('qemu-tcg', 'cpu', [3, 3.1, 2.9, 3, 3.05])),
    resultOf('qemu-tcg-ide', 'cpu', [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured' }),
    resultOf('podman', 'cpu', [], { status: 'failed', error: 'boom' }),
    rounds(resultOf('native', 'mem', [1, 1.01, 0.99, 1, 1])),
    rounds(resultOf('docker', 'mem', [1.001, 0.995, 1.004, 1.0, 0.998])),
  ];
  const platforms = ['native', 'docker', 'qemu-tcg', 'qemu-tcg-ide', 'podman'];

  it('has a row per measured ratio to the baseline, grouped by benchmark, without stand-ins or failures', () => {
    const rows = forestRows(results, platforms, 'native');
    expect(rows.map((r) => `${r.benchmark} ${r.platform} ${r.reading}`)).toEqual([
      'cpu docker slower',
      'cpu qemu-tcg slower',
      'mem docker equivalent',
    ]);
    expect(forestRows(results, platforms, undefined)).toEqual([]);
  });

  it('draws a dot and an interval per row on a log axis labelled past the farthest mark, with a line at 1x', () => {
    const svg = forestSvg(forestRows(results, platforms, 'native'), 'native');
    expect(svg.match(/<g class="ratio"/g)).toHaveLength(3);
    expect(svg.match(/<circle class="estimate"/g)).toHaveLength(3);
    expect(svg.match(/<line class="interval"/g)).toHaveLength(3);
    expect(svg).toContain('<line class="one"');
    // 0.03x: the axis reaches 0.02x; 1, 2 and 5 per decade in between.
    const labels = [...svg.matchAll(/text-anchor="middle">([\d.]+x)</g)].map((m) => m[1]);
    expect([...new Set(labels)]).toEqual(['0.02x', '0.05x', '0.1x', '0.2x', '0.5x', '1x']);
    expect(svg).toContain('slower: 0.03x');
    expect(svg).toContain('same: ≈1x');
  });

  it('labels a narrow span in steps of 5% around 1x, and draws nothing without ratios', () => {
    const near = results.filter((r) => r.benchmark === 'mem');
    const svg = forestSvg(forestRows(near, ['native', 'docker'], 'native'), 'native');
    const labels = [...new Set([...svg.matchAll(/text-anchor="middle">([\d.]+x)</g)].map((m) => m[1]))];
    expect(labels).toEqual(['0.95x', '1x', '1.05x', '1.1x']);
    expect(forestSvg([], 'native')).toBe('');
  });
});
