import { readFileSync } from 'node:fs';

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

/**
 * Under ptrace, each address space the sandbox ever had keeps a host process with its threads: about
 * 4.4 host threads per process forksum spawned, never given back while the sandbox lives (measured:
 * +3,000 to +3,500 host threads per run of 798 processes, the same again each run; threads of one
 * process, fork-threads, add none). Each takes a host PID.
 */
export const PTRACE_HOST_THREADS_PER_PROCESS = 4.5;

export interface HostPidFacts {
  /** /proc/sys/kernel/pid_max. */
  pidMax: number;
  /** Threads on the host now (/proc/loadavg's second number after the slash). */
  threadsNow: number;
}

/**
 * Whether the fork benchmark's processes, over the profile's runs, fit in the host's
 * PIDs under gVisor's ptrace platform; the reason it is n/a otherwise. When they do not, the sandbox
 * panics mid-benchmark ("error initializing first thread: resource temporarily unavailable") and the
 * container is gone with it: seen in a standard run here (pid_max 32768, 1,800 processes per run).
 */
export function gvisorForkFits(processesPerRun: number, runs: number, host: HostPidFacts): string | undefined {
  const needed = Math.ceil(processesPerRun * runs * PTRACE_HOST_THREADS_PER_PROCESS);
  // A tenth kept for everything else on the host.
  const available = Math.floor(host.pidMax * 0.9) - host.threadsNow;
  if (needed <= available) return undefined;
  return (
    `gVisor's ptrace platform keeps about ${PTRACE_HOST_THREADS_PER_PROCESS} host threads for every process the sandbox ever forked: ` +
    `${runs} runs of ${processesPerRun} processes need about ${needed} host PIDs, and this host has ${Math.max(available, 0)} ` +
    `to spare (pid_max ${host.pidMax}, ${host.threadsNow} threads now); the sandbox would panic mid-run. ` +
    "fix: raise the host's limit (sysctl -w kernel.pid_max=4194304), or fewer runs (VIRTBENCH_RUNS) or the quick profile"
  );
}

/** This host's PID facts; undefined where /proc does not tell. */
export function readHostPidFacts(): HostPidFacts | undefined {
  try {
    const pidMax = Number(readFileSync('/proc/sys/kernel/pid_max', 'utf8').trim());
    const threadsNow = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[3]?.split('/')[1]);
    return pidMax > 0 && threadsNow > 0 ? { pidMax, threadsNow } : undefined;
  } catch {
    return undefined;
  }
}
