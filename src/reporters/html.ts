import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { Comparison } from './compare.js';
import { driftWarnings } from './drift.js';
import { findings } from './findings.js';
import { baselinePlatform, tablePlatforms } from './ordering.js';
import type { ResultsFile } from '../results/schema.js';
import { benchmarkLabel, formatCell, formatChange, formatValue } from './table.js';

const escapeHtml = (text: string) =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** Text placed inside <script> must not close it early (only strings can hold "</script"). */
const scriptSafe = (text: string) => text.replace(/<\/(script)/gi, '<\\/$1');

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
    const rows = platforms.map((p) => file.results.find((r) => r.platform === p && r.benchmark === benchmark));
    const any = rows.find(Boolean)!;
    return {
      id: `chart-${benchmark}`,
      title: `${benchmarkLabel(any)}: ${any.title} (${any.unit}, ${any.better} is better)`,
      unit: any.unit,
      labels: platforms,
      iqr: rows.map((r) => (r?.summary ? [r.summary.q1, r.summary.q3] : null)),
      median: rows.map((r) => r?.summary?.median ?? null),
      runs: rows.flatMap((r, i) => (r ? r.samples.map((s) => ({ x: platforms[i], y: s.value })) : [])),
    };
  });
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;padding:0 1rem;color:#1b1b1b}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}.chart{height:18rem;margin-bottom:2rem}h2{margin-top:2rem}`;

const RENDER = `for (const c of DATA) {
  new Chart(document.getElementById(c.id), {
    data: { labels: c.labels, datasets: [
      { type: 'bar', label: 'IQR (q1 to q3)', data: c.iqr, backgroundColor: 'rgba(54,162,235,0.35)', barPercentage: 0.35 },
      { type: 'line', label: 'median', data: c.median, showLine: false, pointStyle: 'line', pointRadius: 18, borderWidth: 3, borderColor: '#c0392b' },
      { type: 'line', label: 'runs', data: c.runs, showLine: false, pointRadius: 3, borderColor: '#333', backgroundColor: '#333' },
    ] },
    // Not from zero: the point is the spread of the runs and the gap between platforms.
    options: { animation: false, maintainAspectRatio: false, scales: { y: { beginAtZero: false, title: { display: true, text: c.unit } } },
      plugins: { title: { display: true, text: c.title } } },
  });
}
document.body.dataset.charts = String(DATA.length);`;

/** One self-contained HTML file: charts, the comparison table, the baseline comparison and the environment. */
export async function renderHtml(file: ResultsFile, comparisons?: readonly Comparison[]): Promise<string> {
  const platforms = tablePlatforms(file.results);
  const baseline = baselinePlatform(platforms);
  const benchmarks = [...new Set(file.results.map((r) => r.benchmark))];
  const charts = chartData(file, platforms);
  const find = (p: string, b: string) => file.results.find((r) => r.platform === p && r.benchmark === b);

  const summaryRows = benchmarks.map((b) => {
    const any = file.results.find((r) => r.benchmark === b)!;
    return [
      benchmarkLabel(any),
      any.unit,
      any.better,
      ...platforms.map((p) => formatCell(find(p, b), baseline ? find(baseline, b) : undefined)),
    ];
  });
  const compareSection =
    comparisons && comparisons.length > 0
      ? `<h2>Against the baseline</h2>${table(
          ['platform', 'benchmark', 'baseline', 'now', 'change [95% CI], p', 'verdict'],
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
  const facts = [...driftWarnings(file.results, baseline).map((w) => `Warning: ${w}`), ...findings(file)];

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>virtbench report</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>${STYLE}</style></head>
<body>
<h1>virtbench</h1>
<p>${escapeHtml(`${file.profile} profile, ${platforms.join(' vs ')}, ${file.createdAt}`)}</p>
${table(['benchmark', 'unit', 'better', ...platforms], summaryRows)}
<p>Median ±half the IQR; Nx = performance vs ${escapeHtml(baseline ?? '-')}, above 1 is better.</p>
${facts.length ? `<h2>Findings</h2><ul>${facts.map((f) => `<li>${escapeHtml(f)}</li>`).join('')}</ul>` : ''}
${compareSection}
<h2>Charts</h2>
${charts.map((c) => `<div class="chart"><canvas id="${escapeHtml(c.id)}" role="img" aria-label="${escapeHtml(c.title)}"></canvas></div>`).join('\n')}
<h2>Environment</h2>
${table(['where', 'fact', 'value'], environmentRows)}
<script>${scriptSafe(await chartJsSource())}</script>
<script>const DATA = ${scriptSafe(JSON.stringify(charts))};
${RENDER}</script>
</body></html>
`;
}
