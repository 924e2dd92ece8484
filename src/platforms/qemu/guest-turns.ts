import { join } from 'node:path';
import { pidNaming } from '../../host/process.js';
import type { SshSession } from '../../host/ssh.js';
import type { StartedPlatform } from '../platform.js';
import { useGuest, type GuestUse } from './guest-users.js';
import { QEMU_PID_FILE } from './qemu-guest.js';
import { pauseGuest, resumeGuest } from './qmp.js';

/*
 * An idle guest is not free under TCG (about 1 % of a core each): while
 * other platforms are measured, a provisioned guest is paused through QMP
 * (never SIGSTOP: see qmp.ts) and resumed when a benchmark connects. The
 * plugin runs one project's bench files one after another, and close()
 * pauses the guest only when no other worker holds a lease on it
 * (guest-users.ts), should a second file of this platform run meanwhile.
 * Whatever guest QEMU boots (virtbench's own, a user's image), this is the same.
 */

/** A provisioned guest as its workers know it: QEMU's work directory on the host, and its monitor there. */
export interface LeasedGuest {
  hostDir: string;
  qmpSocket: string;
}

/** This worker's lease on the guest: resumes it now; pauses it when no worker wants it any more. */
export function leaseGuest(name: string, guest: LeasedGuest): Promise<GuestUse> {
  return useGuest(
    guest.hostDir,
    { resume: () => resumeGuest(guest.qmpSocket, name), pause: () => pauseGuest(guest.qmpSocket, name) },
    name,
  );
}

/**
 * The parts of a StartedPlatform that a leased guest's turns make: frozen between turns through QMP,
 * its CPU read from QEMU's process, its lease given back on close (the ssh session stays, kept for the
 * worker's next benchmark).
 */
export function guestTurnParts(
  hostDir: string,
  ssh: SshSession,
  use: GuestUse,
): Required<Pick<StartedPlatform, 'freeze' | 'thaw' | 'cpuSources' | 'close'>> {
  let closed = false;
  // The kept session may come from a time the guest was paused (between bench files): it answers again now.
  ssh.setPeerPaused(false);
  /** Stopped through QMP between turns (the vCPUs and the guest's clock): its ssh server answers nothing meanwhile. */
  const setFrozen = async (frozen: boolean) => {
    if (frozen) ssh.setPeerPaused(true);
    await use.want(!frozen);
    if (!frozen) ssh.setPeerPaused(false);
  };
  return {
    freeze: () => setFrozen(true),
    thaw: () => setFrozen(false),
    // QEMU's one process: its vCPU threads, its user networking (slirp) and its I/O threads.
    cpuSources: async () => {
      const pid = pidNaming(join(hostDir, QEMU_PID_FILE), hostDir);
      return pid === undefined ? [] : [{ kind: 'process', pid }];
    },
    async close() {
      if (closed) return;
      closed = true;
      // The ssh connection stays open for this worker's next benchmark, and the guest may be paused
      // until then: its silence must not end the connection.
      ssh.setPeerPaused(true);
      // The guest is gone when this fails (killed, or stopped by its owner): nothing to pause.
      await use.release().catch(() => {});
    },
  };
}
