#!/usr/bin/env node
// The harness benchmark: where a `vitest bench` run spends its wall time, and what one exec costs on
// each platform against its reference, side by side in one run. Not a test: it prints two tables.
//
//   node scripts/harness-bench.mjs [--profile quick|standard] [--project P]... [--report-dir D] [--skip-run] [--skip-exec] [--execs N]
//
// 1. Runs `vitest bench` (every platform unless --project), times it from start to exit, and reads
//    results.json: per platform, provisioning (image, boot, container), and the benchmarks' phases
//    (connect, prepare, flush, run, cleanup; see BenchmarkResult.phases). "In samples" is the run
//    phase: the measured runs themselves. The rest is Vitest, the turnstile and waiting.
// 2. Provisions native, docker, qemu-tcg and the remote hosts of VIRTBENCH_REMOTES through the Platform
//    API (from dist/: run `npm run build` first) and times N execs of `true` on each, alternating with
//    the reference: a bare spawn on the host, the docker CLI's `docker exec`, and OpenSSH over one
//    multiplexed connection (the guest's; the remote's with its own key and known_hosts).
// Needs what the platforms need (npx virtbench setup); prints Markdown.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const { values } = parseArgs({
  options: {
    profile: { type: 'string', default: 'standard' },
    project: { type: 'string', multiple: true, default: [] },
    'skip-run': { type: 'boolean', default: false },
    // Keep the run's report (results.json, CSV, the table on stdout) here instead of a temporary directory.
    'report-dir': { type: 'string' },
    'skip-exec': { type: 'boolean', default: false },
    execs: { type: 'string', default: '30' },
  },
});

