import { open, readFile, rm } from 'node:fs/promises';
import { VirtbenchError } from '../../../errors.js';
import { isAlive } from '../../host/process.js';

/*
 * One image build at a time per cache: two projects (qemu-tcg and
 * qemu-tcg-ide) set up in the same run must not both spend two minutes
 * building the same image. The lock file holds the owner's pid, so a lock
 * left by a killed run is taken over.
 */

export interface BuildLock {
  release(): Promise<void>;
}

export async function acquireBuildLock(path: string, log: (line: string) => void, timeoutMs = 30 * 60_000): Promise<BuildLock> {
  const until = Date.now() + timeoutMs;
  let announced = false;
  for (;;) {
    try {
      const handle = await open(path, 'wx', 0o644);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return { release: () => rm(path, { force: true }) };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await readFile(path, 'utf8').catch(() => '')).trim());
    // An empty file is a lock being written this very moment; a dead owner's lock is stale.
    if (owner > 0 && !isAlive(owner)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > until) {
      throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `waited ${Math.round(timeoutMs / 60_000)} min for another guest image build (lock ${path}, pid ${owner})`);
    }
    if (!announced && owner > 0) log(`waiting for another guest image build (pid ${owner}) to finish`);
    announced ||= owner > 0;
    await new Promise((r) => setTimeout(r, 1_000));
  }
}
