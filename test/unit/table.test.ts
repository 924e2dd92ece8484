import { describe, expect, it } from 'vitest';
import { resultOf } from '../builders.js';
import { elevenPlatformRun } from '../eleven-platforms.js';
import { formatReach, formatValue } from '../../src/results/format.js';
import { displayWidth, formatCell, layoutColumns, renderComparison, renderComparisonToFit, wrapText } from '../../src/reporters/table.js';
import { rowResult } from '../../src/results/ordering.js';

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

describe('formatReach', () => {
  it('says how far an interval reaches, and stops counting past ±999% (two rounds can reach 176419%)', () => {
    expect(formatReach(0.062)).toBe('±6.2%');
    expect(formatReach(0.25)).toBe('±25%');
    expect(formatReach(9.99)).toBe('±999%');
    expect(formatReach(1764.19)).toBe('±>999%');
  });
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

describe("formatCell of a stand-in (a variant shows another platform's figure)", () => {
  const standIn = (platform: string, benchmark: string, base: string) =>
    result(platform, benchmark, [], { status: 'skipped', standIn: base, skipReason: `not measured on ${platform}` });
  const native = result('native', 'cpu', [2000, 2000, 2000]);
  const qemu = result('qemu-tcg', 'cpu', [1230, 1234, 1236]);

  it("shows the stand-in platform's median, marked as its, without a ratio to the baseline", () => {
    expect(formatCell(standIn('qemu-tcg-ide', 'cpu', 'qemu-tcg'), native, qemu)).toBe('(1.23k as qemu-tcg)');
  });
  it('shows no figure when the stand-in platform has none', () => {
    const cell = standIn('qemu-tcg-ide', 'cpu', 'qemu-tcg');
    expect(formatCell(cell, native)).toBe('(as qemu-tcg: -)');
    expect(formatCell(cell, native, result('qemu-tcg', 'cpu', [1], { status: 'failed' }))).toBe('(as qemu-tcg: -)');
    // Another platform's result is not the stand-in's figure.
    expect(formatCell(cell, native, result('docker', 'cpu', [5]))).toBe('(as qemu-tcg: -)');
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

  it("marks a stand-in cell with the stand-in platform's figure, and explains the mark only when one is shown", () => {
    const results = [
      result('native', 'cpu', [100, 100, 100]),
      result('qemu-tcg', 'cpu', [50, 50, 50]),
      result('qemu-tcg-ide', 'cpu', [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured on qemu-tcg-ide' }),
      result('native', 'mem', [1, 1, 1]),
      result('qemu-tcg', 'mem', [2, 2, 2]),
      result('qemu-tcg-ide', 'mem', [4, 4, 4]),
    ];
    const table = renderComparison(results, ['native', 'qemu-tcg', 'qemu-tcg-ide']);
    expect(table.lines[2]).toMatch(/^cpu\s+kFLOPS\s+higher\s+100 ±0\.0%\s+50\.0 ±0\.0% {2}0\.50x\s+\(50\.0 as qemu-tcg\)$/);
    expect(table.lines[3]).toMatch(/^mem\s+s\s+lower\s+1\.00 ±0\.0%\s+2\.00 ±0\.0% {2}0\.50x\s+4\.00 ±0\.0% {2}0\.25x$/);
    expect(table.lines.at(-1)).toMatch(
      /^\(N as P\) = not measured on that column's platform .*P's median stands in, for reference only, no ratio$/,
    );
    expect(renderComparison(results, ['native', 'qemu-tcg']).lines.join('\n')).not.toContain('(N as P)');
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

/** Each table of printed lines (separated by a blank line) as a map of cells: "platform/benchmark label" -> cell. */
function cellsOf(lines: string[]): Map<string, string> {
  const cells = new Map<string, string>();
  const tables = lines.join('\n').split('\n\n');
  for (const table of tables) {
    const [header, , ...rest] = table.split('\n');
    const rows = rest.slice(
      0,
      rest.findIndex((l) => /^-+$/.test(l)),
    );
    // Every cell starts where its column's name does in the header.
    const names = [...header!.matchAll(/\S+/g)].map((m) => ({ name: m[0], at: m.index }));
    for (const row of rows) {
      const chars = [...row];
      const label = chars.slice(0, names[1]!.at).join('').trim();
      names.slice(3).forEach(({ name, at }, i) => {
        const end = names[3 + i + 1]?.at ?? chars.length;
        cells.set(`${name}/${label}`, chars.slice(at, end).join('').trim());
      });
    }
  }
  return cells;
}

describe('renderComparisonToFit', () => {
  const { results, platforms } = elevenPlatformRun();

  it('keeps every printed line of an 11-platform run within 120 columns, counting ≈, ± and × as one', () => {
    const full = renderComparison(results, platforms).lines;
    expect(Math.max(...full.map(displayWidth))).toBeGreaterThan(200); // the file's table: all platforms side by side
    const printed = renderComparisonToFit(results, platforms, 120).lines;
    for (const line of printed) expect(displayWidth(line), line).toBeLessThanOrEqual(120);
    expect(displayWidth('≈1x ±5.0% ×')).toBe(11);
  });

  it('loses nothing across the split: every cell is printed once, native beside each table', () => {
    const full = cellsOf(renderComparison(results, platforms).lines.slice(0, 2 + 7 + 1));
    const printed = renderComparisonToFit(results, platforms, 120).lines;
    const tables = printed.join('\n').split('\n\n');
    expect(tables.length).toBeGreaterThan(1);
    for (const table of tables) expect(table.split('\n')[0]).toMatch(/^benchmark\s+unit\s+better\s+native\s/);
    const split = cellsOf(printed.slice(0, printed.findLastIndex((l) => /^-+$/.test(l)) + 1));
    expect(split).toEqual(full);
    expect(full.size).toBe(11 * 7);
    // Each other platform in exactly one table.
    for (const platform of platforms.slice(1))
      expect(
        tables.filter((t) => t.split('\n')[0]!.split(/\s+/).includes(platform)),
        platform,
      ).toHaveLength(1);
    // The cells hold the ratios, the equivalences, the cannot-tells, stand-ins, n/a and failures.
    const all = [...split.values()].join(' | ');
    for (const kind of ['0.03x', '≈1x', '? ±', '(170k as qemu-tcg)', 'n/a', 'skipped', 'FAILED (3 runs kept)']) expect(all).toContain(kind);
    // The legend, wrapped, says the same.
    const legend = printed.slice(printed.findLastIndex((l) => /^-+$/.test(l)) + 1).map((l) => l.trim());
    const fullLegend = renderComparison(results, platforms).lines.slice(10);
    expect(legend.join(' ')).toBe(fullLegend.join(' '));
  });

  it('prints a table that fits as renderComparison does', () => {
    const narrow = results.filter((r) => ['native', 'docker', 'podman'].includes(r.platform));
    const wide = renderComparison(narrow, ['native', 'docker', 'podman']).lines;
    const fitted = renderComparisonToFit(narrow, ['native', 'docker', 'podman'], 120).lines;
    expect(fitted.slice(0, 10)).toEqual(wide.slice(0, 10));
    expect(fitted.slice(10).join(' ').replaceAll(/\s+/g, ' ')).toBe(wide.slice(10).join(' '));
    // Wide enough for all: the one table, as in the file.
    const all = renderComparisonToFit(results, platforms, 1000).lines;
    expect(all).toEqual(renderComparison(results, platforms).lines);
  });

  it('spreads the platforms evenly over the fewest tables', () => {
    const printed = renderComparisonToFit(results, platforms, 120).lines;
    const counts = printed
      .join('\n')
      .split('\n\n')
      .map((t) => t.split('\n')[0]!.split(/\s+/).length - 4);
    expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
  });
});

describe('wrapText', () => {
  it('breaks at spaces within the width, indenting the later lines', () => {
    expect(wrapText('aa bb cc dd', 5, 1)).toEqual(['aa bb', ' cc', ' dd']);
    expect(wrapText('averylongword x', 5)).toEqual(['averylongword', 'x']);
  });
});

describe('the legend after rounds until decided', () => {
  it('names the 98 % and 96 % intervals the cells use once any result took its rounds until decided, and 95 % and 90 % otherwise', () => {
    const rounds = (values: number[]) => values.map((value, round) => ({ time: round, value, seconds: 1, extra: { round } }));
    const fixed = [result('native', 'mem', [1, 1.1, 0.9]), result('docker', 'mem', [1, 1.2, 0.9])].map((r) => ({
      ...r,
      samples: rounds(r.samples.map((s) => s.value)),
    }));
    const adaptive = fixed.map((r) => ({ ...r, stoppedBy: 'decided' as const }));
    const text = (results: typeof fixed) => renderComparison(results, ['native', 'docker']).lines.join(' ');
    expect(text(fixed)).toMatch(/its 95% interval excludes 1.*its 90% interval lies inside/);
    expect(text(adaptive)).toMatch(/its 98% interval excludes 1.*its 96% interval lies inside.*keep a 95% coverage/);
  });
});

describe("a bench file's own workload that a platform skipped before it knew the workload", () => {
  it("takes the row's unit and direction from a platform that measured it, not the skip record's blanks", () => {
    // native skipped the session early: its record has only the name (unit '', the default 'lower').
    const skipped = resultOf('native', 'app', [], { unit: '', better: 'lower', status: 'skipped', skipReason: 'not here' });
    const measured = resultOf('myapp-docker', 'app', [40, 42], { unit: 'req/s', better: 'higher' });
    const table = renderComparison([skipped, measured], ['native', 'myapp-docker']).lines.join('\n');
    const row = table.split('\n').find((line) => line.startsWith('app'))!;
    expect(row).toMatch(/^app\s+req\/s\s+higher\s/);
    expect(rowResult([skipped, measured], 'app')).toBe(measured);
    expect(rowResult([skipped], 'app')).toBe(skipped);
  });
});
