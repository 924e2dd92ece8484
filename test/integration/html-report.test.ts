import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { compareResults } from '../../src/statistics/compare.js';
import { renderHtml } from '../../src/reporters/html.js';
import type { BenchmarkResult } from '../../src/results/schema.js';
import { resultOf, resultsFileOf } from '../builders.js';

const CHROMIUM = '/usr/bin/chromium';

/** Five rounds, as a run of the platforms in turns records them. */
const rounds = (r: BenchmarkResult) => (r.samples.forEach((s, round) => (s.extra = { round })), r);
// Each platform's rounds scatter in an order of their own, so that the ratios of the rounds scatter too.
const ORDERS = {
  native: [0, 1, -1, 0.5, -0.5],
  docker: [0.5, -1, 0, 1, -0.5],
  podman: [-0.5, 0.5, 1, -1, 0],
  'qemu-tcg': [1, 0, -0.5, -1, 0.5],
};
const spread = (platform: keyof typeof ORDERS, median: number, by: number) => ORDERS[platform].map((s) => median * (1 + s * by));
// Every verdict: slower (TCG at 0.03x, the flat line a linear axis drew), faster, the same, cannot tell.
const file = resultsFileOf(
  [
    rounds(resultOf('native', 'cpu', spread('native', 5.6e6, 0.01))),
    rounds(resultOf('docker', 'cpu', spread('docker', 5.5e6, 0.01))),
    rounds(resultOf('podman', 'cpu', spread('podman', 5.3e6, 0.15))),
    rounds(resultOf('qemu-tcg', 'cpu', spread('qemu-tcg', 1.7e5, 0.02))),
    rounds(resultOf('native', 'mem', spread('native', 0.34, 0.01))),
    rounds(resultOf('docker', 'mem', [0.341, 0.338, 0.343, 0.34, 0.339])),
    rounds(resultOf('podman', 'mem', spread('podman', 0.3, 0.01))),
    rounds(resultOf('qemu-tcg', 'mem', spread('qemu-tcg', 6.1, 0.02))),
  ],
  { cpuModel: 'AMD EPYC </script><b>', cpus: 2 },
);
file.environment.platforms.docker = { storageDriver: 'overlay2' };

