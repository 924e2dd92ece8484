// The virtbench action's verdict (action.yml): from the mode, the exit code of its run and, for a
// pull request, comparison.json, the outputs verdict (pass, fail, undecided or error), exit-code and the
// rows' counts, written to $GITHUB_OUTPUT; the gate step fails the job on anything but pass. Node's
// standard library only: it runs before, and without, anything of the project's.
//   MODE=pull-request OUT=virtbench-ab CODE=0 UNDECIDED=pass node action/verdict.mjs
/* global process, console -- run by Node itself */
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const { MODE = '', OUT = '', CODE = '', UNDECIDED = 'pass', GITHUB_OUTPUT } = process.env;
const code = /^\d{1,3}$/.test(CODE) ? Number(CODE) : 2;
const counts = { regressed: 0, improved: 0, equivalent: 0, undecided: 0, 'fails-gate': 0 };

let verdict = code === 0 ? 'pass' : code === 1 ? 'fail' : 'error';
if (MODE === 'pull-request') {
  let rows;
  try {
    rows = JSON.parse(readFileSync(join(OUT, 'comparison.json'), 'utf8'));
  } catch {
    rows = undefined;
  }
  if (Array.isArray(rows)) {
    for (const row of rows) {
      if (typeof row !== 'object' || row === null) continue;
      // A file of a virtbench before the four verdicts says "unchanged": that is undecided.
      const v = row.verdict === 'unchanged' ? 'undecided' : row.verdict;
      if (Object.hasOwn(counts, v)) counts[v] += 1;
      if (row.failsGate === true) counts['fails-gate'] += 1;
    }
  } else if (verdict !== 'error') {
    verdict = 'error'; // ab exited 0 or 1 and wrote no comparison: nothing says what it judged
  }
  if (verdict === 'pass' && counts.undecided > 0 && UNDECIDED === 'fail') verdict = 'undecided';
}

const lines = [`verdict=${verdict}`, `exit-code=${code}`, ...Object.entries(counts).map(([k, v]) => `${k}=${v}`)];
if (GITHUB_OUTPUT) appendFileSync(GITHUB_OUTPUT, lines.map((l) => `${l}\n`).join(''));
const said = {
  pass: 'passes',
  fail: 'fails (a regression beyond the fail threshold, or a failed or missing figure)',
  undecided: `fails: ${counts.undecided} row(s) undecided and the input undecided is "fail"`,
  error: `could not measure or compare (exit ${code}); see the log above`,
};
console.log(`virtbench: ${MODE} ${said[verdict]} [${lines.join(' ')}]`);
