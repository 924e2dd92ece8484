import { isStandIn, type BenchmarkResult } from '../results/schema.js';
import { ratioToBaseline, readingOf, type RatioEstimate, type RatioReading } from '../statistics/ratio.js';
import { verdictWords } from './findings.js';
import { benchmarkLabel, formatRatioWithCi } from './table.js';

/*
 * Every ratio to the baseline platform in one picture, a forest plot: a row per platform and benchmark
 * (grouped by benchmark), the estimate as a dot, its 95 % interval as a bar, the verdict as the colour,
 * on a log axis with a line at 1x. An inline SVG made here, so the report needs no script for it and
 * works offline; the log axis draws 0.03x and 1.2x with the same care, and 2x faster as far from 1 as
 * 2x slower. The verdicts are ratio.ts's: this file only places them.
 */

export interface ForestRow {
  benchmark: string;
  /** The benchmark's heading: its label and title. */
  group: string;
  platform: string;
  estimate: RatioEstimate;
  reading: RatioReading;
}

/** The rows of the plot: each measured platform but the baseline, per benchmark, in the table's order. */
export function forestRows(results: readonly BenchmarkResult[], platforms: readonly string[], baseline: string | undefined): ForestRow[] {
  if (!baseline) return [];
  const find = (platform: string, benchmark: string) => results.find((r) => r.platform === platform && r.benchmark === benchmark);
  const benchmarks = [...new Set(results.map((r) => r.benchmark))];
  return benchmarks.flatMap((benchmark) => {
    const base = find(baseline, benchmark);
    return platforms.flatMap((platform) => {
      const result = find(platform, benchmark);
      if (!result || platform === baseline || isStandIn(result)) return [];
      const estimate = ratioToBaseline(result, base);
      if (!estimate) return [];
      const label = benchmarkLabel(result);
      const group = result.title && result.title !== label ? `${label}: ${result.title}` : label;
      return [{ benchmark, group, platform, estimate, reading: readingOf(estimate) }];
    });
  });
}

/** The colours of the verdicts; "cannot tell" is also a hollow dot, for a reader who does not tell the colours apart. */
export const READING_COLOURS: Record<RatioReading, string> = {
  faster: '#1a7f37',
  slower: '#c0392b',
  equivalent: '#2f6db5',
  undecided: '#8a8a8a',
};

const escapeXml = (text: string) => text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** "0.03x", "0.5x", "1x", "20x": a tick's label. */
function tickLabel(value: number): string {
  return `${Number(value.toPrecision(3))}x`;
}

/** The axis ticks within [lo, hi] (log10 bounds): 1, 2 and 5 per decade, only the decades over a very wide span, steps of 5 or 10 % over a narrow one. */
function ticks(lo: number, hi: number): number[] {
  const within = (values: number[]) => values.filter((v) => Math.log10(v) >= lo && Math.log10(v) <= hi);
  if (hi - lo < 0.15) return within([0.8, 0.85, 0.9, 0.95, 1, 1.05, 1.1, 1.15, 1.2]);
  if (hi - lo < 0.4) return within([0.5, 0.6, 0.7, 0.8, 0.9, 1, 1.1, 1.2, 1.3, 1.5, 1.7, 2]);
  const decades: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++) decades.push(e);
  const steps = within(decades.flatMap((e) => [1, 2, 5].map((m) => Number((m * 10 ** e).toPrecision(1)))));
  return steps.length > 12 ? within(decades.map((e) => Number((10 ** e).toPrecision(1)))) : steps;
}

const NICE = [1, 2, 5, 10];

/** The largest 1, 2 or 5 times a power of ten at or below a value. */
function niceDown(value: number): number {
  const decade = 10 ** Math.floor(Math.log10(value));
  return decade * NICE.filter((m) => m * decade <= value * (1 + 1e-9)).at(-1)!;
}

/** The smallest 1, 2 or 5 times a power of ten at or above a value. */
function niceUp(value: number): number {
  const decade = 10 ** Math.floor(Math.log10(value));
  return decade * NICE.find((m) => m * decade >= value * (1 - 1e-9))!;
}

const WIDTH = 960;
const LABEL = 170;
const TEXT = 190;
const ROW = 18;
const HEADING = 24;
const AXIS = 26;

