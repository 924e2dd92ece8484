import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Comparison } from '../statistics/compare.js';
import { driftWarnings } from '../statistics/drift.js';
import { findingsOf } from './findings.js';
import { forestRows, forestSvg, READING_COLOURS } from './forest.js';
import { baselinePlatform, rowResult, tablePlatforms } from './ordering.js';
import { shortCommit, type HistoryEntry } from '../results/history.js';
import { isStandIn, type ResultsFile } from '../results/schema.js';
import { recordedMedians } from '../statistics/history.js';
import { formatPercent, formatValue } from '../results/format.js';
import { benchmarkLabel, cellOf, formatChange, STAND_IN_LEGEND, standInShown } from './table.js';
import { EQUIVALENCE_MARGIN, legendLevels, type RatioReading } from '../statistics/ratio.js';
import { resolutionTarget, runResolution } from '../statistics/resolution.js';
import { resolutionTable, undecidedLine } from './resolution.js';

const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** Text placed inside <script> must not close it early (only strings can hold "</script"). */
const scriptSafe = (text: string) => text.replace(/<\/(script)/gi, '<\\/$1');

/** Data for a <script>: with no "<" at all, no "</script" or "<!--" from a file can change how the page parses. */
const scriptJson = (value: unknown) => JSON.stringify(value).replaceAll('<', '\\u003c');

async function chartJsSource(): Promise<string> {
  // The UMD build defines window.Chart; inlined so the report works offline.
  // chart.js exports no subpath for it; find it beside the package's main file.
  const path = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
  return readFile(path, 'utf8');
}

function table(head: string[], rows: string[][]): string {
  const cells = (tag: string, r: string[]) => r.map((c) => `<${tag}>${escapeHtml(c)}</${tag}>`).join('');
  return `<table><thead><tr>${cells('th', head)}</tr></thead><tbody>${rows.map((r) => `<tr>${cells('td', r)}</tr>`).join('')}</tbody></table>`;
}

/** Per benchmark: platforms side by side with each run, the IQR as a floating bar and the median. */
function chartData(file: ResultsFile, platforms: string[]) {
  const benchmarks = [...new Set(file.results.map((r) => r.benchmark))];
  return benchmarks.map((benchmark) => {
    // A stand-in has no bar of its own: its figure is another platform's, drawn in that platform's place.
    const rows = platforms.map((p) => file.results.find((r) => r.platform === p && r.benchmark === benchmark && !isStandIn(r)));
    const any = rows.find((r) => r && r.samples.length > 0) ?? rowResult(file.results, benchmark)!;
    return {
      id: `chart-${benchmark}`,
      title: `${benchmarkLabel(any)}: ${any.title} (${any.unit}, ${any.better} is better; log scale)`,
      unit: any.unit,
      labels: platforms,
      iqr: rows.map((r) => (r?.summary ? [r.summary.q1, r.summary.q3] : null)),
      median: rows.map((r) => r?.summary?.median ?? null),
      runs: rows.flatMap((r, i) => (r ? r.samples.map((s) => ({ x: platforms[i], y: s.value })) : [])),
    };
  });
}

/** What the run resolved: the findings' last line, and a table per benchmark ('' where nothing was compared). */
function resolutionHtml(file: ResultsFile): { undecided: string; section: string } {
  const resolved = runResolution(file);
  const target = resolutionTarget(file);
  const line = undecidedLine(resolved, target);
  const resolution = resolutionTable(resolved, file.results, target);
  return {
    undecided: line ? `<p>${escapeHtml(line)}</p>` : '',
    section: resolution
      ? `<h2>Resolution</h2>${table(resolution.header, resolution.rows)}<p>${escapeHtml(`${resolution.legend}.`)}</p>`
      : '',
  };
}

/** The forest plot's key: what each colour says. */
const KEYS: [RatioReading, string][] = [
  ['faster', 'faster (the interval lies above 1)'],
  ['slower', 'slower (below 1)'],
  ['equivalent', `the same within ±${formatPercent(EQUIVALENCE_MARGIN)} (≈1x)`],
  ['undecided', 'cannot tell (hollow)'],
];

/** The label of the current run on a trend's x axis. */
const THIS_RUN = 'this run';

/**
 * Per platform and benchmark of the current run: the median of each recorded
 * run (recordedMedians: null where a run lacks it or measured it in another unit),
 * then the current run's median as the last point.
 */
