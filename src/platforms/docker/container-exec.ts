import { Writable } from 'node:stream';
import type Dockerode from 'dockerode';
import { GuestLostError } from '../../errors.js';
import type { ExecResult } from '../platform.js';

/*
 * `docker exec` through the API, with the same result shape as a native
 * child process. The Docker API cannot kill an exec, so a time limit is
 * enforced inside the container by coreutils' `timeout` (exit 124, or 137
 * after the grace period), with a host-side guard should even that hang.
 */

const KILL_AFTER_S = 5;
const HOST_GUARD_MS = 15_000;
/**
 * How often a running exec looks at its container. The engine may never end an exec whose container
 * went away under it: when gVisor's sandbox died, containerd cleaned the container up and the exec's
 * exit event found "no such container", so the stream stayed open. One inspect is a few ms of the
 * engine's time; every 5 s it does not show in a measurement.
 */
const CONTAINER_CHECK_MS = 5_000;
/** A workload that floods stdout must not exhaust the harness's memory. */
const MAX_BYTES = 64 * 1024 * 1024;

class Collector extends Writable {
  private readonly chunks: Buffer[] = [];
  private size = 0;
  truncated = false;

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    if (this.size + chunk.length <= MAX_BYTES) {
      this.chunks.push(chunk);
      this.size += chunk.length;
    } else this.truncated = true;
    done();
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('utf8') + (this.truncated ? '\n[output truncated]' : '');
  }
}

export interface ContainerExecOptions {
  cwd: string;
  timeoutMs?: number;
  /** For errors: the platform's name. */
  platform?: string;
  /** Our own timeout (idle.c's `timeout` mode) where the image may have no coreutils: its path in the container. */
  timeoutProgram?: string;
}

/**
 * Runs argv in the container. A container that stops under it (killed, out of memory) and an engine
 * that stops answering are errors naming that cause, never an exit code that reads as the
 * workload's own failure or a time limit.
 */
export async function execInContainer(
  docker: Dockerode,
  containerId: string,
  argv: readonly string[],
  options: ContainerExecOptions,
): Promise<ExecResult> {
  const shown = argv.join(' ');
  let result: ExecResult & { containerGone: boolean };
  try {
    result = await execOnce(docker, containerId, argv, options);
  } catch (error) {
    throw new GuestLostError(
      `lost the Docker engine while running \`${shown}\` in container ${containerId.slice(0, 12)}: ${(error as Error).message}\n` +
        'fix: check that the engine runs (docker info; the private dockerd logs to <cache>/docker/dockerd.log), then run again',
      { platform: options.platform, cause: error },
    );
  }
  // 137 is SIGKILL; before the time limit, nobody in the container sent it: see whether the container itself is gone.
  if (result.containerGone || (result.exitCode === 137 && !result.timedOut)) {
    // The exec ends as the container's processes die, a moment before the engine marks the container exited.
    let state: ContainerState | undefined;
    for (let tries = 0; tries < 10; tries++) {
      state = await containerState(docker, containerId);
      if (!state?.Running) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    if (!state?.Running || result.containerGone) {
      const how = state?.Running
        ? 'it runs again, restarted'
        : state
          ? `${state.Status}, exit code ${state.ExitCode}${state.OOMKilled ? ', killed for lack of memory' : ''}`
          : 'it no longer exists';
      throw new GuestLostError(
        `the container ${containerId.slice(0, 12)} stopped while running \`${shown}\` (${how})` +
          (result.containerGone ? '; the engine had not ended the command' : '') +
          '\nfix: something outside the run stopped or removed it (docker kill/rm, the OOM killer, a restart of the engine, ' +
          "a crash of the container's runtime: see the engine's log); run again",
        { platform: options.platform },
      );
    }
  }
  const { containerGone: _, ...exec } = result;
  return exec;
}

type ContainerState = Dockerode.ContainerInspectInfo['State'];

/** The container's state, or undefined when the engine no longer knows it. */
function containerState(docker: Dockerode, containerId: string): Promise<ContainerState | undefined> {
  return docker
    .getContainer(containerId)
    .inspect()
    .then((i) => i.State)
    .catch(() => undefined);
}

async function execOnce(
  docker: Dockerode,
  containerId: string,
  argv: readonly string[],
  { cwd, timeoutMs, timeoutProgram }: ContainerExecOptions,
): Promise<ExecResult & { containerGone: boolean }> {
  const limit = timeoutProgram
    ? [timeoutProgram, 'timeout', String(KILL_AFTER_S), String((timeoutMs ?? 0) / 1000)]
    : ['timeout', `--kill-after=${KILL_AFTER_S}`, String((timeoutMs ?? 0) / 1000)];
  const command = timeoutMs ? [...limit, ...argv] : [...argv];
  const started = performance.now();
  const exec = await docker.getContainer(containerId).exec({ Cmd: command, AttachStdout: true, AttachStderr: true, WorkingDir: cwd });
  const stream = await exec.start({ hijack: true, stdin: false });
  const stdout = new Collector();
  const stderr = new Collector();
  docker.modem.demuxStream(stream, stdout, stderr);

  let guardFired = false;
  let containerGone = false;
  let settled = false;
  await new Promise<void>((resolve) => {
    const guard = timeoutMs
      ? setTimeout(
          () => {
            guardFired = true;
            stream.destroy();
            resolve();
          },
          timeoutMs + KILL_AFTER_S * 1000 + HOST_GUARD_MS,
        )
      : undefined;
    // Only an answer counts: a slow or failing engine is not a gone container (the stream tells when the engine dies).
    const check = setInterval(() => {
      docker
        .getContainer(containerId)
        .inspect()
        .then(
          (info) => !info.State.Running,
          (error: { statusCode?: number }) => error.statusCode === 404,
        )
        .then((gone) => {
          if (!gone || settled) return;
          containerGone = true;
          stream.destroy();
        });
    }, CONTAINER_CHECK_MS);
    const finish = () => {
      settled = true;
      clearTimeout(guard);
      clearInterval(check);
      resolve();
    };
    stream.once('end', finish);
    stream.once('close', finish);
    stream.once('error', finish);
  });
  // An exec whose container is gone may not be inspectable either; otherwise a failure here is the engine's.
  const inspected = await exec.inspect().catch((error: unknown) => {
    if (containerGone) return undefined;
    throw error;
  });
  let exitCode = inspected?.ExitCode ?? (guardFired ? 124 : 1);
  let err = stderr.text();
  let out = stdout.text();
  // Without the timeout wrapper, a missing program is an OCI error on stdout with 126; report it like a shell would.
  if (exitCode === 126 && /executable file not found/.test(out)) {
    exitCode = 127;
    err = `${argv[0]}: command not found\n${out}`;
    out = '';
  }
  // A program of another architecture: the engine's (or our timeout's) "exec format error", said plainly.
  if (exitCode === 126 && /exec format error/i.test(out + err)) {
    err = `${argv[0]}: wrong architecture: this engine cannot run the program (exec format error)\n${out}${err}`;
    out = '';
  }
  const wallMs = performance.now() - started;
  return {
    containerGone,
    command: [...argv],
    exitCode,
    stdout: out,
    stderr: err,
    wallMs,
    // timeout(1) exits 124, or 137 after its grace period: only once the limit has passed is either its doing.
    timedOut: guardFired || (timeoutMs !== undefined && wallMs >= timeoutMs && (exitCode === 124 || exitCode === 137)),
  };
}
