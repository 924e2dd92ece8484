import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WorkloadFailedError } from '../../errors.js';
import type { Log } from '../../host/log.js';
import { stopOnce } from '../../host/stop-once.js';
import { cacheDir } from '../../host/paths.js';
import { keptSessions } from '../../host/ssh.js';
import { factsCodec, PlatformUnavailableError } from '../platform.js';
import type {
  Availability,
  ConnectionFacts,
  FactsOf,
  HostRequirements,
  Platform,
  PlatformFamily,
  ProvisionContext,
  Provisioned,
  StartedPlatform,
} from '../platform.js';
import { checkProvisionedGuest, configureTapCard } from './guest-checks.js';
import { ensureGuestImage, guestHostAvailability, type GuestImage } from './guest-image.js';
import { GUEST_WORK_DIR } from './guest-recipe.js';
import type { GuestUse } from './guest-users.js';
import { guestTurnParts, leaseGuest } from './guest-turns.js';
import { QEMU_PACKAGES, qemuVersion } from './host-tools.js';
import { kvmAvailability, probeKvm, readKvmHostFacts, sharedKvmProbe } from './kvm.js';
import { GUEST_SERVICE_PORT, MACHINE_TYPE, cpuModel, type Accel, type DiskBus, type DiskFormat } from './qemu-argv.js';
import { bootGuest, type RunningGuest } from './qemu-guest.js';
import { TAP_NET, tapUnavailable } from './tap.js';
import { pauseGuest } from './qmp.js';
import { GUEST_BUSYBOX, commandLine, connectGuest, shellQuote, type SshSession } from './ssh.js';

/* What the unikernel platform uses of this folder: the guest image, its host checks, the KVM rule and QEMU itself. */
export { ensureGuestImage, guestHostAvailability, type GuestImage } from './guest-image.js';
export { QEMU_PACKAGES, qemuVersion } from './host-tools.js';
export { kvmAvailability, kvmProblems, readKvmHostFacts } from './kvm.js';
export { MACHINE_TYPE, QEMU_BINARY } from './qemu-argv.js';
/* What the vm-image platform uses: QEMU's start and argv pieces, the guest's turns through QMP, the host tools and keys. */
export { launchQemu, type LaunchOptions, type QemuRunFiles, type RunningGuest } from './qemu-guest.js';
export { GUEST_SERVICE_PORT, controlArgv, cpuModel, machineArgv, userNetArgv, type Accel } from './qemu-argv.js';
export { guestTurnParts, leaseGuest } from './guest-turns.js';
export { pauseGuest } from './qmp.js';
export { TOOL_TIMEOUT_MS, missingTools, runTool, toolsFix } from './host-tools.js';
export { writePrivateFile } from './guest-build.js';
export { writeClientKey } from './keys.js';
/* The provisioning check, for the tests. */
export { GUEST_CHECK_TIMEOUT_MS, checkProvisionedGuest } from './guest-checks.js';

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
  /** How the host reaches the guest's server: QEMU user networking (default), or a tap card in a private namespace. */
  network?: 'user' | 'tap';
}

const VARIANTS: Record<string, QemuPlatformOptions> = {
  'qemu-tcg': { accel: 'tcg' },
  'qemu-tcg-qcow2': { accel: 'tcg', format: 'qcow2' },
  'qemu-tcg-ide': { accel: 'tcg', bus: 'ide' },
  'qemu-kvm': { accel: 'kvm' },
  'qemu-kvm-qcow2': { accel: 'kvm', format: 'qcow2' },
  'qemu-kvm-ide': { accel: 'kvm', bus: 'ide' },
  'qemu-tcg-tap': { accel: 'tcg', network: 'tap' },
  'qemu-kvm-tap': { accel: 'kvm', network: 'tap' },
};

const forEachAccel = <T>(each: (accel: Accel) => T[]): T[] => (['kvm', 'tcg'] as const).flatMap(each);

/** What each variant needs of the host (virtbench setup): QEMU and the image builders; KVM, root for a tap. */
function requirements({ accel, network }: QemuPlatformOptions): HostRequirements {
  return {
    packages: network === 'tap' ? [...QEMU_PACKAGES, 'iproute2'] : QEMU_PACKAGES,
    ...(network === 'tap' ? { root: 'a tap device and a network namespace' } : {}),
    ...(accel === 'kvm' ? { kvm: true } : {}),
  };
}

