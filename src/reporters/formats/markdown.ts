import { join } from 'node:path';
import { renderMarkdown } from '../markdown.js';
import type { ReportFormat } from './format.js';

/** The GitHub-flavoured Markdown report (../markdown.ts), also for the job summary. */
export const markdownFormat: ReportFormat = {
  name: 'the Markdown report',
  option: 'md',
  argument: 'file',
  usage: (shown) => `GFM report (default ${shown}; also to $GITHUB_STEP_SUMMARY)`,
  defaultFile: (reportDir) => join(reportDir, 'report.md'),
  render: ({ file, comparisons }) => [renderMarkdown(file, comparisons)],
  jobSummary: true,
};
