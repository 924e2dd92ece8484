import { workloadSource } from './build.js';
import { parseFioJson, parseResultLine, type Figure } from './figure.js';
import { downloadInParallel } from './http-download.js';
import type { Profile } from './profiles.js';
import type { ServiceAddress } from './platform.js';
import type { Better } from '../results/schema.js';

export type { Better };

/** A program that must exist inside the platform, and how a user gets it. */
export interface Tool {
  command: string;
  /** Arguments that print a version and exit 0: how the runner tells whether the tool is there. Default --version. */
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
   * The sample handed to tinybench as overriddenDuration, in ms: the in-platform
   * time of one unit of work. For lower-is-better workloads it is the figure
   * itself; for rates it is the time per unit, so Vitest's hz is proportional
   * to the figure.
   */
  sampleMs(figure: Figure): number;
  /** Upper bound for one run, after which the run is killed and fails. */
  timeoutMs(profile: Profile): number;
  image?: ImageStep;
}

/** Runs one command inside the platform and parses what it prints. */
export interface CommandWorkload extends WorkloadBase {
  kind: 'command';
  /** Either a C program built on the host (a path to its source) or a tool from the platform's packages. */
  program: { source: string } | { tool: Tool };
  args(profile: Profile, workDir: string): string[];
  parse(stdout: string): Figure;
}

export interface ServedContext {
  /** Directory inside the platform holding the server's files. */
  dir: string;
  listen: string;
  profile: Profile;
}

/** A server started inside the platform and driven from the host (the only such benchmark is nginx). */
export interface ServedWorkload extends WorkloadBase {
  kind: 'served';
  tool: Tool;
  /** Text of the server's configuration file, written to <dir>/<configName>. */
  configName: string;
  config(context: ServedContext): string;
  /** Commands that create the served content inside the platform (run once per session). */
  prepare(context: ServedContext): string[][];
  start(context: ServedContext): string[];
  stop(context: ServedContext): string[];
  /** The host side of one run. */
  measure(address: ServiceAddress, profile: Profile, signal?: AbortSignal): Promise<Figure>;
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

const FIO: Tool = { command: 'fio', versionArgs: ['--version'], debianPackage: 'fio', install: 'apt-get install fio' };
const NGINX: Tool = { command: 'nginx', versionArgs: ['-v'], debianPackage: 'nginx-light', install: 'apt-get install nginx-light' };

/**
 * The copy-up benchmark's files: one file of `mib` MiB under `links` names
 * (hard links, so an image stores the bytes once), more names than the 48
 * runs of the assignment profile. copyup.c gets all three as arguments.
 */
const COPYUP = { mib: 64, links: 64, imageDir: '/opt/virtbench-copyup' };

/** One of our own C programs (fixtures/workloads/<program>.c) that times itself in seconds: lower is better. */
function timedProgram(program: string, input: Omit<CommandWorkloadInput, 'unit' | 'better' | 'program'>): CommandWorkload {
  return commandWorkload({ ...input, unit: 's', better: 'lower', program: { source: workloadSource(program) } });
}

const definitions = {
  cpu: commandWorkload({
    name: 'cpu',
    title: 'LINPACK (LU factorisation + solve)',
    unit: 'kFLOPS',
    better: 'higher',
    program: { source: workloadSource('linpack') },
    args: (p) => [String(p.cpu.n), String(p.cpu.lda), String(p.cpu.minSeconds)],
    sampleMs: (f) => (f.seconds * 1000) / Number(f.extra.solves ?? 1),
    timeoutMs: (p) => 120_000 + p.cpu.minSeconds * 60_000,
  }),
  mem: timedProgram('memsweep', {
    name: 'mem',
    title: 'memsweep (4097-byte stride)',
    args: (p) => [String(p.mem.bytes), String(p.mem.passes)],
    timeoutMs: () => 600_000,
  }),
  'disk-random': commandWorkload({
    name: 'disk-random',
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
  }),
  'disk-copyup': timedProgram('copyup', {
    name: 'disk-copyup',
    title: `first 4 KiB write to an existing ${COPYUP.mib} MiB file (in a container: copy-up from the image layer)`,
    args: (_p, workDir) => [workDir, String(COPYUP.mib), COPYUP.imageDir, String(COPYUP.links)],
    timeoutMs: () => 120_000,
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
    title: 'forksum (fork + pipe per half)',
    args: (p) => [String(p.fork.start), String(p.fork.end)],
    timeoutMs: () => 600_000,
  }),
  'fork-threads': timedProgram('forksum', {
    name: 'fork-threads',
    title: 'forksum, thread per half',
    variant: 'threads',
    args: (p) => ['--threads', String(p.fork.start), String(p.fork.end)],
    timeoutMs: () => 600_000,
  }),
  nginx: {
    kind: 'served',
    name: 'nginx',
    title: 'nginx static file, parallel downloads from the host',
    unit: 's',
    better: 'lower',
    tool: NGINX,
    configName: 'nginx.conf',
    config: ({ dir, listen }) => nginxConfig(dir, listen),
    prepare: ({ dir, profile }) => [
      ['mkdir', '-p', `${dir}/html`, `${dir}/logs`, `${dir}/temp`],
      // Random bytes, not a sparse file: reading holes would never touch the disk.
      ['dd', 'if=/dev/urandom', `of=${dir}/html/${SERVED_FILE}`, 'bs=1M', `count=${profile.nginx.fileMiB}`],
    ],
    start: ({ dir }) => ['nginx', '-p', dir, '-c', `${dir}/nginx.conf`],
    stop: ({ dir }) => ['nginx', '-p', dir, '-c', `${dir}/nginx.conf`, '-s', 'quit'],
    measure: (address, p, signal) =>
      downloadInParallel({
        url: `http://${address.host}:${address.port}/${SERVED_FILE}`,
        expectedBytes: p.nginx.fileMiB * 1024 * 1024,
        parallel: p.nginx.parallel,
        seconds: p.nginx.seconds,
        signal,
      }),
    sampleMs: (f) => f.value * 1000,
    timeoutMs: (p) => 300_000 + p.nginx.seconds * 2_000,
  },
} satisfies Record<string, Workload>;

export type WorkloadName = keyof typeof definitions;
export const workloads: Record<WorkloadName, Workload> = definitions;
/** In the order reports show them. */
export const WORKLOAD_NAMES = Object.keys(workloads) as WorkloadName[];

/** What the built-in workloads need from a platform's image: Debian packages and baked-in files. */
export function workloadNeeds(list: readonly Workload[] = Object.values(workloads)): { packages: string[]; imageSteps: ImageStep[] } {
  const tools = list.map((w) => (w.kind === 'served' ? w.tool : 'tool' in w.program ? w.program.tool : undefined));
  const packages = [...new Set(tools.flatMap((tool) => (tool?.debianPackage ? [tool.debianPackage] : [])))];
  return { packages, imageSteps: list.flatMap((w) => (w.image ? [w.image] : [])) };
}

/** nginx as its own master on one port; all paths inside dir so it never touches /etc or /var. */
function nginxConfig(dir: string, listen: string): string {
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
    root ${dir}/html;
  }
}
`;
}