export const qemuPlatforms: PlatformFamily = {
  names: Object.keys(VARIANTS),
  requirements: Object.fromEntries(Object.entries(VARIANTS).map(([name, options]) => [name, requirements(options)])),
  create: (name) => createQemuPlatform({ ...VARIANTS[name]!, name }),
  variants: Object.fromEntries(
    forEachAccel((a) => [
      { platform: `qemu-${a}-qcow2`, against: `qemu-${a}`, varies: 'disk', changes: "the benchmark disk's format (qcow2 instead of raw)" },
      { platform: `qemu-${a}-ide`, against: `qemu-${a}`, varies: 'disk', changes: "the benchmark disk's bus (IDE instead of virtio)" },
      {
        platform: `qemu-${a}-tap`,
        against: `qemu-${a}`,
        varies: 'network',
        changes: "the network path of the guest's server (a tap device on a bridge instead of QEMU user networking)",
      },
    ]).map(({ platform, against, varies, changes }) => [platform, { base: against, varies: [varies as 'disk' | 'network'], changes }]),
  ),
  questions: [
    {
      question: 'What do hardware virtualization and binary translation cost?',
      comparisons: forEachAccel((a) => [{ platform: `qemu-${a}`, against: 'native', benchmarks: ['cpu', 'mem'] }]),
    },
    {
      question: 'What do IDE emulation and qcow2 cost?',
      comparisons: forEachAccel((a) => [
        { platform: `qemu-${a}-ide`, against: `qemu-${a}`, benchmarks: ['disk-random'] },
        { platform: `qemu-${a}-qcow2`, against: `qemu-${a}`, benchmarks: ['disk-random'] },
        { platform: `qemu-${a}`, against: 'native', benchmarks: ['disk-random'] },
      ]),
    },
    {
      // Processes against threads: what a VM adds to process creation (page tables, MMU) beyond running code.
      question: 'Why is fork slower in a VM?',
      comparisons: forEachAccel((a) => [{ platform: `qemu-${a}`, against: 'native', benchmarks: ['fork', 'fork-threads'] }]),
    },
    {
      question: "What does the guest's network path (QEMU user networking) cost?",
      comparisons: forEachAccel((a) => [{ platform: `qemu-${a}`, against: 'native', benchmarks: ['nginx'] }]),
    },
    {
      question: 'Does a tap device make the guest’s network path cheaper than user networking?',
      comparisons: forEachAccel((a) => [
        { platform: `qemu-${a}-tap`, against: `qemu-${a}`, benchmarks: ['nginx'] },
        { platform: `qemu-${a}-tap`, against: 'native', benchmarks: ['nginx'] },
      ]),
    },
  ],
};

const KVM_PROBE_TIMEOUT_MS = 30_000;

/** What a worker needs to reach the guest; info is what the report shows of it. */
const FACTS = {
  host: 'string',
  sshPort: 'number',
  servicePort: 'number',
  clientKey: 'string',
  hostKey: 'string',
  workDir: 'string',
  /** QEMU's work directory on the host: the leases of the workers using the guest (guest-users.ts). */
  hostDir: 'string',
  qmpSocket: 'string',
  /** The private network namespace of the tap card's far end (tap variants); '' on user networking. */
  namespace: 'string',
  info: 'info',
} as const;
type QemuFacts = FactsOf<typeof FACTS>;

export function createQemuPlatform(options: QemuPlatformOptions): Platform {
  return qemuPlatform(options);
}

/** A variant's options with every default filled in, and its project name. */
interface QemuSettings {
  name: string;
  accel: Accel;
  /** QEMU -cpu as given; undefined: the accelerator's default (cpuModel). */
  cpu: string | undefined;
  format: DiskFormat;
  bus: DiskBus;
  network: 'user' | 'tap';
  bootTimeoutMs: number;
  cpus: number;
  memoryMiB: number;
}

function settingsOf(options: QemuPlatformOptions): QemuSettings {
  const format = options.format ?? 'raw';
  const bus = options.bus ?? 'virtio';
  const network = options.network ?? 'user';
  const name =
    options.name ??
    [
      'qemu',
      options.accel,
      ...(format === 'raw' ? [] : [format]),
      ...(bus === 'virtio' ? [] : [bus]),
      ...(network === 'user' ? [] : [network]),
    ].join('-');
  return {
    name,
    accel: options.accel,
    cpu: options.cpu,
    format,
    bus,
    network,
    bootTimeoutMs: options.bootTimeoutMs ?? (options.accel === 'kvm' ? 60_000 : 120_000),
    cpus: options.cpus ?? 2,
    memoryMiB: options.memoryMiB ?? 2048,
  };
}

