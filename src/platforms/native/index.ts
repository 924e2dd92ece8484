import { chmod, copyFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../../host/command.js';
import { loopbackServiceAddress } from '../../host/net.js';
import { dropHostPageCache } from '../../host/page-cache.js';
import { createWorkDir, removeWorkDir, workRoot } from '../../host/work-dir.js';
import { factsCodec, type Platform, type PlatformFamily, type StartedPlatform } from '../platform.js';
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
    async provision() {
      // 0711: nginx's workers run as nobody (its config sets no user) and must traverse this directory
      // to the served file (<workDir>/nginx/html/); nobody else may list what is here.
      const workDir = await createWorkDir(NAME, workRoot(), { mode: 0o711 });
      return {
        facts: facts.encode({ workDir }),
        stop: async () => removeWorkDir(workDir),
        stopSync: () => removeWorkDir(workDir),
      };
    },
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

function connectNative(workDir: string): StartedPlatform {
  return {
    name: NAME,
    workDir,
    exec: (argv, options = {}) => runCommand(argv, { cwd: options.cwd ?? workDir, timeoutMs: options.timeoutMs }),
    async copyIn(hostPath, name, options = {}) {
      const target = join(workDir, name);
      await copyFile(hostPath, target);
      if (options.executable) await chmod(target, 0o755);
      return target;
    },
    serviceAddress: loopbackServiceAddress,
    flushCaches: dropHostPageCache,
    async describe() {
      return {
        kernel: release(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        cpus: cpus().length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      };
    },
    async close() {},
  };
}