describe.skipIf(!existsSync(CHROMIUM))(`HTML report in headless Chromium (${CHROMIUM}; apt-get install chromium)`, () => {
  it('renders offline: the forest plot of every ratio, a log-scale chart per benchmark, the findings led by their verdicts, the environment and the baseline comparison, without console errors', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-html-'));
    const path = join(dir, 'report.html');
    await writeFile(path, await renderHtml(file, compareResults(file, file)));

    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(m.text()));
      page.on('pageerror', (e) => problems.push(e.message));
      page.on('request', (r) => requests.push(r.url()));
      await page.goto(`file://${path}`);
      await page.waitForFunction(() => document.body.dataset.charts === '2', undefined, { timeout: 10_000 });

      expect(problems).toEqual([]);
      expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]); // self-contained: no CDN
      const charts = await page.evaluate(() =>
        [...document.querySelectorAll('canvas')].map((canvas) => {
          const chart = (
            window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { data: { datasets: unknown[] } } | undefined } }
          ).Chart.getChart(canvas);
          return { id: canvas.id, datasets: chart?.data.datasets.length ?? 0, width: canvas.width };
        }),
      );
      expect(charts).toEqual([
        { id: 'chart-cpu', datasets: 3, width: expect.any(Number) },
        { id: 'chart-mem', datasets: 3, width: expect.any(Number) },
      ]);
      expect(charts.every((c) => c.width > 0)).toBe(true);
      const scales = await page.evaluate(() =>
        [...document.querySelectorAll('canvas')].map(
          (canvas) =>
            (
              window as unknown as { Chart: { getChart(c: HTMLCanvasElement): { options: { scales: { y: { type: string } } } } } }
            ).Chart.getChart(canvas).options.scales.y.type,
        ),
      );
      expect(scales).toEqual(['logarithmic', 'logarithmic']);

      // The forest plot opens the report: one mark per ratio to native, each a dot on its interval.
      const first = await page.evaluate(() => document.querySelector('h1 ~ *:not(p)')?.tagName);
      expect(first).toBe('FIGURE');
      const marks = await page.evaluate(() =>
        [...document.querySelectorAll('svg.forest g.ratio')].map((g) => {
          const dot = g.querySelector('circle.estimate')!.getBoundingClientRect();
          const bar = g.querySelector('line.interval')?.getBoundingClientRect();
          const el = g as SVGGElement;
          return {
            benchmark: el.dataset.benchmark,
            platform: el.dataset.platform,
            reading: el.dataset.reading,
            ratio: Number(el.dataset.ratio),
            low: Number(el.dataset.low),
            high: Number(el.dataset.high),
            dot: dot.x + dot.width / 2,
            bar: bar ? ([bar.left, bar.right] as const) : undefined,
          };
        }),
      );
      expect(marks.map((m) => `${m.benchmark} ${m.platform} ${m.reading}`)).toEqual([
        'cpu docker slower',
        'cpu podman undecided',
        'cpu qemu-tcg slower',
        'mem docker equivalent',
        'mem podman faster',
        'mem qemu-tcg slower',
      ]);
      const one = await page.evaluate(() => {
        const r = document.querySelector('svg.forest line.one')!.getBoundingClientRect();
        return r.x + r.width / 2;
      });
      for (const m of marks) {
        expect(m.low).toBeLessThanOrEqual(m.ratio);
        expect(m.high).toBeGreaterThanOrEqual(m.ratio);
        // The bar spans the dot, on the side of the line at 1x the verdict says.
        expect(m.bar![0]).toBeLessThanOrEqual(m.dot);
        expect(m.bar![1]).toBeGreaterThanOrEqual(m.dot);
        expect(m.bar![1] - m.bar![0]).toBeGreaterThan(0);
        if (m.reading === 'slower') expect(m.bar![1]).toBeLessThan(one);
        if (m.reading === 'faster') expect(m.bar![0]).toBeGreaterThan(one);
      }
      // Log scale: TCG's 0.03x is as far left of 1x as 30x would be right of it, not squashed at the edge.
      const tcg = marks.find((m) => m.platform === 'qemu-tcg' && m.benchmark === 'cpu')!;
      const docker = marks.find((m) => m.platform === 'docker' && m.benchmark === 'cpu')!;
      expect(one - tcg.dot).toBeGreaterThan(10 * (one - docker.dot));

      const findings = await page.evaluate(() => [...document.querySelectorAll('.findings li li')].map((li) => li.textContent));
      expect(findings).toContain(
        'slower: 0.03x cpu: qemu-tcg 0.03x [0.03, 0.03] native (qemu-tcg 170k, native 5.60M kFLOPS; higher is better)',
      );
      expect(findings.some((f) => f!.startsWith('same: ≈1x mem: the same within ±5.0%'))).toBe(true);
      expect(findings.some((f) => /^cannot tell: ±\d+% cpu: differences within/.test(f!))).toBe(true);

      const text = await page.textContent('body');
      expect(text).toContain('Against the baseline');
      expect(text).toContain('AMD EPYC </script><b>'); // escaped, shown as text
      expect(text).toContain('storageDriver');
      expect(problems).toEqual([]);
      // Into the test's own directory (removed by nothing: a person may look at it), named in the output.
      const screenshot = join(dir, 'report.png');
      await page.setViewportSize({ width: 1100, height: 900 });
      await page.screenshot({ path: screenshot, fullPage: true });
      const png = await readFile(screenshot);
      expect(png.length).toBeGreaterThan(10_000);
      expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
      console.log(`screenshot: ${screenshot}`);
    } finally {
      await browser.close();
    }
  });
});
