import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { VirtbenchError } from '../../../errors.js';
import { runChecked } from '../../host/command.js';
import type { Log } from '../../host/log.js';
import { freeLoopbackPort } from '../../host/net.js';
import { createWorkDir, removeStaleWorkDirs, removeWorkDir } from '../../host/work-dir.js';
import type { GuestImage } from './guest-image.js';
import { makeExt4 } from './guest-build.js';
import { TOOL_TIMEOUT_MS, toolFailure } from './host-tools.js';
import { qemuArgv, type Accel, type DiskBus, type DiskFormat, type GuestLayout } from './qemu-argv.js';
import { waitForSshBanner } from './ssh.js';

/*
 * One QEMU process and everything it uses, in a virtbench work directory:
 * the root overlay, the benchmark disk, the console log and QEMU's pid file.
 * removeWorkDir() kills whatever pid file names that directory, so a guest
 * left by a run that died is stopped at the next run's start.
 */

export interface BootOptions {
  platform: string;
  accel: Accel;
  cpu?: string;
  disk: { format: DiskFormat; bus: DiskBus };
  cpus: number;
  memoryMiB: number;
  /** From spawn to the ssh banner. */
  bootTimeoutMs: number;
  dataDiskSize: string;
  log: Log;
}

export interface RunningGuest {
  readonly pid: number;
  /** QEMU's monitor: pause and resume the guest there (see qmp.ts). */
  readonly qmpSocket: string;
  readonly sshPort: number;
  readonly servicePort: number;
  readonly bootMs: number;
  /** SIGKILL (if still running), wait for the exit, remove the work directory. Idempotent. */
  kill(): Promise<void>;
  /** The same from exit and signal handlers: synchronous. */
  killSync(): void;
}

/** Prefix shared by all QEMU variants, so any run cleans up stale guests of every variant. */
const WORK_DIR_FAMILY = 'qemu';
const PORT_ATTEMPTS = 3;

function consoleTail(path: string, lines = 20): string {
  try {
    const text = readFileSync(path, 'utf8').trimEnd();
    return text ? `\nguest console (last lines):\n${text.split('\n').slice(-lines).join('\n')}` : '\n(guest console empty)';
  } catch {
    return '\n(no guest console output)';
  }
}

async function prepareDisks(image: GuestImage, runDir: string, options: BootOptions): Promise<{ root: string; data: string }> {
  const qemuImg = (what: string, args: string[]) =>
    runChecked(['qemu-img', ...args], toolFailure(what, 'VIRTBENCH_BOOT_FAILED', options.platform), { timeoutMs: TOOL_TIMEOUT_MS });
  const root = join(runDir, 'root.qcow2');
  await qemuImg('creating the root overlay', ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image.rootImage, root]);
  const raw = join(runDir, 'data.raw');
  await makeExt4(undefined, raw, options.dataDiskSize, 'vbench-data');
  if (options.disk.format === 'raw') return { root, data: raw };
  const qcow2 = join(runDir, 'data.qcow2');
  await qemuImg('converting the benchmark disk to qcow2', ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2]);
  await rm(raw, { force: true });
  return { root, data: qcow2 };
}

/** setpriv --pdeathsig: the kernel kills QEMU when the process that started it dies, however it dies. */
function withParentDeathSignal(argv: string[]): string[] {
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...argv] : argv;
}

export async function bootGuest(image: GuestImage, options: BootOptions): Promise<RunningGuest> {
  await removeStaleWorkDirs(WORK_DIR_FAMILY);
  const runDir = await createWorkDir(options.platform);
  try {
    const disks = await prepareDisks(image, runDir, options);
    for (let attempt = 1; ; attempt++) {
      const layout: GuestLayout = {
        name: `virtbench-${options.platform}`,
        accel: options.accel,
        cpu: options.cpu,
        cpus: options.cpus,
        memoryMiB: options.memoryMiB,
        kernel: image.kernel,
        initrd: image.initrd,
        rootDisk: disks.root,
        dataDisk: { path: disks.data, ...options.disk },
        sshPort: await freeLoopbackPort(),
        servicePort: await freeLoopbackPort(),
        pidFile: join(runDir, 'qemu.pid'),
        qmpSocket: join(runDir, 'qmp.sock'),
        consoleLog: join(runDir, 'console.log'),
      };
      const started = await startQemu(layout, runDir, options);
      if (started !== 'port-taken') return started;
      // Another process took a port between our check and QEMU's bind: new ports.
      if (attempt >= PORT_ATTEMPTS) {
        throw new VirtbenchError('VIRTBENCH_BOOT_FAILED', `QEMU could not bind its forwarded ports in ${PORT_ATTEMPTS} attempts`, {
          platform: options.platform,
        });
      }
    }
  } catch (error) {
    removeWorkDir(runDir);
    throw error;
  }
}

async function startQemu(layout: GuestLayout, runDir: string, options: BootOptions): Promise<RunningGuest | 'port-taken'> {
  const argv = withParentDeathSignal(qemuArgv(layout));
  const t0 = performance.now();
  const child: ChildProcess = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    if (stderr.length < 64 * 1024) stderr += chunk.toString();
  });
  let exit: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = signal ? `killed by ${signal}` : `exit code ${code}`;
      resolve();
    });
    child.once('error', (error) => {
      exit = error.message;
      resolve();
    });
  });

  const outcome = await waitForSshBanner('127.0.0.1', layout.sshPort, options.bootTimeoutMs, () => exit !== undefined);
  const bootMs = performance.now() - t0;
  const guest: RunningGuest = {
    pid: child.pid ?? -1,
    qmpSocket: layout.qmpSocket,
    sshPort: layout.sshPort,
    servicePort: layout.servicePort,
    bootMs,
    async kill() {
      if (exit === undefined) child.kill('SIGKILL');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      removeWorkDir(runDir);
    },
    killSync() {
      if (exit === undefined && child.pid) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
      removeWorkDir(runDir);
    },
  };
  if (outcome === 'ready') {
    options.log(`guest up: ssh on 127.0.0.1:${layout.sshPort} after ${(bootMs / 1000).toFixed(1)} s (pid ${child.pid})`);
    return guest;
  }
  if (outcome === 'stopped') {
    await exited;
    if (/could not set up host forwarding rule/i.test(stderr)) return 'port-taken';
    if (/ENOENT/.test(exit ?? '')) {
      throw new VirtbenchError('VIRTBENCH_MISSING_TOOL', `${argv[0]} not found (run scripts/setup.sh)`, { platform: options.platform });
    }
    throw new VirtbenchError(
      'VIRTBENCH_BOOT_FAILED',
      `QEMU exited during boot (${exit})${stderr.trim() ? `\nqemu: ${stderr.trim()}` : ''}${consoleTail(layout.consoleLog)}`,
      { platform: options.platform },
    );
  }
  await guest.kill();
  throw new VirtbenchError(
    'VIRTBENCH_BOOT_TIMEOUT',
    `the guest did not answer on ssh within ${(options.bootTimeoutMs / 1000).toFixed(1)} s (${options.accel}); QEMU was killed${consoleTail(layout.consoleLog)}`,
    { platform: options.platform },
  );
}
