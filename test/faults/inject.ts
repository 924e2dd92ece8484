import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, expect } from 'vitest';
import { packageRoot, cacheDir as defaultCacheDir } from '../../src/host/paths.js';
import { BRIDGE } from '../../src/platforms/docker/bridge.js';
import { dockerClient } from '../../src/platforms/docker/docker-client.js';
import { PLATFORM_LABEL } from '../../src/platforms/docker/labels.js';
import { PRIVATE_DOCKER_HOST } from '../../src/platforms/docker/private-dockerd.js';
import { findGuestImage } from '../../src/platforms/qemu/guest-image.js';
import { connectGuest, type SshSession } from '../../src/platforms/qemu/ssh.js';
import { readResults } from '../../src/results/results-file.js';
import type { ResultsFile } from '../../src/results/schema.js';

/*
 * The fault suite's tools: a real `vitest bench` of fixtures/faults in a work root, report directory
 * (and, when asked, cache) of its own; ways to break a platform from outside while it runs; and the
 * inventory of everything a run may leave behind, which must be empty after every case.
 */

export interface FaultCase {
  /** VIRTBENCH_WORK_DIR of this case's runs: whatever is left in it, or names it, is a leak. */
  workRoot: string;
  reportDir: string;
  cacheDir: string;
}

export async function newCase(options: { cacheDir?: string } = {}): Promise<FaultCase> {
  return {
    workRoot: await mkdtemp('/var/tmp/virtbench-fault-'),
    reportDir: await mkdtemp(join(tmpdir(), 'virtbench-fault-report-')),
    cacheDir: options.cacheDir ?? defaultCacheDir(),
  };
}

export async function removeCase(c: FaultCase): Promise<void> {
  await rm(c.reportDir, { recursive: true, force: true });
  await rm(c.workRoot, { recursive: true, force: true });
}

/**
 * A fault file's case bookkeeping: returns `open()`, which makes a case; after each test, every run it
 * left going is stopped and its cases (and `cleanup`, e.g. a fresh cache) are removed.
 */
export function faultCases(cleanup: () => Promise<void> = async () => {}): (options?: { cacheDir?: string }) => Promise<FaultCase> {
  const cases: FaultCase[] = [];
  afterEach(async () => {
    await stopRunning();
    for (const c of cases.splice(0)) await removeCase(c);
    await cleanup();
  });
  return async (options) => {
    const c = await newCase(options);
    cases.push(c);
    return c;
  };
}

export interface BenchOutcome {
  exitCode: number;
  signal?: string;
  output: string;
  results?: ResultsFile;
  /** CSV files written to the report directory. */
  csv: string[];
  /** When the run's process ended (Date.now()). */
  endedAt: number;
  seconds: number;
}

export interface RunningBench {
  child: ResultPromise;
  done: Promise<BenchOutcome>;
  startedAt: number;
}

/** Starts `vitest bench` on fixtures/faults as a user would. */
/** Runs still going: a case that fails before its run ends must not leave the run to the next case. */
const running = new Set<ResultPromise>();

/** Stops every run a failed case left going (SIGINT, as a user would), and waits for them to end. */
export async function stopRunning(): Promise<void> {
  const left = [...running];
  for (const child of left) child.kill('SIGINT');
  await Promise.allSettled(left);
}

export function startBench(c: FaultCase, args: string[], env: Record<string, string> = {}, reportDir = c.reportDir): RunningBench {
  const startedAt = Date.now();
  const child = execa(
    process.execPath,
    [join(packageRoot, 'node_modules/vitest/vitest.mjs'), 'bench', '--root', 'fixtures/faults', ...args],
    {
      cwd: packageRoot,
      env: {
        VIRTBENCH_WORK_DIR: c.workRoot,
        VIRTBENCH_REPORT_DIR: reportDir,
        VIRTBENCH_CACHE_DIR: c.cacheDir,
        NO_COLOR: '1',
        CI: 'true',
        ...env,
      },
      reject: false,
      all: true,
      timeout: 900_000,
    },
  );
  running.add(child);
  const done = child.then(async (result) => {
    running.delete(child);
    const endedAt = Date.now();
    const results = await readResults(join(reportDir, 'results.json')).catch(() => undefined);
    const csv = existsSync(reportDir) ? readdirSync(reportDir).filter((f) => f.endsWith('.csv')) : [];
    return {
      exitCode: result.exitCode ?? -1,
      signal: result.signal,
      output: String(result.all),
      results,
      csv,
      endedAt,
      seconds: (endedAt - startedAt) / 1000,
    };
  });
  return { child, done, startedAt };
}

export function runBench(c: FaultCase, args: string[], env: Record<string, string> = {}, reportDir?: string): Promise<BenchOutcome> {
  return startBench(c, args, env, reportDir).done;
}

/**
 * The run after a fault, in the case's work root and cache with a report directory of its own (removed
 * after it): it must pass and leave nothing behind. Returns it, for the table's recovery time.
 */
