import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { VirtbenchError } from '../../../errors.js';
import { cacheDir } from '../../host/paths.js';
import type { Availability, ConnectionFacts, Platform, ProvisionContext, StartedPlatform } from '../../platform.js';
import { ensureGuestImage, type GuestImage } from './guest-image.js';
import { guestHostAvailability, qemuVersion } from './host-tools.js';
import { GUEST_WORK_DIR } from './guest-recipe.js';
import { kvmAvailability, readKvmHostFacts } from './kvm.js';
import { GUEST_SERVICE_PORT, MACHINE_TYPE, QEMU_BINARY, cpuModel, type Accel, type DiskBus, type DiskFormat } from './qemu-argv.js';
import { bootGuest, type RunningGuest } from './qemu-guest.js';
import { commandLine, connectSsh, shellQuote, type SshSession } from './ssh.js';

/**
 * A Debian guest under QEMU, reached over ssh. qemu-tcg and qemu-kvm share
 * everything but the accelerator; variants change the benchmark disk's
 * format (raw, qcow2) and bus (virtio, ide). Never falls back from KVM to TCG.
 */
export interface QemuPlatformOptions {
  accel: Accel;
  format?: DiskFormat;
  bus?: DiskBus;
  /** QEMU -cpu; default: max under TCG, host under KVM. */
  cpu?: string;
  /** Project name; defaults to qemu-<accel>[-qcow2][-ide]. */
  name?: string;
  cpus?: number;
  memoryMiB?: number;
  /** Spawn to ssh banner. Default 120 s under TCG (slow, shared hosts), 60 s under KVM. */
  bootTimeoutMs?: number;
}

const KVM_PROBE_TIMEOUT_MS = 30_000;

export function createQemuPlatform(options: QemuPlatformOptions): Platform {
  const format = options.format ?? 'raw';
  const bus = options.bus ?? 'virtio';
  const name = options.name ?? ['qemu', options.accel, ...(format === 'raw' ? [] : [format]), ...(bus === 'virtio' ? [] : [bus])].join('-');
  const bootTimeoutMs = options.bootTimeoutMs ?? (options.accel === 'kvm' ? 60_000 : 120_000);
  let kvmProbe: Promise<Availability> | undefined;

  async function boot(image: GuestImage, log: (line: string) => void, timeoutMs = bootTimeoutMs): Promise<RunningGuest> {
    return bootGuest(image, {
      platform: name,
      accel: options.accel,
      cpu: options.cpu,
      disk: { format, bus },
      cpus: options.cpus ?? 2,
      memoryMiB: options.memoryMiB ?? 2048,
      bootTimeoutMs: timeoutMs,
      dataDiskSize: '4G',
      log,
    });
  }

  /** The static rule passed: one real boot under a short deadline decides. */
  async function probeKvm(): Promise<Availability> {
    const log = (line: string) => console.log(`virtbench [${name}] ${line}`);
    const image = await ensureGuestImage({ cacheDir: cacheDir(), log });
    try {
      const guest = await boot(image, log, KVM_PROBE_TIMEOUT_MS);
      await guest.kill();
      return { available: true };
    } catch (error) {
      const firstLine = (error as Error).message.split('\n')[0];
      return { available: false, reason: `KVM passed the static checks, but a probe boot failed: ${firstLine}` };
    }
  }

  return {
    name,
    async availability() {
      const host = await guestHostAvailability(cacheDir());
      if (!host.available || options.accel === 'tcg') return host;
      const rule = kvmAvailability(readKvmHostFacts());
      if (!rule.available) return rule;
      kvmProbe ??= probeKvm();
      return kvmProbe;
    },

    async provision(context: ProvisionContext) {
      const image = await ensureGuestImage({ cacheDir: context.cacheDir, log: context.log });
      const version = await qemuVersion();
      context.log(`booting ${options.accel.toUpperCase()} guest (${format}, ${bus}; kernel ${image.manifest.kernelRelease})`);
      const guest = await boot(image, context.log);
      let ssh: SshSession | undefined;
      try {
        const facts: ConnectionFacts = {
          host: '127.0.0.1',
          sshPort: guest.sshPort,
          servicePort: guest.servicePort,
          clientKey: image.clientKey,
          hostKey: image.manifest.hostKey.publicBlob,
          hostKeyFingerprint: image.manifest.hostKey.fingerprint,
          workDir: GUEST_WORK_DIR,
          qemu: version,
          accelerator: options.accel,
          machine: MACHINE_TYPE,
          cpuModel: options.cpu ?? cpuModel(options.accel),
          vcpus: options.cpus ?? 2,
          memoryMiB: options.memoryMiB ?? 2048,
          guestKernel: image.manifest.kernelRelease,
          diskFormat: format,
          diskBus: bus,
          diskCache: 'none',
          network: 'user (slirp), hostfwd 127.0.0.1',
          bootSeconds: Math.round(guest.bootMs / 100) / 10,
        };
        ssh = await sessionFor(name, facts);
        // The work directory must be on the benchmark disk, not the root disk or a tmpfs.
        const check = await ssh.run(`mountpoint -q /mnt/bench && test -d ${shellQuote(GUEST_WORK_DIR)} && grep -m1 'model name' /proc/cpuinfo`);
        if (check.exitCode !== 0) throw new VirtbenchError('VIRTBENCH_BOOT_FAILED', `the guest's benchmark disk is not mounted at /mnt/bench (${check.stderr.trim() || `exit ${check.exitCode}`})`, { platform: name });
        facts.guestCpu = check.stdout.split(':').slice(1).join(':').trim();
        facts.qemuPid = guest.pid;
        // Closed before the guest is frozen: a frozen server would trip ssh2's keepalive.
        ssh.close();
        let stopped = false;
        // Vitest provisions every project before the first benchmark: keep this guest frozen until one connects.
        freeze(guest.pid);
        return {
          facts,
          async stop() {
            if (stopped) return;
            stopped = true;
            // Nothing in the guest is kept (root is an overlay, the benchmark disk is scratch): no need to power off politely.
            thaw(guest.pid);
            await guest.kill();
          },
          stopSync() {
            stopped = true;
            guest.killSync();
          },
        };
      } catch (error) {
        ssh?.close();
        await guest.kill();
        throw error;
      }
    },

    async connect(facts) {
      thaw(Number(facts.qemuPid));
      return connectQemu(name, facts, await sessionFor(name, facts));
    },
  };
}

