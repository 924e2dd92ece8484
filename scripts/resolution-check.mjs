#!/usr/bin/env node
// Resolution per minute, measured: runs the default job (`vitest bench`, every platform this machine
// can run, standard profile), then native alone on cpu and mem, and prints what issue 29 asks of them.
// Not a test: it prints Markdown for docs/measurements.md.
//
//   node scripts/resolution-check.mjs [--report-dir D] [--skip-run]
//
//   - the run's wall time, and the share of it inside samples (the run phase of every result);
//   - per benchmark: the resolution the run reached (results.json's resolution), its comparisons, and
//     which are undecided;
//   - what idle platforms cost during another platform's sample: extra.othersCpu (share of a core used
//     by the other platforms' processes during the sample), over every sample;
//   - interference: native's cpu and mem among every platform against native alone, as the ratio of
//     the medians with a 95 % interval (samples as units, log scale, Welch), and the relative IQR of both.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import tQuantile from '@stdlib/stats-base-dists-t-quantile';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    'report-dir': { type: 'string', default: join(root, 'virtbench-report', 'resolution-check') },
    'skip-run': { type: 'boolean', default: false },
  },
});
const dir = values['report-dir'];
const all = join(dir, 'all');
const alone = join(dir, 'native-alone');

function run(reportDir, args) {
  mkdirSync(reportDir, { recursive: true });
  const started = Date.now();
  const result = spawnSync('npx', ['vitest', 'bench', ...args], {
    cwd: root,
    env: { ...process.env, VIRTBENCH_REPORT_DIR: reportDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    maxBuffer: 256 * 1024 * 1024,
  });
  writeFileSync(join(reportDir, 'output.txt'), result.stdout + result.stderr);
  writeFileSync(join(reportDir, 'wall-seconds'), String((Date.now() - started) / 1000));
  if (result.status !== 0) console.error(`vitest bench ${args.join(' ')} exited ${result.status}: see ${reportDir}/output.txt`);
}

if (!values['skip-run']) {
  run(all, []);
  run(alone, ['--project', 'native', 'cpu', 'mem']);
}

const read = (d) => JSON.parse(readFileSync(join(d, 'results.json'), 'utf8'));
const wall = (d) => Number(readFileSync(join(d, 'wall-seconds'), 'utf8'));
const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const quantile = (v, q) => {
  const s = [...v].sort((a, b) => a - b);
  const at = (s.length - 1) * q;
  const lo = Math.floor(at);
  return s[lo] + (s[Math.min(lo + 1, s.length - 1)] - s[lo]) * (at - lo);
};
const relIqr = (v) => (quantile(v, 0.75) - quantile(v, 0.25)) / median(v);
const pct = (x, digits = 1) => `${(x * 100).toFixed(digits)} %`;

const file = read(all);
const seconds = wall(all);
const inSamples = file.results.reduce((sum, r) => sum + (r.phases?.run ?? 0), 0);
console.log(`## The default run (\`npx vitest bench\`, standard profile)\n`);
console.log(
  `- wall time ${(seconds / 60).toFixed(1)} min; inside samples ${(inSamples / 60).toFixed(1)} min (${pct(inSamples / seconds, 0)})`,
);
const ran = [...new Set(file.results.filter((r) => r.status === 'passed').map((r) => r.platform))];
console.log(`- platforms that ran: ${ran.join(', ')}`);
const stops = {};
for (const r of file.results) if (r.stoppedBy) stops[r.stoppedBy] = (stops[r.stoppedBy] ?? 0) + 1;
console.log(
  `- why platforms stopped taking rounds: ${
    Object.entries(stops)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'fixed counts'
  }\n`,
);

console.log('| benchmark | resolution | time | rounds | comparisons | undecided |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const b of file.resolution ?? []) {
  const undecided = b.comparisons.filter((c) => !c.decided);
  const list = undecided.map((c) => `${c.platform}/${c.against} ±${c.halfWidth === undefined ? '?' : pct(c.halfWidth)}`).join(', ');
  console.log(
    `| ${b.benchmark} | ${b.halfWidth === undefined ? '-' : `±${pct(b.halfWidth)}`} | ${(b.seconds / 60).toFixed(1)} min | ${b.rounds} | ${b.comparisons.length} | ${undecided.length}${list ? `: ${list}` : ''} |`,
  );
}

const idle = file.results.flatMap((r) => r.samples.map((s) => s.extra?.othersCpu).filter((v) => typeof v === 'number'));
if (idle.length) {
  const mean = idle.reduce((a, b) => a + b, 0) / idle.length;
  console.log(
    `\nIdle platforms during another's sample (extra.othersCpu over ${idle.length} samples): mean ${pct(mean, 2)} of a core, ` +
      `median ${pct(median(idle), 2)}, 90th percentile ${pct(quantile(idle, 0.9), 2)}, max ${pct(Math.max(...idle), 2)}`,
  );
}

const aloneFile = read(alone);
console.log(`\n## Native among every platform against native alone (\`npx vitest bench --project native cpu mem\`)\n`);
console.log(
  '| benchmark | alone: median, relative IQR, runs | among all: median, relative IQR, runs | all / alone (95 % interval) | IQR all / alone |',
);
console.log('| --- | --- | --- | --- | --- |');
for (const benchmark of ['cpu', 'mem']) {
  const a = aloneFile.results.find((r) => r.platform === 'native' && r.benchmark === benchmark);
  const m = file.results.find((r) => r.platform === 'native' && r.benchmark === benchmark);
  if (!a || !m) continue;
  const va = a.samples.map((s) => s.value);
  const vm = m.samples.map((s) => s.value);
  // Welch's interval of the difference of mean logs: the two runs are independent groups of samples.
  const logs = (v) => v.map(Math.log);
  const mean = (v) => v.reduce((x, y) => x + y, 0) / v.length;
  const variance = (v) => v.reduce((x, y) => x + (y - mean(v)) ** 2, 0) / (v.length - 1);
  const [la, lm] = [logs(va), logs(vm)];
  const [qa, qm] = [variance(la) / la.length, variance(lm) / lm.length];
  const df = (qa + qm) ** 2 / (qa ** 2 / (la.length - 1) + qm ** 2 / (lm.length - 1));
  const reach = tQuantile(0.975, df) * Math.sqrt(qa + qm);
  const diff = mean(lm) - mean(la);
  const f = (x) => Math.exp(x).toFixed(3);
  console.log(
    `| ${benchmark} (${a.unit}) | ${median(va).toPrecision(4)}, ${pct(relIqr(va))}, ${va.length} | ${median(vm).toPrecision(4)}, ${pct(relIqr(vm))}, ${vm.length} | ` +
      `${f(diff)} [${f(diff - reach)}, ${f(diff + reach)}] | ${(relIqr(vm) / relIqr(va)).toFixed(2)} |`,
  );
}
