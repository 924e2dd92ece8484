import { join } from 'node:path';
import { renderHtml } from '../html.js';
import type { ReportFormat } from './format.js';

/** The self-contained HTML report (../html.ts), with the trend of a history store when given one. */
export const htmlFormat: ReportFormat = {
  name: 'the HTML report',
  option: 'html',
  argument: 'file',
  usage: (shown) => `self-contained HTML report with charts (default ${shown})`,
  defaultFile: (reportDir) => join(reportDir, 'report.html'),
  render: async ({ file, comparisons, history }) => [await renderHtml(file, comparisons, history)],
  drawsHistory: true,
};
