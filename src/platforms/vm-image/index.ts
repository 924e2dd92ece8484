import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BadOptionError, BootFailedError, isVirtbenchError } from '../../errors.js';
import { knownHostKeys } from '../../host/known-hosts.js';
import type { Log } from '../../host/log.js';
import { connectSsh, keptSessions, type SshPeer, type SshSession, type SshTarget } from '../../host/ssh.js';
import { stopOnce } from '../../host/stop-once.js';
import { createWorkDir, removeWorkDir } from '../../host/work-dir.js';
import { installFix } from '../platform.js';
import { factsCodec, PlatformUnavailableError } from '../platform.js';
import type { Availability, FactsOf, Platform, PlatformFamily, Provisioned, StartedPlatform } from '../platform.js';
import {
  GUEST_SERVICE_PORT,
  MACHINE_TYPE,
  QEMU_BINARY,
  TOOL_TIMEOUT_MS,
  cpuModel,
  guestTurnParts,
  kvmAvailability,
  launchQemu,
  leaseGuest,
  missingTools,
  pauseGuest,
  qemuVersion,
  readKvmHostFacts,
  runTool,
  toolsFix,
  writePrivateFile,
  type RunningGuest,
} from '../qemu/index.js';
import { PROBE_SCRIPT, makeWorkDir, parseProbe, sshCommands, PROBED_TOOLS } from '../remote/index.js';
import { vmImageArgv } from './argv.js';
import { bootTimeoutHelp, inspectImage, type ImageFacts } from './disk.js';
import { validateVmImages, vmImageNames, vmImageSettings, type VmImageSettings, type VmImagesOptions } from './options.js';
import { SEED_PACKAGE, seedTool, writeSeed } from './seed.js';

export type { VmImageOptions, VmImagesOptions } from './options.js';

/*
 * The user's own VM image as a platform: a raw or qcow2 disk that boots with its own bootloader and
 * kernel (SeaBIOS, no -kernel), under TCG or KVM, reached with ssh2 over QEMU user networking on
 * 127.0.0.1. The image is never written: QEMU boots a qcow2 overlay in the run's work directory. The
 * login comes from a NoCloud seed (cloud-init) made for the run, which also sets the host key that is
 * then pinned; or from the user's own key and known_hosts. Commands run as on a remote host
 * (remote/ssh-commands.ts); turns, pauses and CPU accounting are those of virtbench's own guest
 * (qemu/guest-turns.ts).
 */

const FACTS = {
  sshPort: 'number',
  servicePort: 'number',
  user: 'string',
  /** The private key that logs in: the run's (0600, in hostDir) or the user's. */
  clientKey: 'string',
  /** Accepted host keys, base64, space-separated. */
  hostKeys: 'string',
  workDir: 'string',
  hostDir: 'string',
  qmpSocket: 'string',
  missing: 'string',
  root: 'boolean',
  info: 'info',
} as const;
type VmFacts = FactsOf<typeof FACTS>;

/** Logging in to a guest that just answered: cloud-init may still be writing the authorized key. */
const LOGIN_RETRY_MS = 60_000;
const PROBE_TIMEOUT_MS = 120_000;
/**
 * A freshly booted image goes on starting services after sshd answers (cloud-init's later stages, under
 * TCG for a minute or more): its boot must have finished before anything is measured there.
 */
const SETTLE_SCRIPT =
  'if command -v cloud-init >/dev/null; then cloud-init status --wait >/dev/null 2>&1; fi; ' +
  'if command -v systemctl >/dev/null; then systemctl is-system-running --wait >/dev/null 2>&1; fi; true';
const MIN_SETTLE_MS = 60_000;

function peerOf(settings: VmImageSettings): SshPeer {
  const console = `its console is console.log in the work directory virtbench-${settings.name}-* while it runs`;
  return settings.login
    ? {
        what: `the VM image ${settings.key}`,
        pinnedBy: `known_hosts file ${settings.login.knownHostsPath}`,
        lostHint: 'did QEMU exit or get killed?',
        loginFix: `check that ${settings.login.privateKeyPath} logs in as ${settings.user} on the image (${console})`,
        timeoutFix: `the guest or the host is overloaded, or QEMU hangs; run again (${console})`,
        mismatchHint: `the image's host key is not the one listed for "${settings.key}" in ${settings.login.knownHostsPath}`,
      }
    : {
        what: `the VM image ${settings.key}`,
        pinnedBy: "the run's NoCloud seed (cloud-init ssh_keys)",
        lostHint: 'did QEMU exit or get killed?',
        loginFix:
          `does the image have cloud-init with the NoCloud datasource, and a user "${settings.user}"? ` +
          `Or give your own key and host key in vmImages.${settings.key}.login (${console})`,
        timeoutFix: `the guest or the host is overloaded, or QEMU hangs; run again (${console})`,
        mismatchHint:
          "cloud-init did not apply the seed's host key (is cloud-init installed, with the NoCloud datasource?); " +
          `for an image without cloud-init, give vmImages.${settings.key}.login`,
      };
}

