import { chmod, copyFile, writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { freeLoopbackPort } from '../../host/net.js';
import type { ExecOptions, ExecResult, Platform, StartedPlatform } from '../../platform.js';
import { createWorkDir, removeWorkDir } from '../../host/work-dir.js';

/**
 * The host itself: the baseline every other platform is compared with.
 * Workloads run as plain child processes in a private directory on disk
 * (not tmpfs: fio needs O_DIRECT).
 */
export function createNativePlatform(): Platform {
  return {
    name: 'native',
    async availability() {
      return { available: true };
    },
    async provision() {
      const workDir = await createWorkDir('native');
      return {
        facts: { workDir },
        stop: async () => removeWorkDir(workDir),
        stopSync: () => removeWorkDir(workDir),
      };
    },
    async connect(facts) {
      return connectNative(String(facts.workDir));
    },
  };
}

export async function execOnHost(argv: readonly string[], options: ExecOptions & { cwd: string }): Promise<ExecResult> {
  const [file, ...args] = argv;
  const started = performance.now();
  const result = await execa(file!, args, {
    cwd: options.cwd,
    timeout: options.timeoutMs,
    reject: false,
    stdin: 'ignore',
    // A workload that floods stdout must not exhaust the harness's memory.
    maxBuffer: 64 * 1024 * 1024,
  });
  const notFound = (result.cause as { code?: string } | undefined)?.code === 'ENOENT';
  return {
    command: [...argv],
    exitCode: notFound ? 127 : (result.exitCode ?? (result.signal ? 128 : 1)),
    stdout: String(result.stdout ?? ''),
    stderr: notFound ? `${file}: command not found` : String(result.stderr ?? '') + (result.signal ? `\nkilled by ${result.signal}` : ''),
    wallMs: performance.now() - started,
    timedOut: Boolean(result.timedOut),
  };
}

function connectNative(workDir: string): StartedPlatform {
  return {
    name: 'native',
    workDir,
    exec: (argv, options = {}) => execOnHost(argv, { ...options, cwd: options.cwd ?? workDir }),
    async copyIn(hostPath, name, options = {}) {
      const target = join(workDir, name);
      await copyFile(hostPath, target);
      if (options.executable) await chmod(target, 0o755);
      return target;
    },
    async serviceAddress() {
      const port = await freeLoopbackPort();
      return { listen: `127.0.0.1:${port}`, host: '127.0.0.1', port };
    },
    async flushCaches() {
      const sync = await execOnHost(['sync'], { cwd: workDir });
      if (sync.exitCode !== 0) return false;
      try {
        await writeFile('/proc/sys/vm/drop_caches', '3\n');
        return true;
      } catch {
        return false; // not root, or a read-only /proc in a sandbox
      }
    },
    async describe() {
      return {
        kernel: release(),
        cpuModel: cpus()[0]?.model ?? 'unknown',
        cpus: cpus().length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
      };
    },
    async close() {},
    async [Symbol.asyncDispose]() {},
  };
}
