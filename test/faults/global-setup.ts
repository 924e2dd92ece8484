import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cacheDir } from '../../src/host/paths.js';
import { leftovers, renderTable, TABLE_ROWS, type TableRow } from './inject.js';

/**
 * Starts the fault table afresh, and renders it (Markdown, beside the rows) when the suite ends. Refuses
 * to start on a machine something already left traces on: every case would then fail on them, naming a
 * leak the case did not make.
 */
export default function setup(): () => void {
  const before = leftovers({ workRoot: '/nonexistent/virtbench-fault-suite', reportDir: '', cacheDir: cacheDir() });
  if (before.length > 0)
    throw new Error(
      `the fault suite starts where an earlier run already left:\n  ${before.join('\n  ')}\n` +
        'fix: find which earlier step (npm test, a bench run) left them and make it clean up; remove them by hand to run the suite now',
    );
  rmSync(TABLE_ROWS, { force: true });
  return () => {
    if (!existsSync(TABLE_ROWS)) return;
    const rows = readFileSync(TABLE_ROWS, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line) as TableRow);
    const table = renderTable(rows);
    writeFileSync(TABLE_ROWS.replace(/\.jsonl$/, '.md'), table + '\n');
    console.log(`\nfault suite:\n${table}\n`);
  };
}