function trendData(file: ResultsFile, runs: readonly HistoryEntry[]) {
  return file.results.flatMap((current, index) => {
    const medians = recordedMedians(current, runs);
    if (medians.every((m) => m === null)) return [];
    return [
      {
        id: `trend-${index}`,
        title: `${current.platform} ${benchmarkLabel(current)} (${current.unit}, ${current.better} is better)`,
        unit: current.unit,
        labels: [...runs.map((run) => shortCommit(run.commit)), THIS_RUN],
        details: [...runs.map((run) => `${run.commit} on ${run.ref}, ${run.createdAt}`), `this run, ${file.createdAt}`],
        median: [...medians, current.summary?.median ?? null],
      },
    ];
  });
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}.chart{height:18rem;margin-bottom:2rem}h2{margin-top:2rem}
.trends{display:grid;grid-template-columns:repeat(auto-fill,minmax(20rem,1fr));gap:1rem}.trend{height:11rem}
figure.forest{margin:1rem 0 2rem}figure.forest figcaption{margin-bottom:.4rem}.key{display:inline-block;margin-right:1.2rem}
.dot{display:inline-block;width:.7rem;height:.7rem;border-radius:50%;border:2px solid;margin-right:.3rem;vertical-align:-.1rem}
.verdict{font-weight:600;white-space:nowrap}.findings>li{margin-bottom:.5rem}.findings ul{margin:.2rem 0;padding-left:1.2rem}`;

const RENDER = `for (const c of DATA) {
  new Chart(document.getElementById(c.id), {
    data: { labels: c.labels, datasets: [
      { type: 'bar', label: 'IQR (q1 to q3)', data: c.iqr, backgroundColor: 'rgba(54,162,235,0.35)', barPercentage: 0.35 },
      { type: 'line', label: 'median', data: c.median, showLine: false, pointStyle: 'line', pointRadius: 18, borderWidth: 3, borderColor: '#c0392b' },
      { type: 'line', label: 'runs', data: c.runs, showLine: false, pointRadius: 3, borderColor: '#333', backgroundColor: '#333' },
    ] },
    // Log scale: a platform at 0.03x of another keeps a visible spread of its own, and equal ratios look equal.
    options: { animation: false, maintainAspectRatio: false, scales: { y: { type: 'logarithmic', title: { display: true, text: c.unit } } },
      plugins: { title: { display: true, text: c.title } } },
  });
}
document.body.dataset.charts = String(DATA.length);
for (const t of TRENDS) {
  const last = t.median.length - 1;
  new Chart(document.getElementById(t.id), {
    type: 'line',
    data: { labels: t.labels, datasets: [{ label: 'median', data: t.median, spanGaps: true, borderColor: '#555', tension: 0,
      // The current run stands out: larger and red.
      pointRadius: t.median.map((_, i) => (i === last ? 6 : 2.5)),
      pointBackgroundColor: t.median.map((_, i) => (i === last ? '#c0392b' : '#555')),
      pointBorderColor: t.median.map((_, i) => (i === last ? '#c0392b' : '#555')) }] },
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: false, title: { display: true, text: t.unit } } },
      plugins: { legend: { display: false }, title: { display: true, text: t.title },
        tooltip: { callbacks: { title: (items) => t.details[items[0].dataIndex] } } } },
  });
}
document.body.dataset.trends = String(TRENDS.length);`;

/**
 * One self-contained HTML file: charts, the comparison table, the baseline comparison, the trend over
 * the recorded main-branch runs (when a history is given) and the environment.
 */
export async function renderHtml(
  file: ResultsFile,
  comparisons?: readonly Comparison[],
  history?: readonly HistoryEntry[],
): Promise<string> {
  const platforms = tablePlatforms(file.results);
  const baseline = baselinePlatform(platforms);
  const benchmarks = [...new Set(file.results.map((r) => r.benchmark))];
  const charts = chartData(file, platforms);
  const find = (p: string, b: string) => file.results.find((r) => r.platform === p && r.benchmark === b);

  const summaryRows = benchmarks.map((b) => {
    const any = rowResult(file.results, b)!;
    return [
      benchmarkLabel(any),
      any.unit,
      any.better,
      ...platforms.map((p) => cellOf(find(p, b), baseline ? find(baseline, b) : undefined, find)),
    ];
  });
  const compareSection =
    comparisons && comparisons.length > 0
      ? `<h2>Against the baseline</h2>${table(
          ['platform', 'benchmark', 'baseline', 'now', 'change [95% CI]', 'verdict'],
          comparisons.map((c) => [
            c.platform,
            c.benchmark,
            c.baselineMedian === undefined ? '-' : formatValue(c.baselineMedian),
            c.currentMedian === undefined ? '-' : formatValue(c.currentMedian),
            formatChange(c),
            c.verdict + (c.failsGate ? ' (fails the gate)' : ''),
          ]),
        )}`
      : '';
  const environmentRows = [
    ...Object.entries(file.environment.host).map(([k, v]) => ['host', k, String(v)]),
    ...Object.entries(file.environment.platforms).flatMap(([p, info]) => Object.entries(info).map(([k, v]) => [p, k, String(v)])),
  ];
  // Another profile runs other sizes of work: its figures are not the same quantity.
  const trendRuns = (history ?? []).filter((e) => e.profile === file.profile);
  const trends = trendData(file, trendRuns);
  const trendSection =
    trends.length > 0
      ? `<h2>Trend</h2>
