import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { basename, join } from 'node:path';
import { ImplausibleFigureError, MissingToolError, VirtbenchError, WorkloadFailedError, isVirtbenchError, onPlatform } from '../errors.js';
import { buildProgram } from '../workloads/build.js';
import { unusableFigureError, type Figure } from '../workloads/figure.js';
import { runCommand } from '../host/command.js';
import { waitFor } from '../host/poll.js';
import { inNamespace } from '../workloads/nginx/http-download.js';
import type { ExecResult, ServiceAddress, StartedPlatform } from '../platforms/platform.js';
import type { Profile } from '../workloads/profiles.js';
import {
  implausibility,
  type CommandWorkload,
  type ServedContext,
  type ServedWorkload,
  type Tool,
  type Workload,
} from '../workloads/index.js';

/** A workload made ready on one platform: run it as often as needed, then dispose. */
export interface PreparedWorkload {
  readonly workload: Workload;
  runOnce(): Promise<Figure>;
  dispose(): Promise<void>;
}

export interface PrepareOptions {
  cacheDir: string;
  signal?: AbortSignal;
}

/** Same steps on every platform: build or find the program, put it in place, then run and parse. */
export async function prepareWorkload(
  platform: StartedPlatform,
  workload: Workload,
  profile: Profile,
  options: PrepareOptions,
): Promise<PreparedWorkload> {
  return workload.kind === 'command'
    ? prepareCommand(platform, workload, profile, options)
    : prepareServed(platform, workload, profile, options);
}

function missingTool(platform: StartedPlatform, workload: Workload, tool: Tool, result: ExecResult): VirtbenchError {
  const why =
    result.stderr.trim() || (result.exitCode === 127 || result.exitCode === 1 ? 'not found on the PATH' : `exit ${result.exitCode}`);
  return new MissingToolError(
    `${workload.name} needs \`${tool.command}\`, which is not installed on this platform (${why}); fix: ${tool.install}`,
    { platform: platform.name },
  );
}

async function requireTool(platform: StartedPlatform, workload: Workload, tool: Tool): Promise<void> {
  if (platform.findCommand) {
    if (await platform.findCommand(tool.command)) return;
    throw new MissingToolError(
      `${workload.name} needs \`${tool.command}\`, which is not on this platform (not found on its PATH); fix: ${tool.install}`,
      { platform: platform.name },
    );
  }
  // A shell builtin, not the tool itself: a large tool's start is slow under emulation (docs/measurements.md).
  const result = await platform.exec(['sh', '-c', 'command -v "$1"', 'sh', tool.command], { timeoutMs: 30_000 });
  if (result.exitCode !== 0) throw missingTool(platform, workload, tool, result);
}

async function execChecked(platform: StartedPlatform, workload: Workload, argv: string[], timeoutMs: number): Promise<ExecResult> {
  const result = await platform.exec(argv, { timeoutMs });
  if (result.exitCode !== 0 || result.timedOut) throw new WorkloadFailedError(platform.name, workload.name, result);
  return result;
}

async function prepareCommand(
  platform: StartedPlatform,
  workload: CommandWorkload,
  profile: Profile,
  { cacheDir }: PrepareOptions,
): Promise<PreparedWorkload> {
  let program: string;
  if ('source' in workload.program) {
    program = await placeProgram(platform, workload.program.source, cacheDir);
  } else if ('script' in workload.program) {
    program = await platform.copyIn(workload.program.script, basename(workload.program.script), { executable: true });
  } else {
    await requireTool(platform, workload, workload.program.tool);
    program = workload.program.tool.command;
  }
  const argv = [program, ...workload.args(profile, platform.workDir)];
  return {
    workload,
    async runOnce() {
      const result = await execChecked(platform, workload, argv, workload.timeoutMs(profile));
      let figure: Figure;
      try {
        figure = workload.parse(result.stdout);
      } catch (error) {
        if (isVirtbenchError(error)) throw onPlatform(error, platform.name);
        throw error;
      }
      return checkedFigure(platform, workload, figure, result.stdout);
    },
    async dispose() {},
  };
}

/** Builds one of our C programs the platform's way (a static binary unless it says otherwise) and copies it in; returns its path there. */
async function placeProgram(platform: StartedPlatform, source: string, cacheDir: string): Promise<string> {
  const build = platform.buildProgram?.bind(platform) ?? buildProgram;
  const built = await build(source, cacheDir);
  return platform.copyIn(built.path, `${built.name}-${built.hash}`, { executable: true });
}

