import { join } from 'node:path';
import { renderPrComment } from '../markdown.js';
import type { ReportFormat } from './format.js';

/**
 * The pull-request comment: the Markdown report with the marker a workflow finds its comment by, under
 * GitHub's limit. A comment job rebuilds it from an artifact's data, never taking an artifact's text.
 */
export const commentFormat: ReportFormat = {
  name: 'the pull-request comment',
  option: 'comment',
  argument: 'file',
  usage: (shown) =>
    `the pull-request comment of the Markdown report (default ${shown}):\n` +
    "how a comment job rebuilds the comment from an artifact's data, never taking its text",
  defaultFile: (reportDir) => join(reportDir, 'comment.md'),
  render: ({ file, comparisons }) => [renderPrComment(file, comparisons)],
};
