import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { renderTable, TABLE_ROWS, type TableRow } from './inject.js';

/** Starts the fault table afresh, and renders it (Markdown, beside the rows) when the suite ends. */
export default function setup(): () => void {
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