/**
 * The figure, unless the report cannot use it or it cannot be true: then the run fails with the evidence
 * instead of entering the results. Every figure passes here, also one a workload's own parse or a served
 * workload's measure made, which parseResultLine's checks never saw.
 */
export function checkedFigure(platform: StartedPlatform, workload: Workload, figure: Figure, output: string): Figure {
  const unusable = unusableFigureError(workload.name, figure, output, platform.name);
  if (unusable) throw unusable;
  const problem = implausibility(workload, figure);
  if (problem) throw new ImplausibleFigureError(platform.name, workload.name, figure, problem, output);
  return figure;
}

const START_ATTEMPTS = 3;

async function prepareServed(
  platform: StartedPlatform,
  workload: ServedWorkload,
  profile: Profile,
  { cacheDir, signal }: PrepareOptions,
): Promise<PreparedWorkload> {
  await requireTool(platform, workload, workload.tool);
  const dir = `${platform.workDir}/${workload.name}`;
  const programs: Record<string, string> = {};
  for (const [key, { source }] of Object.entries(workload.programs ?? {})) programs[key] = await placeProgram(platform, source, cacheDir);
  let address: ServiceAddress | undefined;
  let context: ServedContext | undefined;

  for (let attempt = 1; !address; attempt++) {
    const candidate = await platform.serviceAddress();
    context = { dir, listen: candidate.listen, allowFrom: candidate.allowFrom, profile, programs };
    if (attempt === 1) for (const step of workload.prepare(context)) await execChecked(platform, workload, step, 600_000);
    await writeConfig(platform, workload, context);
    const started = await platform.exec(workload.start(context), { timeoutMs: 60_000 });
    if (started.exitCode === 0) {
      address = candidate;
    } else if (!/in use/i.test(started.stderr)) {
      throw new WorkloadFailedError(platform.name, workload.name, started);
    } else if (attempt >= START_ATTEMPTS) {
      // Only a lost race for the port is worth another try; a port taken every time is someone else's.
      throw new WorkloadFailedError(
        platform.name,
        workload.name,
        started,
        `the service port ${candidate.listen} is taken on ${platform.name} by another program (${START_ATTEMPTS} attempts); ` +
          'stop it (`ss -ltnp` there shows which), then run again',
      );
    }
  }
  const readyContext = context!;
  await waitForPort(address, platform.name, 30_000);

  return {
    workload,
    runOnce: async () => {
      const figure = await workload.measure(address, profile, { cacheDir, signal });
      return checkedFigure(platform, workload, figure, `RESULT value=${figure.value} unit=${figure.unit} seconds=${figure.seconds}`);
    },
    async dispose() {
      await platform.exec(workload.stop(readyContext), { timeoutMs: 30_000 });
    },
  };
}

/** A connect from inside the address's network namespace, by a child Node process (a process cannot enter one for a single socket). */
async function connectsInNamespace(address: ServiceAddress): Promise<boolean> {
  const probe = `require('node:net').connect(${address.port}, ${JSON.stringify(address.host)}).on('connect', () => process.exit(0)).on('error', () => process.exit(1))`;
  const result = await runCommand([...inNamespace(address.namespace), process.execPath, '-e', probe], { timeoutMs: 10_000 });
  return result.exitCode === 0;
}

/** The config is rendered on the host and copied in, like a program. */
async function writeConfig(platform: StartedPlatform, workload: ServedWorkload, context: ServedContext): Promise<void> {
  const local = await mkdtemp(join(tmpdir(), 'virtbench-config-'));
  try {
    const file = join(local, workload.configName);
    await writeFile(file, workload.config(context));
    await platform.copyIn(file, `${workload.name}/${workload.configName}`);
  } finally {
    await rm(local, { recursive: true, force: true });
  }
}

async function waitForPort(address: ServiceAddress, platform: string, timeoutMs: number): Promise<void> {
  const open = () =>
    address.namespace
      ? connectsInNamespace(address)
      : new Promise<boolean>((resolve) => {
          const socket = connect(address.port, address.host);
          socket.once('connect', () => (socket.destroy(), resolve(true)));
          socket.once('error', () => resolve(false));
        });
  if (await waitFor(open, { timeoutMs })) return;
  throw new WorkloadFailedError(`server did not accept connections on ${address.host}:${address.port} within ${timeoutMs} ms`, {
    platform,
  });
}
