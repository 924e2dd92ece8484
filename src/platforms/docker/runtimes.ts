import { isVirtbenchError } from '../../errors.js';
import { findExecutable } from '../../host/process.js';
import { installFix, PlatformUnavailableError, type Availability } from '../platform.js';
import { CRUN_RUNTIME } from './crun.js';
import type { Engine } from './engine.js';
import { GVISOR_RUNTIME } from './gvisor.js';

/*
 * OCI runtimes other than the engine's default (runc) that a variant asks for: the private dockerd
 * registers each where its program (the Debian package of the same name) is installed.
 */

/** A runtime's registered name, and its program and Debian package. */
export const RUNTIME_BINARIES: Readonly<Record<string, string>> = { [GVISOR_RUNTIME]: 'runsc', [CRUN_RUNTIME]: 'crun' };

const TITLES: Readonly<Record<string, string>> = { [GVISOR_RUNTIME]: "gVisor's runsc", [CRUN_RUNTIME]: 'crun' };

/**
 * Whether the runtime can be had: only the private dockerd is ours to give it to (DOCKER_HOST's engine is
 * asked when provisioning, requireRuntime), so without DOCKER_HOST its program must be installed.
 */
export function runtimeAvailability(runtime: string, engine: Availability, env: NodeJS.ProcessEnv): Availability {
  const binary = RUNTIME_BINARIES[runtime] ?? runtime;
  if (!engine.available || env.DOCKER_HOST || findExecutable(binary, env)) return engine;
  return { available: false, reason: `${TITLES[runtime] ?? binary} is not installed; fix: ${installFix(binary)}` };
}

/** The engine's answer when a container does not start, as an error that names the platform (and its runtime). */
export function cannotStart(platform: string, runtime: string | undefined, error: unknown): Error {
  if (isVirtbenchError(error)) return error;
  const message = String((error as { json?: { message?: unknown } }).json?.message ?? (error as Error).message);
  // A runtime that cannot run a container on this machine makes the platform unavailable here, not the run fail.
  if (runtime) {
    return new PlatformUnavailableError(
      platform,
      `the Docker engine could not start a container under ${runtime}: ${message}; fix: see the engine's log, or run without --project ${platform}`,
    );
  }
  return new PlatformUnavailableError(`the Docker engine could not start the benchmark container: ${message}`, {
    platform,
    cause: error,
  });
}

/** The engine must know the variant's runtime; otherwise the platform is skipped with the reason. */
export async function requireRuntime(engine: Engine, platform: string, runtime: string): Promise<void> {
  const runtimes = Object.keys(((await engine.docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
  if (runtimes.includes(runtime)) return;
  const binary = RUNTIME_BINARIES[runtime] ?? runtime;
  const fix =
    engine.source === 'private dockerd'
      ? `the private dockerd was started without it (${binary} was not installed then): let the runs that use it finish, then run again (it starts anew with ${binary}); or apt-get install ${binary}`
      : `register it with that engine (dockerd --add-runtime ${runtime}=/usr/bin/${binary}), or unset DOCKER_HOST to use virtbench's private dockerd`;
  throw new PlatformUnavailableError(
    platform,
    `the Docker engine (${engine.source}) has no "${runtime}" runtime (it has ${runtimes.join(', ') || 'none'}); fix: ${fix}`,
  );
}
