import { BootFailedError, BootTimeoutError } from '../../errors.js';
import { GUEST_WORK_DIR } from './guest-recipe.js';
import { GUEST_BUSYBOX, shellQuote, type SshSession } from './ssh.js';
import { TAP_NET } from './tap.js';

/* What provisioning checks and sets up in a booted guest before anyone measures on it. */

/** The provisioning check's bound: it reads two files and runs two tiny programs. */
export const GUEST_CHECK_TIMEOUT_MS = 60_000;

const CLOCKSOURCE = '/sys/devices/system/clocksource/clocksource0/current_clocksource';

/**
 * Checks a booted guest before anyone measures on it: the work directory is on the benchmark disk
 * (not the root disk or a tmpfs). Returns the guest's clock source and CPU model.
 */
export async function checkProvisionedGuest(
  ssh: Pick<SshSession, 'run'>,
  platform: string,
  consoleTail: () => string = () => '',
): Promise<{ clocksource: string; cpu: string }> {
  const check = await ssh.run(
    `mountpoint -q /mnt/bench && test -d ${shellQuote(GUEST_WORK_DIR)} && cat ${CLOCKSOURCE} && grep -m1 'model name' /proc/cpuinfo`,
    { timeoutMs: GUEST_CHECK_TIMEOUT_MS },
  );
  if (check.timedOut) {
    throw new BootTimeoutError(
      `the provisioning check in the guest (benchmark disk mounted at /mnt/bench, clock source, CPU model) did not answer within ${GUEST_CHECK_TIMEOUT_MS / 1000} s${consoleTail()}\n` +
        'fix: the guest hangs (see its console above) or the host is overloaded; run again',
      { platform },
    );
  }
  if (check.exitCode !== 0) {
    const why = check.stderr.trim() || `exit ${check.exitCode}`;
    throw new BootFailedError(
      `the guest's benchmark disk is not mounted at /mnt/bench (${why})${consoleTail()}\n` +
        "fix: the guest's console above says why (look for virtbench-rc); run again, and if it repeats, remove the image in the cache's qemu/ directory to build it anew",
      { platform },
    );
  }
  const [clocksource, cpuLine] = check.stdout.trim().split('\n');
  return { clocksource: clocksource?.trim() || 'unknown', cpu: (cpuLine ?? '').split(':').slice(1).join(':').trim() };
}

/** The tap card is the guest's second (eth1): its address, set once the guest is up (the init configures eth0 only). */
export async function configureTapCard(ssh: Pick<SshSession, 'run'>, platform: string): Promise<void> {
  const address = `${TAP_NET.guest}/${TAP_NET.bits}`;
  const result = await ssh.run(`${GUEST_BUSYBOX} ip addr add ${address} dev eth1 && ${GUEST_BUSYBOX} ip link set eth1 up`, {
    timeoutMs: GUEST_CHECK_TIMEOUT_MS,
  });
  if (result.exitCode !== 0) {
    throw new BootFailedError(
      `could not give the guest's tap card (eth1) the address ${address}: ${result.stderr.trim() || `exit ${result.exitCode}`}`,
      { platform },
    );
  }
}