/** The forest plot as an SVG element; empty where no platform has a ratio to the baseline. */
export function forestSvg(rows: readonly ForestRow[], baseline: string): string {
  if (rows.length === 0) return '';
  const bounds = rows.flatMap(({ estimate }) => [estimate.ratio, ...(estimate.ci95 ?? [])]).map(Math.log10);
  const least = Math.min(0, ...bounds);
  const most = Math.max(0, ...bounds);
  const pad = Math.max(0.04, (most - least) * 0.04);
  // A side far from 1 reaches out to the next tick of 1, 2 or 5 beyond its farthest mark, so that the axis is labelled past it.
  const lo = Math.min(least < -0.2 ? Math.log10(niceDown(10 ** least)) : 0, least - pad);
  const hi = Math.max(most > 0.2 ? Math.log10(niceUp(10 ** most)) : 0, most + pad);
  const x0 = LABEL;
  const x1 = WIDTH - TEXT;
  const x = (value: number) => x0 + ((Math.log10(value) - lo) / (hi - lo)) * (x1 - x0);
  const px = (n: number) => n.toFixed(1);

  const stripes: string[] = [];
  const parts: string[] = [];
  let y = AXIS;
  let group: string | undefined;
  let stripe = false;
  for (const row of rows) {
    if (row.group !== group) {
      group = row.group;
      y += 6;
      parts.push(`<text class="group" x="4" y="${px(y + HEADING - 8)}" font-weight="600">${escapeXml(row.group)}</text>`);
      y += HEADING;
      stripe = false;
    }
    const mid = y + ROW / 2;
    const colour = READING_COLOURS[row.reading];
    const { estimate } = row;
    const ci = estimate.ci95;
    if (stripe) stripes.push(`<rect x="0" y="${px(y)}" width="${WIDTH}" height="${ROW}" fill="#f4f4f4"/>`);
    stripe = !stripe;
    const words = verdictWords(estimate);
    const data = [
      `data-benchmark="${escapeXml(row.benchmark)}"`,
      `data-platform="${escapeXml(row.platform)}"`,
      `data-reading="${row.reading}"`,
      `data-ratio="${estimate.ratio}"`,
      ...(ci ? [`data-low="${ci[0]}"`, `data-high="${ci[1]}"`] : []),
    ].join(' ');
    parts.push(
      `<g class="ratio" ${data}><title>${escapeXml(`${row.platform}, ${row.benchmark}: ${words}; ${formatRatioWithCi(estimate)} against ${baseline}`)}</title>` +
        `<text x="${x0 - 8}" y="${px(mid + 4)}" text-anchor="end">${escapeXml(row.platform)}</text>` +
        (ci
          ? `<line class="interval" x1="${px(x(ci[0]))}" x2="${px(x(ci[1]))}" y1="${px(mid)}" y2="${px(mid)}" stroke="${colour}" stroke-width="3" stroke-linecap="round"/>`
          : '') +
        `<circle class="estimate" cx="${px(x(estimate.ratio))}" cy="${px(mid)}" r="4.5" fill="${row.reading === 'undecided' ? '#fff' : colour}" stroke="${colour}" stroke-width="2"/>` +
        `<text x="${x1 + 10}" y="${px(mid + 4)}" fill="${colour}">${escapeXml(words)}</text>` +
        `</g>`,
    );
    y += ROW;
  }
  const bottom = y;
  const height = bottom + 42;
  const grid = ticks(lo, hi).map((value) => {
    const at = px(x(value));
    return (
      `<line x1="${at}" x2="${at}" y1="${AXIS - 4}" y2="${bottom + 4}" stroke="#ddd"/>` +
      `<text x="${at}" y="${AXIS - 8}" text-anchor="middle">${tickLabel(value)}</text>` +
      `<text x="${at}" y="${bottom + 18}" text-anchor="middle">${tickLabel(value)}</text>`
    );
  });
  const label = `Performance against ${baseline} of every platform and benchmark, log scale: a dot per ratio with its 95% interval`;
  return (
    `<svg class="forest" role="img" aria-label="${escapeXml(label)}" viewBox="0 0 ${WIDTH} ${height}" width="100%" ` +
    `xmlns="http://www.w3.org/2000/svg" font-family="system-ui, sans-serif" font-size="12">` +
    // Stripes, then the grid and the line at 1x, then the marks over them.
    `${stripes.join('')}<g class="axis">${grid.join('')}</g>` +
    `<line class="one" x1="${px(x(1))}" x2="${px(x(1))}" y1="${AXIS - 4}" y2="${bottom + 4}" stroke="#222" stroke-width="1.5"/>` +
    `${parts.join('')}` +
    `<text x="${px(x(1))}" y="${bottom + 36}" text-anchor="middle" fill="#444">← slower than ${escapeXml(baseline)} · faster →</text>` +
    `</svg>`
  );
}