function target(
  settings: VmImageSettings,
  port: number,
  privateKey: Buffer,
  hostKeys: readonly string[],
  readyTimeoutMs?: number,
): SshTarget {
  return {
    platform: settings.name,
    host: '127.0.0.1',
    port,
    username: settings.user,
    privateKey,
    hostKeys,
    peer: peerOf(settings),
    ...(readyTimeoutMs ? { readyTimeoutMs } : {}),
  };
}

/** The key that logs in and the accepted host keys: the user's own (login), checked before anything boots. */
export async function givenLogin(
  settings: Pick<VmImageSettings, 'key' | 'login'>,
): Promise<{ clientKey: string; hostKeys: string[] } | { reason: string }> {
  const { privateKeyPath, knownHostsPath } = settings.login!;
  if (!(await readFile(privateKeyPath).catch(() => undefined))) {
    return { reason: `cannot read the private key ${privateKeyPath}; fix: set vmImages.${settings.key}.login.privateKeyPath to your key` };
  }
  const text = await readFile(knownHostsPath, 'utf8').catch(() => undefined);
  const keys = text === undefined ? [] : knownHostKeys(text, settings.key, 22).accepted;
  if (keys.length === 0) {
    return {
      reason:
        `${knownHostsPath} ${text === undefined ? 'cannot be read' : `lists no key for "${settings.key}"`}; ` +
        `fix: add the image's host key as a line "${settings.key} ssh-ed25519 AAAA..." (the public half of its /etc/ssh/ssh_host_ed25519_key)`,
    };
  }
  return { clientKey: privateKeyPath, hostKeys: keys };
}

async function availabilityOf(settings: VmImageSettings): Promise<Availability> {
  if (settings.accel === 'kvm') {
    const kvm = kvmAvailability(readKvmHostFacts());
    if (!kvm.available) return kvm;
  }
  const missing = missingTools([QEMU_BINARY, 'qemu-img']);
  if (missing.length) return { available: false, reason: `${missing.join(', ')} not installed; fix: ${toolsFix(missing)}` };
  if (settings.login) {
    const given = await givenLogin(settings);
    if ('reason' in given) return { available: false, reason: given.reason };
  } else if (!seedTool()) {
    return {
      available: false,
      reason: `no tool to write the NoCloud seed (cloud-localds, genisoimage or xorriso); fix: ${installFix(SEED_PACKAGE)}, or give vmImages.${settings.key}.login`,
    };
  }
  return { available: true };
}

/** Logs in, retrying a refused login until the deadline: sshd may answer before cloud-init wrote the key. */
async function logIn(settings: VmImageSettings, guest: RunningGuest, privateKey: Buffer, hostKeys: readonly string[]): Promise<SshSession> {
  const deadline = Date.now() + LOGIN_RETRY_MS;
  for (;;) {
    try {
      return await connectSsh(target(settings, guest.sshPort, privateKey, hostKeys, 60_000));
    } catch (error) {
      if (!isVirtbenchError(error, 'VIRTBENCH_GUEST_LOST') || Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 2_000));
    }
  }
}

