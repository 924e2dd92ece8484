import { bencherFormat } from './bencher.js';
import { commentFormat } from './comment.js';
import { githubBenchmarkFormat } from './github-benchmark.js';
import { htmlFormat } from './html.js';
import { markdownFormat } from './markdown.js';
import type { ReportFormat } from './format.js';

export { filesOf, type ReportFormat, type ReportInput } from './format.js';

/** Every format of `virtbench report`, in the order of its usage and of what it writes: a new format is one line here. */
export const REPORT_FORMATS: readonly ReportFormat[] = [markdownFormat, htmlFormat, commentFormat, githubBenchmarkFormat, bencherFormat];
