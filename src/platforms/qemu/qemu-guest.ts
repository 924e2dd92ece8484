import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BootFailedError, BootTimeoutError, MissingToolError } from '../../errors.js';
import type { Log } from '../../host/log.js';
import { freeLoopbackPort } from '../../host/net.js';
import { onExitSync } from '../../host/exit-cleanup.js';
import { argNames, createWorkDir, removeStaleWorkDirs, removeWorkDir } from '../../host/work-dir.js';
import type { GuestImage } from './guest-image.js';
import { makeExt4, writePrivateFile } from './guest-build.js';
import { TOOL_TIMEOUT_MS, runTool, toolsFix } from './host-tools.js';
import { qemuArgv, type Accel, type DiskBus, type DiskFormat, type GuestLayout } from './qemu-argv.js';
import { waitForSshBanner } from '../../host/ssh.js';
import { createTap, moveTapIntoNamespace, removeStaleTapNetworks, removeTapNetwork, TAP_MAC, tapNetworkFor } from './tap.js';

/*
 * One QEMU process and everything it uses, in a virtbench work directory:
 * the root overlay, the benchmark disk, the console log and QEMU's pid file.
 * removeWorkDir() kills whatever process names that directory, so a guest
 * left by a run that died is stopped at the next run's start. The directory
 * is 0700 and its disks 0600: QEMU runs as this user, and nobody else needs them.
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
  /** A second card on a tap device in a private network namespace (tap.ts). */
  tap?: boolean;
}

export interface RunningGuest {
  /** QEMU's work directory on the host (0700): its disks, pid file, monitor socket and console log. */
  readonly dir: string;
  /** QEMU's monitor: pause and resume the guest there (see qmp.ts). */
  readonly qmpSocket: string;
  readonly sshPort: number;
  readonly servicePort: number;
  readonly bootMs: number;
  /** The private network namespace the tap card's far end is in, when booted with tap. */
  readonly namespace?: string;
  /** The last lines of the guest's console, for an error (the file goes with the work directory). */
  consoleTail(): string;
  /** SIGKILL (if still running), wait for the exit, remove the work directory. Idempotent. */
  kill(): Promise<void>;
  /** The same from exit and signal handlers: synchronous. */
  killSync(): void;
}

/** QEMU's pid file in its work directory (RunningGuest.dir). */
export const QEMU_PID_FILE = 'qemu.pid';

/** Prefix shared by all QEMU variants, so any run cleans up stale guests of every variant. */
const WORK_DIR_FAMILY = 'qemu';
const PORT_ATTEMPTS = 3;

/** The guest's console so far ('' when it printed nothing, or its file is gone). */
function readConsole(path: string): string {
  try {
    return readFileSync(path, 'utf8').trimEnd();
  } catch {
    return '';
  }
}

function consoleTail(path: string, lines = 20): string {
  const text = readConsole(path);
  if (!existsSync(path)) return '\n(no guest console output)';
  return text ? `\nguest console (last lines):\n${text.split('\n').slice(-lines).join('\n')}` : '\n(guest console empty)';
}

/** The root overlay and the benchmark disk, each 0600 from its creation on (see writePrivateFile). */
export async function prepareDisks(
  image: Pick<GuestImage, 'rootImage'>,
  runDir: string,
  options: Pick<BootOptions, 'platform' | 'disk' | 'dataDiskSize'>,
): Promise<{ root: string; data: string }> {
  const qemuImg = (what: string, output: string, args: string[]) =>
    writePrivateFile(output, () =>
      runTool(['qemu-img', ...args, output], {
        what,
        code: 'VIRTBENCH_BOOT_FAILED',
        platform: options.platform,
        timeoutMs: TOOL_TIMEOUT_MS,
      }),
    );
  const root = join(runDir, 'root.qcow2');
  await qemuImg('creating the root overlay', root, ['create', '-q', '-f', 'qcow2', '-F', 'raw', '-b', image.rootImage]);
  const raw = join(runDir, 'data.raw');
  await makeExt4(undefined, raw, options.dataDiskSize, 'vbench-data');
  if (options.disk.format === 'raw') return { root, data: raw };
  const qcow2 = join(runDir, 'data.qcow2');
  await qemuImg('converting the benchmark disk to qcow2', qcow2, ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw]);
  await rm(raw, { force: true });
  return { root, data: qcow2 };
}

/**
 * Signals a child (QEMU) only while it is surely ours: Node has not reaped it (after the reap its pid
 * may be anyone's) and its command line still names the run's directory (QEMU's disks and pid file
 * are there). Returns whether it was signalled.
 */
export function signalOwnChild(
  child: Pick<ChildProcess, 'pid' | 'exitCode' | 'signalCode' | 'kill'>,
  runDir: string,
  signal: NodeJS.Signals = 'SIGKILL',
): boolean {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8');
  } catch {
    return false; // gone
  }
  // A zombie's command line is empty: it has exited already.
  if (!cmdline.split('\0').some((arg) => argNames(arg, runDir))) return false;
  return child.kill(signal);
}

/** setpriv --pdeathsig: the kernel kills QEMU when the process that started it dies, however it dies. */
function withParentDeathSignal(argv: string[]): string[] {
  return existsSync('/usr/bin/setpriv') ? ['/usr/bin/setpriv', '--pdeathsig', 'KILL', '--', ...argv] : argv;
}