<p>${escapeHtml(
          `Median of each of the ${trendRuns.length} recorded runs of the ${file.profile} profile on ${[...new Set(trendRuns.map((e) => e.ref))].join(', ')}, ` +
            'oldest first (labelled by commit), then this run (red).',
        )}</p>
<div class="trends">${trends.map((t) => `<div class="trend"><canvas id="${escapeHtml(t.id)}" role="img" aria-label="${escapeHtml(t.title)}"></canvas></div>`).join('\n')}</div>`
      : '';
  const warnings = driftWarnings(file.results, baseline).map((w) => `<li>${escapeHtml(`Warning: ${w}`)}</li>`);
  const answers = findingsOf(file).map(
    ({ question, answers }) =>
      `<li>${escapeHtml(question)}<ul>${answers
        .map(
          (a) =>
            `<li>${a.verdict ? `<span class="verdict" style="color:${READING_COLOURS[a.verdict.reading]}">${escapeHtml(a.verdict.words)}</span> ` : ''}${escapeHtml(a.text)}</li>`,
        )
        .join('')}</ul></li>`,
  );
  const facts = [...warnings, ...answers];
  const resolution = resolutionHtml(file);
  const forest = baseline ? forestSvg(forestRows(file.results, platforms, baseline), baseline) : '';
  const forestSection = forest
    ? `<figure class="forest"><figcaption>${escapeHtml(
        `Performance against ${baseline}, every platform and benchmark (log scale): the dot is the ratio (above 1 is better), the bar its ${legendLevels(file.results).difference} interval${legendLevels(file.results).note}.`,
      )}<br>${KEYS.map(
        ([reading, words]) =>
          `<span class="key"><span class="dot" style="border-color:${READING_COLOURS[reading]};background:${reading === 'undecided' ? '#fff' : READING_COLOURS[reading]}"></span>${escapeHtml(words)}</span>`,
      ).join('')}</figcaption>${forest}</figure>`
    : '';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>virtbench report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>virtbench</h1>
<p>${escapeHtml(`${file.profile} profile, ${platforms.join(' vs ')}, ${file.createdAt}`)}</p>
${forestSection}
${table(['benchmark', 'unit', 'better', ...platforms], summaryRows)}
<p>Median ±half the IQR; Nx = performance vs ${escapeHtml(baseline ?? '-')}, above 1 is better.</p>
${standInShown(file.results, platforms) ? `<p>${escapeHtml(STAND_IN_LEGEND)}.</p>` : ''}
${facts.length ? `<h2>Findings</h2><ul class="findings">${facts.join('')}</ul>${resolution.undecided}` : ''}
${resolution.section}
${compareSection}
<h2>Charts</h2>
${charts.map((c) => `<div class="chart"><canvas id="${escapeHtml(c.id)}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div>`).join('\n')}
${trendSection}
<h2>Environment</h2>
${table(['where', 'fact', 'value'], environmentRows)}
<script>${scriptSafe(await chartJsSource())}</script>
<script>const DATA = ${scriptJson(charts)};
const TRENDS = ${scriptJson(trends)};
${RENDER}</script>
</body></html>
`;
}