export async function recovers(c: FaultCase, args: string[], env: Record<string, string>): Promise<BenchOutcome> {
  const next = await runBench(c, args, env, `${c.reportDir}-next`);
  await rm(`${c.reportDir}-next`, { recursive: true, force: true });
  expect(next.exitCode, next.output.slice(-3000)).toBe(0);
  expect(leftovers(c)).toEqual([]);
  return next;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Ctrl-C into a run once `ready` resolves and `settleMs` have passed: returns its outcome, which must
 * not be a clean exit, and when the signal went (for the recovery column).
 */
export async function interrupt(
  run: RunningBench,
  ready: Promise<unknown>,
  settleMs: number,
): Promise<{ outcome: BenchOutcome; at: number }> {
  await ready;
  await sleep(settleMs);
  const at = Date.now();
  run.child.kill('SIGINT');
  const outcome = await run.done;
  expect(outcome.exitCode === 0 && !outcome.signal).toBe(false);
  return { outcome, at };
}

/** The table's recovery column: how soon the run ended after the fault, and how long the next run took. */
export function recoveryAfter(what: string, outcome: BenchOutcome, at: number, next?: BenchOutcome): string {
  const ended = `exited ${((outcome.endedAt - at) / 1000).toFixed(1)} s after ${what}`;
  return next ? `${ended}; next run passed in ${next.seconds.toFixed(0)} s` : ended;
}

/** The table's outcome column for a run stopped by a signal: its exit code, and the signal. */
export function exitOf(outcome: BenchOutcome): string {
  return `exit ${outcome.exitCode}${outcome.signal ? ` (${outcome.signal})` : ''}`;
}

/** Polls check until it returns something truthy; fails naming what it waited for. */
export async function waitUntil<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs: number,
  run?: RunningBench,
): Promise<NonNullable<T>> {
  let ended = false;
  void run?.done.then(() => (ended = true));
  for (const until = Date.now() + timeoutMs; Date.now() < until; await sleep(100)) {
    const value = await check();
    if (value) return value;
    if (ended) {
      const outcome = await run!.done;
      throw new Error(`the run ended (exit ${outcome.exitCode}) before ${what}:\n${outcome.output.slice(-3000)}`);
    }
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Waits until the benchmark's CSV is written: the benchmark finished and its results are on disk. */
export function finished(c: FaultCase, file: string, run: RunningBench, timeoutMs = 300_000): Promise<boolean> {
  return waitUntil(`${file} in the report directory`, () => existsSync(join(c.reportDir, file)), timeoutMs, run);
}

export interface ProcessInfo {
  pid: number;
  argv: string[];
}

export function processes(): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter(Boolean);
      if (argv.length) found.push({ pid: Number(entry), argv });
    } catch {
      // gone
    }
  }
  return found;
}

const mentions = (p: ProcessInfo, text: string) => p.argv.some((a) => a.includes(text));

/** The QEMU of this case's qemu-tcg guest. */
export function guestQemu(c: FaultCase): ProcessInfo | undefined {
  return processes().find((p) => p.argv[0]?.includes('qemu-system') && mentions(p, c.workRoot + '/'));
}

/** Logs into the running guest from outside, as the harness does (the cached client key, the pinned host key). */
export async function sshIntoGuest(c: FaultCase): Promise<SshSession> {
  const qemu = guestQemu(c);
  const forward = qemu?.argv.join(' ').match(/hostfwd=tcp:127\.0\.0\.1:(\d+)-:22/);
  if (!forward) throw new Error('no QEMU guest with an ssh forward runs for this case');
  const image = findGuestImage(c.cacheDir);
  if (!image) throw new Error(`no guest image in ${c.cacheDir}`);
  return connectGuest({
    platform: 'fault-injector',
    host: '127.0.0.1',
    port: Number(forward[1]),
    privateKey: await readFile(image.clientKey),
    hostKey: image.manifest.hostKey.publicBlob,
  });
}

/** The benchmark container of a docker platform, on the private engine. */
export async function benchContainer(platform = 'docker', engine = PRIVATE_DOCKER_HOST): Promise<string | undefined> {
  const list = await dockerClient(engine)
    .listContainers({ filters: { label: [`${PLATFORM_LABEL}=${platform}`] } })
    .catch(() => []);
  return list[0]?.Id;
}

export const PRIVATE_DOCKERD_PID_FILE = '/run/virtbench-docker/dockerd.pid';