const median = (v) => {
  const s = [...v].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const s1 = (x) => (x === undefined ? '-' : x.toFixed(1));
const pct = (x) => `${Math.round(x * 100)} %`;

async function timeRun() {
  const report = values['report-dir'] ?? mkdtempSync(join(tmpdir(), 'virtbench-harness-bench-'));
  try {
    const args = ['vitest', 'bench', ...values.project.flatMap((p) => ['--project', p])];
    const startedAt = Date.now() / 1000;
    const t0 = performance.now();
    const child = spawn('npx', args, {
      cwd: root,
      stdio: ['ignore', values['report-dir'] ? 'inherit' : 'ignore', 'inherit'],
      env: { ...process.env, VIRTBENCH_PROFILE: values.profile, VIRTBENCH_REPORT_DIR: report },
    });
    const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
    const wall = (performance.now() - t0) / 1000;
    const results = JSON.parse(readFileSync(join(report, 'results.json'), 'utf8'));
    return { code, wall, startedAt, results };
  } finally {
    if (!values['report-dir']) rmSync(report, { recursive: true, force: true });
  }
}

function runTable({ code, wall, startedAt, results }) {
  const phases = ['connect', 'prepare', 'flush', 'run', 'cleanup'];
  const rows = new Map();
  for (const r of results.results) {
    const row = rows.get(r.platform) ?? {
      samples: 0,
      measured: 0,
      standIns: 0,
      skipped: 0,
      ...Object.fromEntries(phases.map((p) => [p, 0])),
    };
    for (const p of phases) row[p] += r.phases?.[p] ?? 0;
    row.samples += r.samples.length;
    if (r.samples.length) row.measured++;
    if (r.standIn) row.standIns++;
    else if (r.status === 'skipped') row.skipped++;
    rows.set(r.platform, row);
  }
  const info = results.environment.platforms;
  const total = Object.fromEntries(phases.map((p) => [p, [...rows.values()].reduce((a, r) => a + r[p], 0)]));
  // Provisioning happens before any benchmark, the guests' at the same time as the rest (Platform.provisionEarly):
  // the longest one bounds it from below.
  const provisioning = Math.max(0, ...Object.values(info).map((i) => i.provisionSeconds ?? 0));
  // When the first and the last sample ended, from the start: before the first, Vitest starts, provisions and starts workers.
  const ends = results.results.flatMap((r) => r.samples.map((x) => x.time - startedAt));
  const lines = [
    `### Where the wall time went: \`vitest bench\`, ${results.profile} profile (exit ${code})`,
    '',
    `Wall time ${s1(wall)} s (${s1(wall / 60)} min); inside measured samples ${s1(total.run)} s = **${pct(total.run / wall)}**; ` +
      `provisioning ${s1(provisioning)} s (the longest platform's; they overlap); connect ${s1(total.connect)}, prepare ${s1(total.prepare)}, flush ${s1(total.flush)}, cleanup ${s1(total.cleanup)} s; ` +
      `the rest (Vitest, workers, waiting at the turnstile) ${s1(wall - provisioning - phases.reduce((a, p) => a + total[p], 0))} s. ` +
      `The first sample ended ${s1(Math.min(...ends))} s after the start, the last ${s1(Math.max(...ends))} s.`,
    '',
    '| platform | provision s | boot s | benchmarks measured / stand-in / n/a | samples | in samples s | connect s | prepare s | flush s | cleanup s |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [platform, row] of rows) {
    const i = info[platform] ?? {};
    lines.push(
      `| ${platform} | ${s1(i.provisionSeconds)} | ${s1(i.bootSeconds)} | ${row.measured} / ${row.standIns} / ${row.skipped} | ${row.samples} | ` +
        `${s1(row.run)} | ${s1(row.connect)} | ${s1(row.prepare)} | ${s1(row.flush)} | ${s1(row.cleanup)} |`,
    );
  }
  return lines.join('\n');
}

/** Alternates a and b n times (after 3 of each to warm up); returns the medians in ms. */
async function sideBySide(n, a, b) {
  const times = { a: [], b: [] };
  for (let i = -3; i < n; i++) {
    for (const [key, fn] of [
      ['a', a],
      ['b', b],
    ]) {
      const t0 = performance.now();
      await fn();
      if (i >= 0) times[key].push(performance.now() - t0);
    }
  }
  return { a: median(times.a), b: median(times.b) };
}

function bareSpawn(argv, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore', env });
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

/** OpenSSH's client argv over one multiplexed connection (ControlPath in scratch), started; and how to stop it. */
function multiplexedSsh(scratch, target) {
  const ssh = [
    'ssh',
    '-q',
    '-i',
    target.key,
    '-p',
    String(target.port),
    '-o',
    `UserKnownHostsFile=${target.knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    `ControlPath=${join(scratch, 'ctl')}`,
    `${target.user}@${target.host}`,
  ];
  spawnSync(ssh[0], [...ssh.slice(1, -1), '-o', 'ControlMaster=yes', '-o', 'ControlPersist=yes', '-N', '-f', ssh.at(-1)], {
    stdio: 'inherit',
  });
  return { argv: ssh, stop: () => spawnSync(ssh[0], [...ssh.slice(1, -1), '-O', 'exit', ssh.at(-1)], { stdio: 'ignore' }) };
}

async function execTable(n) {
  const { createPlatform, validatePlatformOptions, optionPlatformNames } = await import(join(root, 'dist/harness/platforms/index.js'));
  // The remote hosts of VIRTBENCH_REMOTES too, against OpenSSH with the same key and known_hosts.
  const settings = validatePlatformOptions({});
  const remotes = optionPlatformNames(settings);
  const { cacheDir } = await import(join(root, 'dist/harness/host/paths.js'));
  const lines = [
    `### One exec of \`true\` (median of ${n}, alternating with the reference)`,
    '',
    '| platform | virtbench exec ms | reference | reference ms | overhead ms |',
    '|---|---|---|---|---|',
  ];
  const scratch = mkdtempSync(join(tmpdir(), 'virtbench-exec-ref-'));
  try {
    for (const name of ['native', 'docker', 'qemu-tcg', ...remotes]) {
      const platform = createPlatform(name, settings);
      const available = await platform.availability();
      if (!available.available) {
        lines.push(`| ${name} | not available: ${available.reason} | | | |`);
        continue;
      }
      const provisioned = await platform.provision({ cacheDir: cacheDir(), log: () => {} });
      const started = await platform.connect(provisioned.facts);
      let stopRef = () => {};
      try {
        const facts = provisioned.facts;
        let reference;
        let label;
        if (name === 'native') {
          label = 'bare spawn (node:child_process)';
          reference = () => bareSpawn(['true']);
        } else if (name === 'docker') {
          label = '`docker exec` (CLI)';
          const env = { ...process.env, DOCKER_HOST: facts.dockerHost };
          reference = () => bareSpawn(['docker', 'exec', facts.containerId, 'true'], env);
        } else if (remotes.includes(name)) {
          label = 'OpenSSH, one multiplexed connection';
          const remote = settings.remotes[name];
          const ssh = multiplexedSsh(scratch, {
            key: remote.privateKeyPath,
            port: remote.port ?? 22,
            knownHosts: remote.knownHostsPath,
            user: remote.username,
            host: remote.host,
          });
          stopRef = ssh.stop;
          reference = () => bareSpawn([...ssh.argv, 'true']);
        } else {
          label = 'OpenSSH, one multiplexed connection';
          // The pinned host key, as OpenSSH's known_hosts line: the blob starts with its type's name.
          const blob = Buffer.from(facts.hostKey, 'base64');
          const keyType = blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
          writeFileSync(join(scratch, 'known_hosts'), `[${facts.host}]:${facts.sshPort} ${keyType} ${facts.hostKey}\n`);
          const ssh = multiplexedSsh(scratch, {
            key: facts.clientKey,
            port: facts.sshPort,
            knownHosts: join(scratch, 'known_hosts'),
            user: 'root',
            host: facts.host,
          });
          stopRef = ssh.stop;
          reference = () => bareSpawn([...ssh.argv, 'true']);
        }
        // As the runner calls it: with a time limit.
        const exec = async () => {
          const result = await started.exec(['true'], { timeoutMs: 60_000 });
          if (result.exitCode !== 0) throw new Error(`${name}: true exited ${result.exitCode}: ${result.stderr}`);
        };
        const { a, b } = await sideBySide(n, exec, reference);
        lines.push(`| ${name} | ${a.toFixed(1)} | ${label} | ${b.toFixed(1)} | ${(a - b).toFixed(1)} |`);
      } finally {
        stopRef();
        await started.close();
        await provisioned.stop();
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return lines.join('\n');
}

const out = [];
if (!values['skip-run']) out.push(runTable(await timeRun()));
if (!values['skip-exec']) out.push(await execTable(Number(values.execs)));
console.log(out.join('\n\n'));
