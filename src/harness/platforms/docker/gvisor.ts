/*
 * gVisor (docker-gvisor): the container runs under runsc, a user-space kernel that serves its system
 * calls. The private dockerd registers it where runsc is installed (apt-get install runsc).
 */

/** The runtime name docker-gvisor's containers ask the engine for. */
export const GVISOR_RUNTIME = 'runsc';

/**
 * runsc's platform (how the sandbox intercepts system calls): ptrace, the one Debian's runsc
 * 20221219 runs here (systrap exists only in newer builds; kvm needs a usable /dev/kvm).
 */
export const GVISOR_PLATFORM = 'ptrace';

/**
 * runsc's network: the host kernel's stack in the container's own network namespace (behind the same
 * bridge and published port as docker's). gVisor's own netstack (--network=sandbox) refuses to start
 * here: "cannot run with network enabled in root network namespace".
 */
export const GVISOR_NETWORK = 'host';

/** Benchmarks that do not measure under gVisor what they say they measure, and the evidence. */
export const GVISOR_UNSUPPORTED: Readonly<Record<string, string>> = {
  'disk-copyup':
    "gVisor serves the image's files through its own file system layer: the host overlay's copy-up that this benchmark times " +
    'does not happen in the write (the file kept its 64 hard links after it, where under runc it has 1)',
};
