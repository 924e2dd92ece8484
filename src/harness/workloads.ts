import { workloadSource } from './build.js';
import { parseFioJson, parseResultLine, unusableNumber, type Figure } from './figure.js';
import { downloadInParallel, type DownloadContext } from './http-download.js';
import type { Profile } from './profiles.js';
import type { ServiceAddress } from './platform.js';
import type { Better } from '../results/schema.js';
import type { Resource } from './variants.js';

export type { Better };

/** A program that must exist inside the platform, and how a user gets it. */
export interface Tool {
  command: string;
  /**
   * @deprecated Not run any more: the runner looks the command up with `command -v` (a shell builtin),
   * since starting a large tool only for its version took about a second per platform under TCG.
   */
  versionArgs?: string[];
  /** The Debian package that provides it: platforms that build an image install it there. */
  debianPackage?: string;
  /** The fix shown when it is missing. */
  install: string;
}

/**
 * Files a workload wants baked into a platform's image, made by a shell
 * step at build time (a container image's RUN). Platforms without such an
 * image ignore it; the workload then makes its files itself.
 */
export interface ImageStep {
  /** Why, for the recipe's comment. */
  why: string;
  shell: string;
}

interface WorkloadBase {
  name: string;
  title: string;
  unit: string;
  better: Better;
  /** Marks a variant in the report (e.g. "threads"). */
  variant?: string;
  /**
   * What the workload uses. A platform variant (qemu-tcg-ide, docker-volume)
   * measures it only when the variant changes one of these, and otherwise shows
   * its base platform's figure; unset: measured on every platform.
   */
  exercises?: readonly Resource[];
  /**
   * The sample handed to tinybench as overriddenDuration, in ms: the in-platform
   * time of one unit of work. For lower-is-better workloads it is the figure
   * itself; for rates it is the time per unit, so Vitest's hz is proportional
   * to the figure.
   */
  sampleMs(figure: Figure): number;
  /** Upper bound for one run, after which the run is killed and fails. */
  timeoutMs(profile: Profile): number;
  image?: ImageStep;
  /**
   * Why a figure cannot be true, judged from the work the run reports doing
   * against what any machine can do, or undefined when it can. Such a figure
   * fails its benchmark with the evidence and never enters the results (see
   * implausibility()).
   */
  implausible?(figure: Figure): string | undefined;
}

/** Runs one command inside the platform and parses what it prints. */
export interface CommandWorkload extends WorkloadBase {
  kind: 'command';
  /**
   * A C program built on the host (a path to its source), a script copied in
   * and run by its interpreter line (`#!/bin/sh` runs everywhere but the
   * single-application guest), or a tool from the platform's packages.
   */
  program: { source: string } | { script: string } | { tool: Tool };
  args(profile: Profile, workDir: string): string[];
  parse(stdout: string): Figure;
}

export interface ServedContext {
  /** Directory inside the platform holding the server's files. */
  dir: string;
  listen: string;
  /** The only peer the server may accept (ServiceAddress.allowFrom); unset: any that reaches `listen`. */
  allowFrom?: string;
  profile: Profile;
  /** Where the workload's `programs` are inside the platform, by their key. */
  programs: Readonly<Record<string, string>>;
}

/** What the host side of a served workload gets besides the address: where to build and cache host programs, and the run's abort signal. */
export type MeasureContext = DownloadContext;

/** A server started inside the platform and driven from the host (the only such benchmark is nginx). */
export interface ServedWorkload extends WorkloadBase {
  kind: 'served';
  tool: Tool;
  /** Text of the server's configuration file, written to <dir>/<configName>. */
  configName: string;
  config(context: ServedContext): string;
  /**
   * Helper programs the prepare steps run (C sources, built and copied in like a command workload's
   * program), by the key under which prepare finds their path in context.programs.
   */
  programs?: Readonly<Record<string, { source: string }>>;
  /** Commands that create the served content inside the platform (run once per session). */
  prepare(context: ServedContext): string[][];
  start(context: ServedContext): string[];
  stop(context: ServedContext): string[];
  /** The host side of one run. */
  measure(address: ServiceAddress, profile: Profile, context: MeasureContext): Promise<Figure>;
}

export type Workload = CommandWorkload | ServedWorkload;

/** A command workload's description; what is left out takes the defaults of commandWorkload(). */
export type CommandWorkloadInput = Omit<CommandWorkload, 'kind' | 'parse' | 'sampleMs'> &
  Partial<Pick<CommandWorkload, 'parse' | 'sampleMs'>>;