async function provisionVm(settings: VmImageSettings, facts: ReturnType<typeof factsCodec<typeof FACTS>>, log: Log): Promise<Provisioned> {
  const { name } = settings;
  const runDir = await createWorkDir(name);
  let guest: RunningGuest | undefined;
  try {
    const image = await inspectImage(settings, runDir);
    const given = settings.login ? await givenLogin(settings) : undefined;
    if (given && 'reason' in given) throw new PlatformUnavailableError(name, given.reason);
    const overlay = join(runDir, 'overlay.qcow2');
    // The image is only ever read: QEMU writes to this overlay, removed with the work directory.
    await writePrivateFile(overlay, () =>
      runTool(['qemu-img', 'create', '-q', '-f', 'qcow2', '-F', image.format, '-b', image.path, overlay], {
        what: 'creating the overlay over the image',
        code: 'VIRTBENCH_BOOT_FAILED',
        platform: name,
        timeoutMs: TOOL_TIMEOUT_MS,
      }),
    );
    const seed = given ? undefined : await writeSeed(runDir, name, settings.user, seedTool()!);
    const login = given ?? { clientKey: seed!.clientKey, hostKeys: [seed!.hostKey.blob] };
    const version = await qemuVersion();
    log(
      `booting the VM image ${image.path} (${image.format}) under ${settings.accel.toUpperCase()}; ${seed ? 'a NoCloud seed gives the key' : 'your key logs in'}`,
    );
    const layout = {
      name: `virtbench-${name}`,
      accel: settings.accel,
      cpus: settings.cpus,
      memoryMiB: settings.memoryMiB,
      overlay,
      seed: seed?.iso,
    };
    guest = await launchQemu(
      runDir,
      {
        platform: name,
        accel: settings.accel,
        bootTimeoutMs: settings.bootTimeoutMs,
        log,
        timeoutHelp: (console) => bootTimeoutHelp(console, image, settings, seed !== undefined),
      },
      (files) => vmImageArgv(layout, files),
    );
    const ssh = await logIn(settings, guest, await readFile(login.clientKey), login.hostKeys);
    try {
      const settled = await settle(settings, ssh, guest, log);
      const connection = await probeGuest(settings, ssh, guest, image);
      connection.clientKey = login.clientKey;
      connection.hostKeys = login.hostKeys.join(' ');
      Object.assign(connection.info, {
        keyInjection: seed ? `NoCloud seed (cloud-init; ${seedTool()})` : "the user's key and known_hosts",
        hostKeyFingerprint: seed?.hostKey.fingerprint ?? 'from known_hosts',
        qemu: version,
        settleSeconds: settled,
      });
      ssh.close();
      // Provisioned before any benchmark: paused until one connects (qemu/guest-turns.ts).
      await pauseGuest(guest.qmpSocket, name);
      const running = guest;
      return { facts: facts.encode(connection), ...stopOnce({ stop: () => running.kill(), stopSync: () => running.killSync() }) };
    } catch (error) {
      ssh.close();
      throw error;
    }
  } catch (error) {
    await guest?.kill();
    removeWorkDir(runDir);
    throw error;
  }
}

/** Waits, bounded by what is left of the boot's time (at least a minute), until the guest's boot has finished; returns its seconds. */
async function settle(settings: VmImageSettings, ssh: SshSession, guest: RunningGuest, log: Log): Promise<number> {
  const limitMs = Math.max(MIN_SETTLE_MS, settings.bootTimeoutMs - guest.bootMs);
  const result = await ssh.run(SETTLE_SCRIPT, { timeoutMs: limitMs });
  const seconds = Math.round(result.wallMs / 100) / 10;
  if (result.timedOut) {
    log(
      `warning: the guest's boot (cloud-init, systemd) had not finished ${seconds} s after ssh answered; measuring anyway, and what it still runs may show in the figures`,
    );
  } else {
    log(`the guest's boot finished ${seconds} s after ssh answered`);
  }
  return seconds;
}