async function sessionFor(platform: string, facts: ConnectionFacts): Promise<SshSession> {
  return connectSsh({
    platform,
    host: String(facts.host),
    port: Number(facts.sshPort),
    privateKey: await readFile(String(facts.clientKey)),
    hostKey: String(facts.hostKey),
  });
}

/*
 * An idle guest is not free under TCG (about 1 % of a core each): while
 * other platforms are measured, a provisioned guest is stopped with SIGSTOP
 * and continued when a benchmark connects. Bench files of one project run one
 * after another, so the last close() freezes it again.
 */
function freeze(pid: number): void {
  if (pid > 0) process.kill(pid, 'SIGSTOP');
}

function thaw(pid: number): void {
  try {
    if (pid > 0) process.kill(pid, 'SIGCONT');
  } catch {
    // QEMU is gone: the ssh connection that follows fails with the reason
  }
}

function connectQemu(name: string, facts: ConnectionFacts, ssh: SshSession): StartedPlatform {
  const workDir = String(facts.workDir);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    ssh.close();
    try {
      freeze(Number(facts.qemuPid));
    } catch {
      // the guest is gone (killed, or stopped by its owner): nothing to freeze
    }
  };
  return {
    name,
    workDir,
    exec: (argv, options = {}) => ssh.run(commandLine(argv, { cwd: options.cwd ?? workDir, timeoutMs: options.timeoutMs }), { argv, timeoutMs: options.timeoutMs }),
    async copyIn(hostPath, fileName, options = {}) {
      const target = `${workDir}/${fileName}`;
      const steps = [`mkdir -p ${shellQuote(dirname(target))}`, `cat > ${shellQuote(target)}`, ...(options.executable ? [`chmod 755 ${shellQuote(target)}`] : [])];
      const result = await ssh.run(steps.join(' && '), { argv: ['copyIn', hostPath, target], stdin: createReadStream(hostPath), timeoutMs: 300_000 });
      if (result.exitCode !== 0) {
        throw new VirtbenchError('VIRTBENCH_WORKLOAD_FAILED', `copying ${hostPath} to the guest's ${target} failed (exit ${result.exitCode}): ${result.stderr.trim()}`, { platform: name });
      }
      return target;
    },
    async serviceAddress() {
      return { listen: `0.0.0.0:${GUEST_SERVICE_PORT}`, host: String(facts.host), port: Number(facts.servicePort) };
    },
    async flushCaches() {
      const result = await ssh.run('sync && echo 3 > /proc/sys/vm/drop_caches', { timeoutMs: 60_000 });
      return result.exitCode === 0;
    },
    async describe() {
      const { host: _host, sshPort: _ssh, servicePort: _svc, clientKey: _key, hostKey: _hostKey, workDir: _dir, qemuPid: _pid, ...info } = facts;
      return info;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