/**
 * A workload that runs one program and prints our `RESULT` line. Defaults:
 * parsed with parseResultLine in the given unit; the sample handed to
 * tinybench is the figure in ms for a time (unit "s"), else the time the
 * program measured for itself.
 */
export function commandWorkload(input: CommandWorkloadInput): CommandWorkload {
  return {
    kind: 'command',
    parse: (stdout) => parseResultLine(input.name, stdout, input.unit),
    sampleMs: (figure) => (input.unit === 's' ? figure.value : figure.seconds) * 1000,
    ...input,
  };
}

const SERVED_FILE = 'payload.bin';

/**
 * Floors and ceilings no machine crosses: an order of magnitude or more past
 * the fastest hardware, so a figure beyond them is a broken clock or broken
 * output, never a fast platform.
 */
const LIMITS = {
  /** Creating a process (fork, exit, wait) takes tens of microseconds on fast hardware. */
  secondsPerProcess: 1e-6,
  /** Creating and joining a thread: microseconds. */
  secondsPerThread: 2e-7,
  /** One strided memsweep step (a cache line, often a TLB miss): nanoseconds; 0.05 ns is 20 per cycle at 1 GHz. */
  secondsPerMemStep: 5e-11,
  /** Generic x86-64 (SSE2) code on one core: 4 flops a cycle, so 24 GFLOPS at 6 GHz; 50 GFLOPS cannot be. */
  maxKflops: 5e7,
  /** 4 KiB random writes at queue depth 64 from one job: the fastest NVMe devices do about 2 million a second. */
  maxIops: 1e7,
  /** A write of 4 KiB and an fsync: at least a microsecond. */
  minWriteSeconds: 1e-6,
  /** Bytes a second through loopback TCP: memory bandwidth bounds it well below 100 GB/s. */
  maxLoopbackBytesPerSecond: 1e11,
};

/** "<what> in <seconds> s" when that is faster than `floor` seconds allows. */
function tooFast(figure: Figure, floor: number, what: string): string | undefined {
  return figure.value < floor ? `${what} cannot take ${figure.value} s (at least ${floor.toPrecision(2)} s on any machine)` : undefined;
}

const FIO: Tool = { command: 'fio', debianPackage: 'fio', install: 'apt-get install fio' };
const NGINX: Tool = { command: 'nginx', debianPackage: 'nginx-light', install: 'apt-get install nginx-light' };

/**
 * The copy-up benchmark's files: one file of `mib` MiB under `links` names
 * (hard links, so an image stores the bytes once), more names than the 48
 * runs of the assignment profile. copyup.c gets all three as arguments.
 */
const COPYUP = { mib: 64, links: 64, imageDir: '/opt/virtbench-copyup' };

const NGINX_DOWNLOAD_TIMEOUT_SECONDS = 240;
const nginxTimeoutMs = (p: Profile): number => 300_000 + p.nginx.seconds * 2_000;

/** One of our own C programs (fixtures/workloads/<program>.c) that times itself in seconds: lower is better. */
function timedProgram(program: string, input: Omit<CommandWorkloadInput, 'unit' | 'better' | 'program'>): CommandWorkload {
  return commandWorkload({ ...input, unit: 's', better: 'lower', program: { source: workloadSource(program) } });
}

