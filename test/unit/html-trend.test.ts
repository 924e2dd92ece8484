import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/reporters/html.js';
import { historyEntry, type HistoryEntry } from '../../src/results/history.js';
import { resultOf, resultsFileOf } from '../builders.js';

const current = resultsFileOf([resultOf('native', 'cpu', [5.6e6, 5.5e6, 5.7e6]), resultOf('docker', 'cpu', [5.2e6, 5.3e6, 5.1e6])]);

function recorded(commit: string, ref: string, nativeCpu: number[], profile = 'standard'): HistoryEntry {
  const file = resultsFileOf([resultOf('native', 'cpu', nativeCpu)]);
  file.profile = profile;
  return historyEntry(file, { commit, ref, recordedAt: new Date('2026-11-24T01:00:00Z') });
}

/** The TRENDS constant the page's script draws from. */
function trendsOf(html: string): { id: string; title: string; labels: string[]; details: string[]; median: (number | null)[] }[] {
  const json = /const TRENDS = (.*);\n/.exec(html)?.[1];
  if (json === undefined) throw new Error('no TRENDS in the page');
  return JSON.parse(json) as ReturnType<typeof trendsOf>;
}

describe('the HTML trend', () => {
  it('draws, per platform and benchmark, the median of each recorded run and this run last', async () => {
    const history = [
      recorded('1111111aaaa', 'main', [5.0e6, 5.2e6, 5.1e6]),
      recorded('2222222bbbb', 'main', [5.3e6]),
      recorded('9999999cccc', 'main', [1e3], 'quick'), // another profile: other work sizes, left out
      recorded('3333333dddd', 'main', [5.4e6, 5.6e6]),
    ];
    const html = await renderHtml(current, undefined, history);
    expect(trendsOf(html)).toEqual([
      {
        id: 'trend-0',
        title: 'native cpu (kFLOPS, higher is better)',
        unit: 'kFLOPS',
        labels: ['1111111', '2222222', '3333333', 'this run'],
        details: [
          '1111111aaaa on main, 2026-11-24T00:00:00Z',
          '2222222bbbb on main, 2026-11-24T00:00:00Z',
          '3333333dddd on main, 2026-11-24T00:00:00Z',
          'this run, 2026-11-24T00:00:00Z',
        ],
        median: [5.1e6, 5.3e6, 5.5e6, 5.6e6],
      },
    ]); // docker was never recorded: no trend to draw
    expect(html).toContain('<h2>Trend</h2>');
    expect(html).toContain('Median of each of the 3 recorded runs of the standard profile on main');
    expect(html).toContain('<canvas id="trend-0" role="img" aria-label="native cpu (kFLOPS, higher is better)">');
    expect(html).toContain('document.body.dataset.trends');
  });

  it('has no trend without a history, and the charts as before', async () => {
    const html = await renderHtml(current);
    expect(html).not.toContain('<h2>Trend</h2>');
    expect(trendsOf(html)).toEqual([]);
    expect(html.match(/<canvas /g)).toHaveLength(1); // the one cpu chart
  });

  it('escapes a hostile commit and ref in the text and in the script data', async () => {
    const hostile = '</script><script>alert(1)</script><!--';
    const history = [recorded(hostile, '<img src=x onerror=alert(2)>"', [5e6]), recorded('4444444', 'main', [5.1e6])];
    const html = await renderHtml(current, undefined, history);
    expect(html).not.toContain('alert(1)</script>');
    expect(html).not.toContain('<img src=x');
    expect(html).not.toContain('<!--');
    expect(html).toContain('on &lt;img src=x onerror=alert(2)&gt;&quot;, main,'); // shown as text
    // Our two <script> elements (chart.js and the data) and no other.
    expect(html.match(/<script>/g)).toHaveLength(2);
    expect(html.match(/<\/script>/g)).toHaveLength(2);
    // The data still holds the strings as they are, for the axis labels and tooltips.
    const [trend] = trendsOf(html);
    expect(trend!.labels[0]).toBe(hostile.slice(0, 7));
    expect(trend!.details[0]).toBe(`${hostile} on <img src=x onerror=alert(2)>", 2026-11-24T00:00:00Z`);
  });
});

describe('a stand-in in the HTML report', () => {
  /** The DATA constant the charts draw from. */
  function chartsOf(html: string): { labels: string[]; median: (number | null)[]; iqr: unknown[]; runs: { x: string }[] }[] {
    const json = /const DATA = (.*);\n/.exec(html)?.[1];
    if (json === undefined) throw new Error('no DATA in the page');
    return JSON.parse(json) as ReturnType<typeof chartsOf>;
  }

  it("marks the stand-in platform's figure in the table, explains the mark, and draws no bar of the variant's for it", async () => {
    const file = resultsFileOf([
      resultOf('native', 'cpu', [3000, 3000, 3000]),
      resultOf('qemu-tcg', 'cpu', [1230, 1230, 1230]),
      resultOf('qemu-tcg-ide', 'cpu', [], { status: 'skipped', standIn: 'qemu-tcg', skipReason: 'not measured on qemu-tcg-ide' }),
      resultOf('qemu-tcg-ide', 'disk-random', [3000, 3000, 3000]),
    ]);
    const html = await renderHtml(file);
    expect(html).toContain('<td>(1.23k as qemu-tcg)</td>');
    expect(html).toContain("<p>(N as P) = not measured on that column's platform");
    const [cpu] = chartsOf(html);
    expect(cpu!.labels).toEqual(['native', 'qemu-tcg', 'qemu-tcg-ide']);
    expect(cpu!.median).toEqual([3000, 1230, null]);
    expect(cpu!.runs.map((r) => r.x)).not.toContain('qemu-tcg-ide');
  });
});