function qemuPlatform(options: QemuPlatformOptions): Platform {
  const settings = settingsOf(options);
  const { name } = settings;
  const facts = factsCodec(name, FACTS);
  const boot = (image: GuestImage, log: Log, timeoutMs = settings.bootTimeoutMs) => bootWith(settings, image, log, timeoutMs);

  /**
   * Where the static rule passes, one probe boot per process decides whether
   * KVM really boots a guest. Where it fails, the boot itself fails with the
   * reason: never a silent fallback to TCG.
   */
  async function requireWorkingKvm(image: GuestImage, log: Log): Promise<void> {
    if (options.accel !== 'kvm' || !kvmAvailability(readKvmHostFacts()).available) return;
    const probe = await sharedKvmProbe(() => {
      log('KVM passed the static checks; a probe boot decides');
      return probeKvm(() => boot(image, log, KVM_PROBE_TIMEOUT_MS));
    });
    if (!probe.available) throw new PlatformUnavailableError(name, probe.reason);
  }

  /**
   * The image first (built once per cache, shared by the variants provisioning at the same time: the
   * runtime starts them together, Platform.provisionEarly), then, for KVM, the probe (once per process),
   * then this variant's own guest.
   */
  async function provision(context: ProvisionContext): Promise<Provisioned> {
    const image = await ensureGuestImage({ cacheDir: context.cacheDir, log: context.log });
    await requireWorkingKvm(image, context.log);
    return bootChecked(image, context.log);
  }

  /** Boots this variant's guest, checks it over ssh, and pauses it until a benchmark connects. */
  async function bootChecked(image: GuestImage, log: Log): Promise<Provisioned> {
    const version = await qemuVersion();
    log(`booting ${options.accel.toUpperCase()} guest (${settings.format}, ${settings.bus}; kernel ${image.manifest.kernelRelease})`);
    const guest = await boot(image, log);
    let ssh: SshSession | undefined;
    try {
      const connection = guestFacts(settings, image, guest, version);
      ssh = await sessionFor(name, connection);
      const checked = await checkProvisionedGuest(ssh, name, guest.consoleTail);
      if (guest.namespace) await configureTapCard(ssh, name);
      // Which clock the workloads' CLOCK_MONOTONIC reads in the guest (hpet under TCG, whose TSC is marked unstable).
      connection.info.guestClocksource = checked.clocksource;
      connection.info.guestCpu = checked.cpu;
      // Closed before the guest is frozen: a frozen server would trip ssh2's keepalive.
      ssh.close();
      // Vitest provisions every project before the first benchmark: keep this guest paused until one connects.
      await pauseGuest(guest.qmpSocket, name);
      return provisioned(guest, facts.encode(connection));
    } catch (error) {
      ssh?.close();
      await guest.kill();
      throw error;
    }
  }

  return {
    name,
    /** Cheap: host tools and, for KVM, the static rule over /proc and /dev; the probe boot is part of provisioning. */
    async availability() {
      return availabilityOf(settings);
    },
    provision,
    provisionEarly: true,
    async connect(encoded) {
      return connectProvisioned(name, facts.decode(encoded));
    },
  };
}

function bootWith(settings: QemuSettings, image: GuestImage, log: Log, timeoutMs: number): Promise<RunningGuest> {
  return bootGuest(image, {
    platform: settings.name,
    accel: settings.accel,
    cpu: settings.cpu,
    disk: { format: settings.format, bus: settings.bus },
    cpus: settings.cpus,
    memoryMiB: settings.memoryMiB,
    bootTimeoutMs: timeoutMs,
    dataDiskSize: '4G',
    log,
    tap: settings.network === 'tap',
  });
}

async function availabilityOf({ accel, network }: QemuSettings): Promise<Availability> {
  // KVM first: of the reasons, the one that running as root or installing packages does not fix.
  const kvm = accel === 'kvm' ? kvmAvailability(readKvmHostFacts()) : undefined;
  if (kvm && !kvm.available) return kvm;
  const noTap = network === 'tap' ? tapUnavailable() : undefined;
  if (noTap) return { available: false, reason: noTap };
  return guestHostAvailability(cacheDir());
}