const definitions = {
  cpu: commandWorkload({
    name: 'cpu',
    exercises: ['cpu'],
    title: 'LINPACK (LU factorisation + solve)',
    unit: 'kFLOPS',
    better: 'higher',
    program: { source: workloadSource('linpack') },
    args: (p) => [String(p.cpu.n), String(p.cpu.lda), String(p.cpu.minSeconds)],
    sampleMs: (f) => (f.seconds * 1000) / Number(f.extra.solves ?? 1),
    timeoutMs: (p) => 120_000 + p.cpu.minSeconds * 60_000,
    implausible: (f) => {
      // sampleMs divides the timed pass by its solves: LINPACK times at least one.
      if (!(Number(f.extra.solves ?? 1) >= 1)) return `LINPACK timed ${f.extra.solves} solves (at least 1)`;
      return f.value > LIMITS.maxKflops
        ? `${f.value} kFLOPS is beyond any single core's peak for this code (${LIMITS.maxKflops} kFLOPS)`
        : undefined;
    },
  }),
  mem: timedProgram('memsweep', {
    name: 'mem',
    exercises: ['memory'],
    title: 'memsweep (4097-byte stride)',
    args: (p) => [String(p.mem.bytes), String(p.mem.passes)],
    timeoutMs: () => 600_000,
    implausible: (f) => {
      const steps = Number(f.extra.bytes) * Number(f.extra.passes);
      return tooFast(f, steps * LIMITS.secondsPerMemStep, `${steps} strided memory updates`);
    },
  }),
  'disk-random': commandWorkload({
    name: 'disk-random',
    exercises: ['disk'],
    title: 'fio random write 4 KiB, direct, libaio, QD 64',
    unit: 'IOPS',
    better: 'higher',
    program: { tool: FIO },
    args: (p, workDir) => [
      '--name=randwrite',
      '--rw=randwrite',
      '--bs=4k',
      '--direct=1',
      '--ioengine=libaio',
      '--iodepth=64',
      `--size=${p.disk.fileMiB}M`,
      `--runtime=${p.disk.seconds}`,
      '--time_based',
      `--filename=${workDir}/fio-randwrite.dat`,
      '--output-format=json',
    ],
    parse: parseFioJson,
    sampleMs: (f) => 1000 / f.value,
    timeoutMs: (p) => 300_000 + p.disk.seconds * 2_000,
    implausible: (f) => {
      if (f.value > LIMITS.maxIops) return `${f.value} IOPS is beyond any device (${LIMITS.maxIops})`;
      // fio's IOPS must be the writes it did over the time it ran.
      const done = Number(f.extra.ios) / f.seconds;
      return Math.abs(done - f.value) > 0.1 * f.value
        ? `fio reported ${f.value} IOPS but did ${f.extra.ios} writes in ${f.seconds} s`
        : undefined;
    },
  }),
  'disk-copyup': timedProgram('copyup', {
    name: 'disk-copyup',
    exercises: ['disk'],
    title: `first 4 KiB write to an existing ${COPYUP.mib} MiB file (in a container: copy-up from the image layer)`,
    args: (_p, workDir) => [workDir, String(COPYUP.mib), COPYUP.imageDir, String(COPYUP.links)],
    timeoutMs: () => 120_000,
    implausible: (f) => tooFast(f, LIMITS.minWriteSeconds, 'a 4 KiB write and an fsync'),
    image: {
      why: `disk-copyup: one file in the image layer under ${COPYUP.links} names (hard links); overlay (index=off) copies each name up on its first write, so every run gets an untouched file`,
      shell:
        `mkdir -m 0755 ${COPYUP.imageDir}` +
        ` && dd if=/dev/urandom of=${COPYUP.imageDir}/0 bs=1M count=${COPYUP.mib} status=none` +
        ` && for i in $(seq 1 ${COPYUP.links - 1}); do ln ${COPYUP.imageDir}/0 ${COPYUP.imageDir}/$i; done`,
    },
  }),
  fork: timedProgram('forksum', {
    name: 'fork',
    exercises: ['processes'],
    title: 'forksum (fork + pipe per half)',
    args: (p) => [String(p.fork.start), String(p.fork.end)],
    timeoutMs: () => 600_000,
    implausible: (f) => tooFast(f, Number(f.extra.spawned) * LIMITS.secondsPerProcess, `creating ${f.extra.spawned} processes`),
  }),
  'fork-threads': timedProgram('forksum', {
    name: 'fork-threads',
    exercises: ['processes'],
    title: 'forksum, thread per half',
    variant: 'threads',
    args: (p) => ['--threads', String(p.fork.start), String(p.fork.end)],
    timeoutMs: () => 600_000,
    implausible: (f) => tooFast(f, Number(f.extra.spawned) * LIMITS.secondsPerThread, `creating ${f.extra.spawned} threads`),
  }),
  nginx: {
    kind: 'served',
    name: 'nginx',
    // Counted as the network's: the transfer is what it measures. It also reads its file from the work
    // directory's disk once a run (after the flush), which a disk variant could change a little; measured
    // there with VIRTBENCH_VARIANT_BENCHMARKS=all.
    exercises: ['network'],
    title: 'nginx static file, parallel downloads from the host',
    unit: 's',
    better: 'lower',
    tool: NGINX,
    configName: 'nginx.conf',
    config: ({ dir, listen, allowFrom }) => nginxConfig(dir, listen, allowFrom),
    programs: { payload: { source: workloadSource('payload') } },
    prepare: ({ dir, profile, programs }) => [
      // The workers run as an unprivileged user: what they serve is readable whatever the umask.
      ['mkdir', '-p', '-m', '0755', dir, `${dir}/html`, `${dir}/logs`, `${dir}/temp`],
      // Random bytes, not a sparse file (reading holes would never touch the disk); from a user-space
      // generator, since /dev/urandom under binary translation took minutes for 512 MiB.
      [programs.payload!, `${dir}/html/${SERVED_FILE}`, String(profile.nginx.fileMiB)],
      ['chmod', '0644', `${dir}/html/${SERVED_FILE}`],
    ],
    start: ({ dir }) => ['nginx', '-p', dir, '-c', `${dir}/nginx.conf`],
    stop: ({ dir }) => ['nginx', '-p', dir, '-c', `${dir}/nginx.conf`, '-s', 'quit'],
    // On the host, one native process per lane (fixtures/workloads/httpget.c), so the client is never the bottleneck.
    measure: (address, p, context) =>
      downloadInParallel(
        {
          host: address.host,
          port: address.port,
          path: `/${SERVED_FILE}`,
          expectedBytes: p.nginx.fileMiB * 1024 * 1024,
          parallel: p.nginx.parallel,
          seconds: p.nginx.seconds,
          maxDownloads: 10_000,
          // Below timeoutMs minus the seconds, so a stalled download fails with the client's own message.
          downloadTimeoutSeconds: NGINX_DOWNLOAD_TIMEOUT_SECONDS,
          timeoutMs: nginxTimeoutMs(p),
          namespace: address.namespace,
        },
        context,
      ),
    sampleMs: (f) => f.value * 1000,
    timeoutMs: nginxTimeoutMs,
    implausible: (f) => {
      // Printed to 0.1 MB/s: below 0.05, the quick profile's 16 MiB take 335 s, past the download timeout (240 s).
      if (!(Number(f.extra.MBps) > 0)) return `the downloads moved ${f.extra.MBps} MB/s`;
      const bytesPerSecond = (Number(f.extra.MBps) * 1e6) / Number(f.extra.parallel);
      return bytesPerSecond > LIMITS.maxLoopbackBytesPerSecond
        ? `${f.extra.MBps} MB/s per ${f.extra.parallel} lanes is beyond what loopback TCP carries (${LIMITS.maxLoopbackBytesPerSecond / 1e9} GB/s a lane)`
        : undefined;
    },
  },
} satisfies Record<string, Workload>;

