import { chmod, copyFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../host/command.js';
import { loopbackServiceAddress } from '../../host/net.js';
import { dropHostPageCache } from '../../host/page-cache.js';
import { provisionWorkDir } from '../../host/work-dir.js';
import { factsCodec, type Platform, type PlatformFamily, type PlatformInfo, type StartedPlatform } from '../platform.js';
import { workloadNeeds } from '../../workloads/index.js';

/**
 * The host itself: the baseline every other platform is compared with.
 * Workloads run as plain child processes in a private directory on disk
 * (not tmpfs: fio needs O_DIRECT).
 */

const NAME = 'native';
const facts = factsCodec(NAME, { workDir: 'string' });

export function createNativePlatform(): Platform {
  return {
    name: NAME,
    async availability() {
      return { available: true };
    },
    // 0711: nginx's workers run as nobody (its config sets no user) and must traverse this directory
    // to the served file (<workDir>/nginx/html/); nobody else may list what is here.
    provision: () => provisionWorkDir(NAME, async (workDir) => facts.encode({ workDir }), { mode: 0o711 }),
    async connect(encoded) {
      return connectNative(facts.decode(encoded).workDir);
    },
  };
}

export const nativePlatforms: PlatformFamily = {
  names: [NAME],
  create: () => createNativePlatform(),
  // The workloads' tools (fio, nginx) run from the host's own Debian packages. nginx-light's package starts
  // a system nginx where an init system runs: runs never use it, they start their own.
  requirements: { [NAME]: { packages: workloadNeeds().packages } },
};

/**
 * What a platform whose programs are the host's own child processes in workDir shares with native (the
 * emulated qemu-user-arm64 too): files are copied into the directory, servers listen on the host's loopback,
 * the page cache is the host's.
 */
export function hostProcessParts(workDir: string): Pick<StartedPlatform, 'copyIn' | 'serviceAddress' | 'flushCaches'> {
  return {
    async copyIn(hostPath, name, options = {}) {
      const target = join(workDir, name);
      await copyFile(hostPath, target);
      if (options.executable) await chmod(target, 0o755);
      return target;
    },
    serviceAddress: loopbackServiceAddress,
    flushCaches: dropHostPageCache,
  };
}

/** The host's kernel, CPU and memory: native's facts, and those of platforms that run on the host kernel. */
export function hostFacts(): PlatformInfo {
  return {
    kernel: release(),
    cpuModel: cpus()[0]?.model ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
  };
}

function connectNative(workDir: string): StartedPlatform {
  return {
    name: NAME,
    workDir,
    exec: (argv, options = {}) => runCommand(argv, { cwd: options.cwd ?? workDir, timeoutMs: options.timeoutMs }),
    ...hostProcessParts(workDir),
    describe: async () => hostFacts(),
    async close() {},
  };
}