/** What the guest is (over ssh: its OS, kernel, architecture, tools) and a work directory there. */
async function probeGuest(settings: VmImageSettings, ssh: SshSession, guest: RunningGuest, image: ImageFacts): Promise<VmFacts> {
  const probed = await ssh.run(PROBE_SCRIPT, { timeoutMs: PROBE_TIMEOUT_MS });
  if (probed.timedOut || !probed.stdout.includes('connection=')) {
    throw new BootFailedError(
      `the VM image did not answer the environment probe over ssh (${probed.timedOut ? 'no answer' : `exit ${probed.exitCode}: ${probed.stderr.trim()}`})${guest.consoleTail()}\n` +
        `fix: the login shell of ${settings.user} must run POSIX sh commands (uname, sed, awk, id); give vmImages.${settings.key}.user a user with one`,
      { platform: settings.name },
    );
  }
  const probe = parseProbe(probed.stdout);
  if (probe.arch !== 'x86_64') {
    throw new BootFailedError(
      `the VM image runs ${probe.arch}, and the workloads are static x86-64 binaries (wrong architecture)\nfix: use an x86-64 image`,
      { platform: settings.name },
    );
  }
  const made = await makeWorkDir(ssh, '/var/tmp');
  if ('error' in made) {
    throw new BootFailedError(
      `cannot make a work directory under /var/tmp in the VM image: ${made.error}\nfix: the image's /var/tmp must be writable by ${settings.user}`,
      {
        platform: settings.name,
      },
    );
  }
  const { hostname: _hostname, os, kernel, arch, cpuModel: guestCpu, cpus: _cpus, memoryGiB: _memory, ...rest } = probe.info;
  return {
    sshPort: guest.sshPort,
    servicePort: guest.servicePort,
    user: settings.user,
    clientKey: '',
    hostKeys: '',
    workDir: made.workDir,
    hostDir: guest.dir,
    qmpSocket: guest.qmpSocket,
    missing: PROBED_TOOLS.filter((tool) => !probe.tools.includes(tool)).join(' '),
    root: probe.root,
    info: {
      image: image.path,
      imageFormat: image.format,
      imageBytes: image.bytes,
      imageModified: image.modified,
      imageVirtualGiB: Math.round((image.virtualBytes / 2 ** 30) * 10) / 10,
      guestOs: os ?? 'unknown',
      guestKernel: kernel ?? 'unknown',
      guestArch: arch ?? 'unknown',
      guestCpu: guestCpu ?? 'unknown',
      ...rest,
      accelerator: settings.accel,
      machine: MACHINE_TYPE,
      cpuModel: cpuModel(settings.accel),
      vcpus: settings.cpus,
      memoryMiB: settings.memoryMiB,
      disk: 'virtio, qcow2 overlay over the image (cache=none); the image is never written',
      network: 'user (slirp), hostfwd 127.0.0.1',
      bootSeconds: Math.round(guest.bootMs / 100) / 10,
    },
  };
}

function sessionKey(facts: VmFacts): string {
  return `vm-image ${facts.hostDir} 127.0.0.1:${facts.sshPort} ${facts.hostKeys}`;
}

async function connectVm(settings: VmImageSettings, facts: VmFacts): Promise<StartedPlatform> {
  const { name } = settings;
  const session = () =>
    keptSessions().session(sessionKey(facts), async () =>
      connectSsh(target(settings, facts.sshPort, await readFile(facts.clientKey), facts.hostKeys.split(' '), 30_000)),
    );
  const use = await leaseGuest(name, facts);
  try {
    const ssh = await session();
    return {
      name,
      workDir: facts.workDir,
      ...sshCommands({
        name,
        workDir: facts.workDir,
        session,
        missing: facts.missing.split(' ').filter(Boolean),
        root: facts.root,
        where: (path) => `the VM image's ${path}`,
        notInstalled: (tool) =>
          `${tool.command} is not installed in the VM image ${settings.key}; fix: install it in the image (${tool.install})`,
      }),
      async serviceAddress() {
        return { listen: `0.0.0.0:${GUEST_SERVICE_PORT}`, host: '127.0.0.1', port: facts.servicePort };
      },
      async describe() {
        return { ...facts.info };
      },
      ...guestTurnParts(facts.hostDir, ssh, use),
    };
  } catch (error) {
    await use.release().catch(() => {});
    throw error;
  }
}

function createVmPlatform(name: string, options: VmImagesOptions | undefined): Platform {
  const settings = vmImageSettings(name, options);
  if (!settings) throw new BadOptionError(`no VM image makes the platform "${name}" in option "vmImages"`);
  const facts = factsCodec(name, FACTS);
  return {
    name,
    async availability() {
      return availabilityOf(settings);
    },
    provision: ({ log }) => provisionVm(settings, facts, log),
    provisionEarly: true,
    connect: async (encoded) => connectVm(settings, facts.decode(encoded)),
  };
}

/** The user's VM images, one platform per image and accelerator (<name>-tcg, <name>-kvm), named in option "vmImages". */
export function vmImagePlatforms(reserved: () => readonly string[]): PlatformFamily<VmImagesOptions> {
  return {
    names: [],
    optionsKey: 'vmImages',
    namesFor: (options) => vmImageNames(options),
    validateOptions: (value) => validateVmImages(value, reserved()),
    create: createVmPlatform,
    questionsFor: (options) => [
      {
        question: "What does my VM image cost against virtbench's own guest?",
        comparisons: Object.keys(options ?? {}).flatMap((key) =>
          (['tcg', 'kvm'] as const).map((a) => ({ platform: `${key}-${a}`, against: `qemu-${a}`, benchmarks: ['cpu', 'mem', 'fork'] })),
        ),
      },
    ],
    // Boots with QEMU; the seed needs cloud-localds (or genisoimage, xorriso): availability() names what is missing.
    requirements: {},
  };
}
