import { describe, expect, it } from 'vitest';
import { resultOf } from '../builders.js';
import { formatCell, formatValue, layoutColumns, renderComparison } from '../../src/reporters/table.js';

const result = resultOf;

describe('formatValue', () => {
  it.each([
    [3_390_000, '3.39M'],
    [49_000, '49.0k'],
    [1_234_567_890, '1.23G'],
    [0.34, '0.340'],
    [20.5, '20.5'],
    [0, '0'],
  ])('%d -> %s', (value, text) => expect(formatValue(value)).toBe(text));
});

describe('formatCell', () => {
  const native = result('native', 'mem', [0.34, 0.34, 0.34]);
  it('shows the median, half the relative IQR and the ratio in the better direction', () => {
    const slower = result('qemu-tcg', 'mem', [20, 21, 22]);
    // median 21, IQR 1 -> ±2.4%; lower is better -> 0.34 / 21 = 0.02x
    expect(formatCell(slower, native)).toBe('21.0 ±2.4%  0.02x');
  });
  it('shows no ratio for the baseline itself', () => {
    expect(formatCell(native, native)).toBe('0.340 ±0.0%');
  });
  it('marks failures, keeping count of the runs measured before them', () => {
    expect(formatCell(result('native', 'mem', [1, 2], { status: 'failed', error: 'boom' }), native)).toBe('FAILED (2 runs kept)');
    expect(formatCell(result('native', 'mem', [], { status: 'failed' }), native)).toBe('FAILED');
    expect(formatCell(result('x', 'mem', [], { status: 'skipped' }), native)).toBe('skipped');
    expect(formatCell(result('x', 'fork', [], { status: 'skipped', skipReason: 'n/a: no fork()' }), native)).toBe('n/a');
    expect(formatCell(undefined, native)).toBe('-');
  });
});

describe('layoutColumns', () => {
  it('aligns columns two spaces apart without trailing blanks', () => {
    expect(
      layoutColumns([
        ['a', 'bb', 'c'],
        ['ccc', 'd', ''],
      ]),
    ).toEqual(['a    bb  c', 'ccc  d']);
  });
});

describe('renderComparison', () => {
  it('puts benchmarks in rows and platforms in columns, native as the baseline', () => {
    const results = [
      result('native', 'cpu', [100, 100, 100]),
      result('docker', 'cpu', [50, 50, 50]),
      result('native', 'mem', [1, 1, 1]),
      result('docker', 'mem', [2, 2, 2]),
    ];
    const table = renderComparison(results, ['native', 'docker']);
    expect(table.baseline).toBe('native');
    expect(table.lines[0]).toMatch(/^benchmark\s+unit\s+better\s+native\s+docker$/);
    expect(table.lines[2]).toMatch(/^cpu\s+kFLOPS\s+higher\s+100 ±0\.0%\s+50\.0 ±0\.0% {2}0\.50x$/);
    expect(table.lines[3]).toMatch(/^mem\s+s\s+lower\s+1\.00 ±0\.0%\s+2\.00 ±0\.0% {2}0\.50x$/);
    expect(table.lines.at(-1)).toContain('performance vs native, above 1 is better');
  });

  it('falls back to the first platform as baseline and marks variants', () => {
    const results = [
      result('docker', 'fork-threads', [1], { variant: 'threads' }),
      result('qemu-tcg', 'fork', [4], { variant: 'threads' }),
    ];
    const table = renderComparison(results, ['docker', 'qemu-tcg']);
    expect(table.baseline).toBe('docker');
    expect(table.lines.join('\n')).toContain('fork (threads)');
    expect(table.lines.join('\n')).toContain('fork-threads');
  });
});

describe('guestHostNote', () => {
  it('says when native itself runs in a guest, and nothing on bare metal', async () => {
    const { guestHostNote } = await import('../../src/reporters/table.js');
    expect(guestHostNote({ hypervisor: 'PVM' })).toBe(' (native runs in a guest: hypervisor PVM)');
    expect(guestHostNote({ hypervisor: 'none (bare metal)' })).toBe('');
    expect(guestHostNote({})).toBe('');
  });
});