export async function bootGuest(image: GuestImage, options: BootOptions): Promise<RunningGuest> {
  await removeStaleWorkDirs(WORK_DIR_FAMILY);
  const runDir = await createWorkDir(options.platform);
  const tap = options.tap ? tapNetworkFor(runDir) : undefined;
  // A Ctrl-C while the guest boots: the work directory goes by createWorkDir's own handler, the tap here.
  const unregisterTap = tap ? onExitSync(() => removeTapNetwork(tap)) : undefined;
  try {
    if (tap) {
      removeStaleTapNetworks();
      createTap(tap, options.platform);
    }
    const disks = await prepareDisks(image, runDir, options);
    const argvFor = (files: QemuRunFiles) =>
      qemuArgv({
        name: `virtbench-${options.platform}`,
        accel: options.accel,
        cpu: options.cpu,
        cpus: options.cpus,
        memoryMiB: options.memoryMiB,
        kernel: image.kernel,
        initrd: image.initrd,
        rootDisk: disks.root,
        dataDisk: { path: disks.data, ...options.disk },
        ...files,
        tap: tap ? { ifname: tap.tap, mac: TAP_MAC } : undefined,
      });
    const started = await launchQemu(
      runDir,
      options,
      argvFor,
      tap ? { namespace: tap.namespace, cleanup: () => removeTapNetwork(tap) } : {},
    );
    if (tap) {
      try {
        moveTapIntoNamespace(tap, options.platform);
      } catch (error) {
        await started.kill();
        throw error;
      }
    }
    return started;
  } catch (error) {
    removeWorkDir(runDir);
    if (tap) removeTapNetwork(tap);
    unregisterTap?.();
    throw error;
  }
}

/** The ports and files of one QEMU start, in its work directory: the argv names them. */
export type QemuRunFiles = Pick<GuestLayout, 'sshPort' | 'servicePort' | 'pidFile' | 'qmpSocket' | 'consoleLog'>;

export interface LaunchOptions {
  platform: string;
  accel: Accel;
  /** From spawn to the ssh banner. */
  bootTimeoutMs: number;
  log: Log;
  /** Appended to a boot timeout's message (the console so far, '' when empty): the likely causes and a "fix:" line. */
  timeoutHelp?: (console: string) => string;
}

/** What else a guest's kill removes (a tap network), and where its far end is. */
export interface GuestExtras {
  namespace?: string;
  cleanup?: () => void;
}

/**
 * Starts QEMU with the argv for free loopback ports and files in runDir, and waits for the guest's ssh
 * banner; new ports when another process took one meanwhile. Kills QEMU on failure; the caller removes runDir.
 */
export async function launchQemu(
  runDir: string,
  options: LaunchOptions,
  argvFor: (files: QemuRunFiles) => string[],
  extras: GuestExtras = {},
): Promise<RunningGuest> {
  for (let attempt = 1; ; attempt++) {
    const files: QemuRunFiles = {
      sshPort: await freeLoopbackPort(),
      servicePort: await freeLoopbackPort(),
      pidFile: join(runDir, QEMU_PID_FILE),
      qmpSocket: join(runDir, 'qmp.sock'),
      consoleLog: join(runDir, 'console.log'),
    };
    // QEMU keeps an existing file's mode: the console may show what the guest printed.
    await writeFile(files.consoleLog, '', { mode: 0o600 });
    const started = await startQemu(argvFor(files), files, runDir, options, extras);
    if (started !== 'port-taken') return started;
    // Another process took a port between our check and QEMU's bind: new ports.
    if (attempt >= PORT_ATTEMPTS) {
      throw new BootFailedError(`QEMU could not bind its forwarded ports in ${PORT_ATTEMPTS} attempts`, {
        platform: options.platform,
      });
    }
  }
}

async function startQemu(
  qemu: string[],
  layout: QemuRunFiles,
  runDir: string,
  options: LaunchOptions,
  extras: GuestExtras,
): Promise<RunningGuest | 'port-taken'> {
  const argv = withParentDeathSignal(qemu);
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
    dir: runDir,
    qmpSocket: layout.qmpSocket,
    sshPort: layout.sshPort,
    servicePort: layout.servicePort,
    bootMs,
    namespace: extras.namespace,
    consoleTail: () => consoleTail(layout.consoleLog),
    async kill() {
      signalOwnChild(child, runDir);
      // Cleared once QEMU is gone: a pending timer kept the whole run from exiting for its 5 s.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 5_000)))]);
      clearTimeout(timer);
      removeWorkDir(runDir);
      extras.cleanup?.();
    },
    killSync() {
      signalOwnChild(child, runDir);
      removeWorkDir(runDir);
      extras.cleanup?.();
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
      throw new MissingToolError(`${argv[0]} not found; fix: ${toolsFix([argv[0]!])}`, {
        platform: options.platform,
      });
    }
    throw new BootFailedError(
      `QEMU exited during boot (${exit})${stderr.trim() ? `\nqemu: ${stderr.trim()}` : ''}${consoleTail(layout.consoleLog)}`,
      { platform: options.platform },
    );
  }
  // Read before the kill, which removes the work directory with the console log.
  const tail = consoleTail(layout.consoleLog);
  const help = options.timeoutHelp?.(readConsole(layout.consoleLog)) ?? '';
  await guest.kill();
  throw new BootTimeoutError(
    `the guest did not answer on ssh within ${(options.bootTimeoutMs / 1000).toFixed(1)} s (${options.accel}); QEMU was killed${tail}${help}`,
    { platform: options.platform },
  );
}
