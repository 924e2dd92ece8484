import { connectSsh, loginError, shellQuote, type SshPeer, type SshSession, type SshTarget } from '../../host/ssh.js';

/*
 * The guest's side of exec (host/ssh.ts does the ssh): logged in with the
 * image's client key, only to the host key pinned at build time; each command
 * guarded by the guest's own timeout.
 */

const CONSOLE_HINT = 'while a guest runs, its console is virtbench-qemu-*/console.log in the work root, /var/tmp or $VIRTBENCH_WORK_DIR';

/** How ssh errors name a guest. */
export const GUEST_PEER: SshPeer = {
  what: 'the guest',
  pinnedBy: 'the guest image',
  lostHint: 'did QEMU exit or get killed?',
  loginFix: `did dropbear start in the guest, or QEMU exit? (${CONSOLE_HINT})`,
  timeoutFix: `the guest or the host is overloaded, the guest is paused, or QEMU hangs; run again (${CONSOLE_HINT})`,
  mismatchHint: 'another guest or process owns that port?',
};

export type GuestSshTarget = Omit<SshTarget, 'peer' | 'hostKeys'> & { hostKey: string };

function guestTarget({ hostKey, ...target }: GuestSshTarget): SshTarget {
  return { ...target, hostKeys: [hostKey], peer: GUEST_PEER };
}

/** An ssh2 session to a guest, accepting only its pinned host key. */
export function connectGuest(target: GuestSshTarget): Promise<SshSession> {
  return connectSsh(guestTarget(target));
}

/** Why login to a guest failed (see host/ssh.ts loginError). */
export function guestLoginError(target: GuestSshTarget, presented: Buffer | undefined, error?: Error & { level?: string }) {
  return loginError(guestTarget(target), presented, error);
}

/** The guest's static busybox: its applets start without the dynamic loader, which is slow under emulation. */
export const GUEST_BUSYBOX = '/bin/busybox';

/**
 * argv as the command line the guest's shell runs. With a timeout the guest
 * kills the command itself a little after the host gives up on it, so a
 * runaway benchmark never outlives its run: busybox's timeout, since
 * coreutils' is dynamically linked, which every exec would pay under TCG (docs/measurements.md).
 */
export function commandLine(argv: readonly string[], options: { cwd?: string; timeoutMs?: number } = {}): string {
  const guard = options.timeoutMs ? [GUEST_BUSYBOX, 'timeout', '-s', 'KILL', `${Math.ceil(options.timeoutMs / 1000) + 5}`] : [];
  const run = `exec ${[...guard, ...argv].map(shellQuote).join(' ')}`;
  return options.cwd ? `cd ${shellQuote(options.cwd)} && ${run}` : run;
}

export { shellQuote, type SshSession };