export function privateDockerdPid(): number | undefined {
  try {
    return Number(readFileSync(PRIVATE_DOCKERD_PID_FILE, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Everything of a run that must be gone once it ended, whatever broke: entries of the case's work
 * root and processes naming it (workloads, nginx, QEMU), the private dockerd and its containerd and
 * shims, the docker bridge, mounts, containers in the private engine's data root, and half-written
 * cache entries.
 */
export function leftovers(c: FaultCase): string[] {
  const left: string[] = [];
  if (existsSync(c.workRoot)) for (const entry of readdirSync(c.workRoot)) left.push(`work root: ${entry}`);
  for (const p of processes()) {
    const docker =
      mentions(p, '/run/virtbench-docker') ||
      mentions(p, '/run/virtbench-podman') ||
      (p.argv.includes('-namespace') && p.argv.includes('virtbench'));
    if (mentions(p, c.workRoot + '/') || mentions(p, c.cacheDir + '/') || docker)
      left.push(`process ${p.pid}: ${p.argv.join(' ').slice(0, 160)}`);
  }
  if (existsSync('/run/virtbench-docker')) left.push('private dockerd run directory /run/virtbench-docker');
  if (existsSync(`/sys/class/net/${BRIDGE}`)) left.push(`network bridge ${BRIDGE}`);
  // The tap variants' devices and namespaces, and the podman platform's service, bridge and run directory.
  for (const link of readdirSync('/sys/class/net').filter((n) => /^vbt[0-9a-f]{8}$|^virtbench1$/.test(n)))
    left.push(`network link ${link}`);
  if (existsSync('/run/netns'))
    // Not a simulated remote host (scripts/simulated-remote.sh): a fixture of remote.test.ts, up for the whole file.
    for (const ns of readdirSync('/run/netns').filter((n) => n.startsWith('virtbench-') && !/^virtbench-remote\d*$/.test(n)))
      left.push(`network namespace ${ns}`);
  if (existsSync('/run/virtbench-podman')) left.push('podman run directory /run/virtbench-podman');
  // The tap variants' owner records (qemu/tap.ts): one a namespace, removed with it.
  if (existsSync('/run/virtbench-tap')) for (const record of readdirSync('/run/virtbench-tap')) left.push(`tap owner record ${record}`);
  // Podman's API import leaves its upload in $TMPDIR (podman issue 28531): the service's TMPDIR is its run directory.
  for (const file of readdirSync('/var/tmp').filter((f) => f.startsWith('api_load.tar'))) left.push(`podman upload /var/tmp/${file}`);
  for (const line of readFileSync('/proc/self/mounts', 'utf8').split('\n')) {
    const point = line.split(' ')[1] ?? '';
    if (point.startsWith(c.workRoot + '/') || point.startsWith('/run/virtbench-docker') || point.startsWith(c.cacheDir + '/'))
      left.push(`mount ${point}`);
  }
  const containers = join(c.cacheDir, 'docker', 'data-root', 'containers');
  if (existsSync(containers)) for (const id of readdirSync(containers)) left.push(`container ${id.slice(0, 12)} in the data root`);
  for (const [dir, pattern] of [
    [join(c.cacheDir, 'docker'), /^build-|\.partial$|\.tmp$|\.lock$/],
    [join(c.cacheDir, 'qemu'), /^\.building-|^\.pointer-|\.lock$/],
    [join(c.cacheDir, 'bin'), /\.tmp|\.partial|^\./],
  ] as const) {
    if (existsSync(dir)) for (const entry of readdirSync(dir).filter((e) => pattern.test(e))) left.push(`cache: ${join(dir, entry)}`);
  }
  return left;
}

/** What the run kept: each benchmark's status, and its samples. */
export function kept(outcome: BenchOutcome): Record<string, string> {
  return Object.fromEntries(
    (outcome.results?.results ?? []).map((r) => [`${r.platform}/${r.benchmark}`, `${r.status}:${r.samples.length}`]),
  );
}

/** The first line of the failure a run reports for a benchmark (results.json), for the table. */
export function failure(outcome: BenchOutcome, benchmark: string): string {
  const record = outcome.results?.results.find((r) => r.benchmark === benchmark);
  return (record?.error ?? '').split('\n')[0] ?? '';
}

export interface TableRow {
  fault: string;
  outcome: string;
  kept: string;
  leaked: string;
  recovery: string;
}

/** Rows go to a JSON-lines file as each case ends (cases run in separate files); global-setup.ts renders the table. */
export const TABLE_ROWS = join(packageRoot, '.virtbench', 'fault-table.jsonl');

export function record(row: TableRow): void {
  mkdirSync(join(TABLE_ROWS, '..'), { recursive: true });
  appendFileSync(TABLE_ROWS, JSON.stringify(row) + '\n');
}

/** A fault the run rode out: it passed and left nothing behind; its row says how long it went on after the fault. */
export function riddenOut(c: FaultCase, outcome: BenchOutcome, at: number, row: Pick<TableRow, 'fault' | 'outcome' | 'kept'>): void {
  expect(outcome.exitCode, outcome.output.slice(-3000)).toBe(0);
  expect(leftovers(c)).toEqual([]);
  record({ ...row, leaked: 'nothing', recovery: `the run went on and passed ${((outcome.endedAt - at) / 1000).toFixed(0)} s later` });
}

/** A row for a fault refused before anything was measured, which leaves nothing behind. */
export function recordRefused(fault: string, outcome: string, recovery: string): void {
  record({ fault, outcome, kept: 'nothing was measured', leaked: 'nothing', recovery });
}

export function renderTable(rows: TableRow[]): string {
  const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');
  return [
    '| fault | outcome | kept | leaked | recovery |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${cell(r.fault)} | ${cell(r.outcome)} | ${cell(r.kept)} | ${cell(r.leaked)} | ${cell(r.recovery)} |`),
  ].join('\n');
}