/** How a worker reaches a booted guest, and what the report shows of it (the guest's own checks are added later). */
function guestFacts(settings: QemuSettings, image: GuestImage, guest: RunningGuest, qemu: string): QemuFacts {
  return {
    host: '127.0.0.1',
    sshPort: guest.sshPort,
    servicePort: guest.servicePort,
    clientKey: image.clientKey,
    hostKey: image.manifest.hostKey.publicBlob,
    workDir: GUEST_WORK_DIR,
    hostDir: guest.dir,
    qmpSocket: guest.qmpSocket,
    namespace: guest.namespace ?? '',
    info: {
      hostKeyFingerprint: image.manifest.hostKey.fingerprint,
      qemu,
      accelerator: settings.accel,
      machine: MACHINE_TYPE,
      cpuModel: settings.cpu ?? cpuModel(settings.accel),
      vcpus: settings.cpus,
      memoryMiB: settings.memoryMiB,
      guestKernel: image.manifest.kernelRelease,
      kernelEntry: image.kernelEntry,
      diskFormat: settings.format,
      diskBus: settings.bus,
      diskCache: 'none',
      network: guest.namespace
        ? `tap on a bridge in the network namespace ${guest.namespace} (the client runs there); ssh on user networking`
        : 'user (slirp), hostfwd 127.0.0.1',
      bootSeconds: Math.round(guest.bootMs / 100) / 10,
    },
  };
}

/** A provisioned guest's facts and its stop: killed once, by whichever of stop() and stopSync() comes first. */
function provisioned(guest: RunningGuest, facts: ConnectionFacts): Provisioned {
  // Nothing in the guest is kept (root is an overlay, the benchmark disk is scratch): no need to power off politely.
  return { facts, ...stopOnce({ stop: () => guest.kill(), stopSync: () => guest.killSync() }) };
}

/** A worker's connection to a provisioned guest: a lease that resumes it, over this worker's kept ssh session. */
async function connectProvisioned(name: string, connection: QemuFacts): Promise<StartedPlatform> {
  const use = await leaseGuest(name, connection);
  try {
    return connectQemu(name, connection, await keptSessionFor(name, connection), use);
  } catch (error) {
    await use.release().catch(() => {});
    throw error;
  }
}

async function sessionFor(platform: string, facts: QemuFacts): Promise<SshSession> {
  return connectGuest({
    platform,
    host: facts.host,
    port: facts.sshPort,
    privateKey: await readFile(facts.clientKey),
    hostKey: facts.hostKey,
  });
}

/**
 * This worker's ssh connection to a guest, kept from one benchmark to the next (host/ssh.ts
 * keptSessions, and its rule for a lost connection): Vitest runs a platform's bench files in one
 * worker. The key names this guest's boot (its directory on the host) and what is accepted of it.
 */
function keptSessionFor(platform: string, facts: QemuFacts): Promise<SshSession> {
  return keptSessions().session(`qemu ${facts.hostDir} ${facts.host}:${facts.sshPort} ${facts.hostKey}`, () => sessionFor(platform, facts));
}

/** A worker's platform on a provisioned guest: its commands over the kept ssh session, its turns through QMP (guest-turns.ts). */
function connectQemu(name: string, facts: QemuFacts, ssh: SshSession, use: GuestUse): StartedPlatform {
  const { workDir } = facts;
  return {
    ...guestTurnParts(facts.hostDir, ssh, use),
    name,
    workDir,
    exec: (argv, options = {}) =>
      ssh.run(commandLine(argv, { cwd: options.cwd ?? workDir, timeoutMs: options.timeoutMs }), { argv, timeoutMs: options.timeoutMs }),
    async copyIn(hostPath, fileName, options = {}) {
      const target = `${workDir}/${fileName}`;
      const steps = [
        `mkdir -p ${shellQuote(dirname(target))}`,
        `cat > ${shellQuote(target)}`,
        ...(options.executable ? [`chmod 755 ${shellQuote(target)}`] : []),
      ];
      const result = await ssh.run(steps.join(' && '), {
        argv: ['copyIn', hostPath, target],
        stdin: createReadStream(hostPath),
        timeoutMs: 300_000,
      });
      if (result.exitCode !== 0) {
        throw new WorkloadFailedError(
          `copying ${hostPath} to the guest's ${target} failed (exit ${result.exitCode}): ${result.stderr.trim()}`,
          { platform: name },
        );
      }
      return target;
    },
    async serviceAddress() {
      // On the tap card the server listens on its own address and lets in only the namespace's end of the bridge.
      if (facts.namespace) {
        return {
          listen: `${TAP_NET.guest}:${GUEST_SERVICE_PORT}`,
          host: TAP_NET.guest,
          port: GUEST_SERVICE_PORT,
          allowFrom: TAP_NET.host,
          namespace: facts.namespace,
        };
      }
      return { listen: `0.0.0.0:${GUEST_SERVICE_PORT}`, host: facts.host, port: facts.servicePort };
    },
    async flushCaches() {
      const result = await ssh.run(`${GUEST_BUSYBOX} sync && echo 3 > /proc/sys/vm/drop_caches`, { timeoutMs: 60_000 });
      return result.exitCode === 0;
    },
    async describe() {
      return { ...facts.info };
    },
  };
}
