import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { compareResults } from '../../src/statistics/compare.js';
import { renderHtml } from '../../src/reporters/html.js';
import { resultOf, resultsFileOf } from '../builders.js';

const CHROMIUM = '/usr/bin/chromium';

const file = resultsFileOf(
  [
    resultOf('native', 'cpu', [5.6e6, 5.5e6, 5.7e6]),
    resultOf('docker', 'cpu', [5.4e6, 5.5e6, 5.3e6]),
    resultOf('native', 'mem', [0.34, 0.35, 0.33]),
    resultOf('docker', 'mem', [0.36, 0.37, 0.35]),
  ],
  { cpuModel: 'AMD EPYC </script><b>', cpus: 2 },
);
file.environment.platforms.docker = { storageDriver: 'overlay2' };

describe.skipIf(!existsSync(CHROMIUM))(`HTML report in headless Chromium (${CHROMIUM}; apt-get install chromium)`, () => {
  it('renders offline with a chart per benchmark, the environment and the baseline comparison, without console errors', async () => {
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
      const text = await page.textContent('body');
      expect(text).toContain('Against the baseline');
      expect(text).toContain('AMD EPYC </script><b>'); // escaped, shown as text
      expect(text).toContain('storageDriver');
      await page.screenshot({ path: join(dir, 'report.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });
});
