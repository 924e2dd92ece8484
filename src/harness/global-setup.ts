import type { TestProject } from 'vitest/node';
import { VirtbenchError } from '../errors.js';
import { onExitSync } from './host/exit-cleanup.js';
import { createPlatform } from './platforms/index.js';
import { PROVIDE_KEY, type ProvidedSession } from './session.js';

/**
 * globalSetup of every platform project: runs once per `vitest bench` in the
 * main process. Checks the platform, provisions it, hands the workers plain
 * connection facts, and owns stopping it (teardown, exit or Ctrl-C).
 */
export default async function setupPlatform(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const session = project.config.provide[PROVIDE_KEY] as (ProvidedSession & { requested?: boolean }) | undefined;
  if (!session) return undefined;
  const platform = createPlatform(session.platform, session.settings);
  const log = (line: string) => console.log(`virtbench [${session.platform}] ${line}`);

  const availability = await platform.availability();
  if (!availability.available) {
    if (session.requested) {
      throw new VirtbenchError(
        'VIRTBENCH_PLATFORM_UNAVAILABLE',
        `--project ${session.platform} cannot run on this machine: ${availability.reason}`,
        { platform: session.platform },
      );
    }
    log(`skipped: ${availability.reason}`);
    project.provide(PROVIDE_KEY, { ...session, skipReason: availability.reason });
    return undefined;
  }

  const provisioned = await platform.provision({ cacheDir: session.cacheDir, log });
  const unregister = onExitSync(() => provisioned.stopSync());
  project.provide(PROVIDE_KEY, { ...session, facts: provisioned.facts });
  return async () => {
    unregister();
    await provisioned.stop();
  };
}
