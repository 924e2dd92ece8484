import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GuestLostError } from '../../errors.js';
import { withLock } from '../../host/file-lock.js';
import { isAlive, ownerOfTag, ownerTag, thisProcess, type ThisProcess } from '../../host/owner.js';

/*
 * Which workers use a provisioned guest right now: one lease file each, in
 * QEMU's work directory on the host. A worker resumes the guest when it
 * connects and pauses it when it leaves last. The plugin runs one platform's
 * bench files one at a time, but with several platforms the files of all of
 * them share one pool of workers (runtime/turn-reporter.ts): a worker freed
 * early by one platform can start this platform's next file while its
 * current one still runs, and a plain pause in close() would freeze that one
 * in the middle of its benchmark. Likewise a worker between its turns (freeze) pauses the guest only
 * when no other live worker wants it running.
 */

export interface GuestUse {
  /**
   * Between this worker's turns its lease stops wanting the guest (freeze), and wants it again at its
   * next turn (thaw): the guest runs while some live lease wants it. Idempotent.
   */
  want(running: boolean): Promise<void>;
  /** Gives the lease back; pauses the guest when no live worker's lease wants it. Idempotent. */
  release(): Promise<void>;
}

/** A lease file's text while its worker is between turns; empty: it wants the guest running. */
const BETWEEN_TURNS = 'frozen';

/** Whether any of the leases wants the guest running (a lease removed meanwhile does not). */
async function wantedByAny(users: string, leases: readonly string[]): Promise<boolean> {
  for (const lease of leases) {
    if ((await readFile(join(users, lease), 'utf8').catch(() => BETWEEN_TURNS)) !== BETWEEN_TURNS) return true;
  }
  return false;
}

export interface GuestControl {
  resume(): Promise<void>;
  pause(): Promise<void>;
}

const LOCK_TIMEOUT_MS = 30_000;

/** A lease's name: its worker as an owner tag (owner.ts), then a random part (thread workers share a pid). */
function leaseName(): string {
  return `${ownerTag()}-${randomBytes(6).toString('hex')}`;
}

/**
 * The leases whose worker may still run (owner.ts judges it: pid, start time, pid namespace, boot). A
 * worker killed before its close() left one, whether its pid is gone or now another process's.
 */
export function liveLeases(leases: readonly string[], where: ThisProcess = thisProcess()): string[] {
  return leases.filter((lease) => {
    const owner = ownerOfTag(lease.split('-')[0] ?? '', where);
    return owner !== undefined && isAlive(owner, where);
  });
}

/** Runs fn holding the lock of dir's leases: a resume and a pause never interleave with another worker's. */
async function withLeaseLock<T>(dir: string, platform: string | undefined, fn: (users: string) => Promise<T>): Promise<T> {
  if (!existsSync(dir)) {
    throw new GuestLostError(
      `QEMU's work directory ${dir} is gone: the guest was stopped (QEMU was killed, or the run that provisioned it ended)\n` +
        'fix: look above in the log for why QEMU stopped; the next run provisions a new guest',
      { platform },
    );
  }
  const users = join(dir, 'users');
  return await withLock(
    users,
    async () => {
      // Not recursive: a directory removed meanwhile is not made again.
      await mkdir(users, { mode: 0o700 }).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
      return await fn(users);
    },
    { what: 'resuming or pausing the guest', timeoutMs: LOCK_TIMEOUT_MS, platform },
  );
}

/** Takes a lease on the guest whose QEMU works in dir, and resumes the guest. */
export async function useGuest(dir: string, control: GuestControl, platform?: string): Promise<GuestUse> {
  const lease = leaseName();
  await withLeaseLock(dir, platform, async (users) => {
    await writeFile(join(users, lease), '');
    try {
      await control.resume();
    } catch (error) {
      await rm(join(users, lease), { force: true });
      throw error;
    }
  });
  let released = false;
  /** The live leases; those of workers that died are dropped, so they never keep the guest running again. */
  const liveOnly = async (users: string) => {
    const all = await readdir(users);
    const live = liveLeases(all);
    for (const dead of all.filter((l) => !live.includes(l))) await rm(join(users, dead), { force: true });
    return live;
  };
  return {
    async want(running) {
      if (released) return;
      await withLeaseLock(dir, platform, async (users) => {
        await writeFile(join(users, lease), running ? '' : BETWEEN_TURNS);
        if (running) await control.resume();
        else if (!(await wantedByAny(users, await liveOnly(users)))) await control.pause();
      });
    },
    async release() {
      if (released) return;
      released = true;
      await withLeaseLock(dir, platform, async (users) => {
        await rm(join(users, lease), { force: true });
        if (!(await wantedByAny(users, await liveOnly(users)))) await control.pause();
      });
    },
  };
}