export type WorkloadName = keyof typeof definitions;
export const workloads: Record<WorkloadName, Workload> = definitions;
/**
 * Why this figure cannot be true, or undefined: first the floor of every
 * workload (a value and seconds above 0, see unusableNumber; the runner
 * refuses a figure below it before), then the workload's own bounds.
 */
export function implausibility(workload: Workload, figure: Figure): string | undefined {
  return unusableNumber('seconds', figure.seconds) ?? unusableNumber('value', figure.value) ?? workload.implausible?.(figure);
}

/** In the order reports show them. */
export const WORKLOAD_NAMES = Object.keys(workloads) as WorkloadName[];

/** The tool from the platform's packages a workload runs (fio, nginx), if any. */
export function toolOf(workload: Workload): Tool | undefined {
  return workload.kind === 'served' ? workload.tool : 'tool' in workload.program ? workload.program.tool : undefined;
}

/** What the built-in workloads need from a platform's image: Debian packages and baked-in files. */
export function workloadNeeds(list: readonly Workload[] = Object.values(workloads)): { packages: string[]; imageSteps: ImageStep[] } {
  const tools = list.map(toolOf);
  const packages = [...new Set(tools.flatMap((tool) => (tool?.debianPackage ? [tool.debianPackage] : [])))];
  return { packages, imageSteps: list.flatMap((w) => (w.image ? [w.image] : [])) };
}

/**
 * nginx as its own master on one port; all paths inside dir so it never
 * touches /etc or /var. With allowFrom, every other peer gets 403: a bridge
 * address is reachable by whatever routes to the bridge, not only the host.
 */
function nginxConfig(dir: string, listen: string, allowFrom?: string): string {
  const access = allowFrom ? `\n    allow ${allowFrom};\n    deny all;` : '';
  return `daemon on;
worker_processes 2;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 64; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/temp/body;
  proxy_temp_path ${dir}/temp/proxy;
  fastcgi_temp_path ${dir}/temp/fastcgi;
  uwsgi_temp_path ${dir}/temp/uwsgi;
  scgi_temp_path ${dir}/temp/scgi;
  server {
    listen ${listen};
    root ${dir}/html;${access}
  }
}
`;
}
