import { spawnSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { BadOptionError, isVirtbenchError } from '../../errors.js';
import { onExitSync } from '../../host/exit-cleanup.js';
import { knownHostKeys } from '../../host/known-hosts.js';
import type { Log } from '../../host/log.js';
import { connectSsh, keptSessions, shellQuote, type SshPeer, type SshSession, type SshTarget } from '../../host/ssh.js';
import {
  PlatformUnavailableError,
  factsCodec,
  type Availability,
  type FactsOf,
  type Platform,
  type PlatformFamily,
  type Provisioned,
  type StartedPlatform,
} from '../platform.js';
import { resolveRemote, validateRemotes, type RemoteHost, type RemotesOptions } from './options.js';
import { PROBED_TOOLS, PROBE_SCRIPT, parseProbe } from './probe.js';
import { makeWorkDir, sshCommands } from './ssh-commands.js';

/* What the vm-image platform shares: a whole machine reached with ssh2, its probe and its commands. */
export { PROBED_TOOLS, PROBE_SCRIPT, parseProbe, type RemoteProbe } from './probe.js';
export { makeWorkDir, remoteCommandLine, sshCommands, type SshMachine } from './ssh-commands.js';

/*
 * Another machine, reached with ssh2: the workloads (static x86-64 binaries)
 * are copied into a private work directory there and run as plain processes,
 * like native's; fio and nginx are the remote's own. The host key must be in
 * the remote's known_hosts file beforehand: virtbench never learns one on first
 * use. nginx listens on the remote's address the ssh connection arrived at,
 * lets in only the address it came from, and the host downloads from there.
 */

export type { RemoteHostOptions, RemotesOptions } from './options.js';

const factsSpec = {
  workDir: 'string',
  /** Accepted host keys, base64, space-separated (read from known_hosts once, in the main process). */
  hostKeys: 'string',
  serverAddress: 'string',
  clientAddress: 'string',
  /** Tools not installed there, space-separated. */
  missing: 'string',
  root: 'boolean',
  info: 'info',
} as const;
type RemoteFacts = FactsOf<typeof factsSpec>;

/** A login and key exchange on a LAN take tens of milliseconds; a remote gone from the network should not hold a run for long. */
const RECONNECT_TIMEOUT_MS = 10_000;
/** Servers there get a port from this range, outside the usual ephemeral one; a taken port is retried by the runner. */
const SERVICE_PORTS = { from: 20_000, count: 12_000 };
/** A command slower than this to start on the remote is worth a warning. */
const SLOW_EXEC_MS = 500;

function peerOf(remote: RemoteHost): SshPeer {
  const where = `${remote.username}@${remote.host}:${remote.port}`;
  return {
    what: `the remote host ${remote.name} (${where})`,
    pinnedBy: `known_hosts file ${remote.knownHostsPath}`,
    lostHint: `is ${remote.host} still up and reachable, and its sshd running?`,
    loginFix:
      `check that \`ssh -p ${remote.port} -i ${remote.privateKeyPath ?? '<agent key>'} ${remote.username}@${remote.host} true\` works, ` +
      `and that its key is in ${remote.username}'s authorized_keys there`,
    timeoutFix: `is ${remote.host} reachable from here (a firewall, a VPN down)? check with \`ssh -p ${remote.port} ${remote.username}@${remote.host} true\``,
    mismatchHint:
      'the host was reinstalled, the address now belongs to another machine, or someone is in between; check the fingerprint on the ' +
      `host itself (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub), then fix ${remote.knownHostsPath}`,
  };
}

function targetOf(remote: RemoteHost, privateKey: Buffer | undefined, hostKeys: readonly string[], readyTimeoutMs?: number): SshTarget {
  return {
    platform: remote.name,
    host: remote.host,
    port: remote.port,
    username: remote.username,
    ...(privateKey ? { privateKey } : { agent: remote.agent }),
    hostKeys,
    peer: peerOf(remote),
    ...(readyTimeoutMs ? { readyTimeoutMs } : {}),
  };
}

/** The keys known_hosts accepts for the remote, or why there are none (with the fix). */
export async function readHostKeys(remote: RemoteHost): Promise<{ keys: string[] } | { reason: string }> {
  let text: string;
  try {
    text = await readFile(remote.knownHostsPath, 'utf8');
  } catch (error) {
    return {
      reason:
        `cannot read known_hosts file ${remote.knownHostsPath} (${(error as NodeJS.ErrnoException).code ?? error})` + addKeyFix(remote),
    };
  }
  const found = knownHostKeys(text, remote.host, remote.port);
  if (found.accepted.length > 0) return { keys: found.accepted };
  const why = found.revoked.length
    ? 'lists only revoked keys for it'
    : found.certAuthority
      ? 'trusts it through a @cert-authority line, which virtbench does not support'
      : 'has no key for it';
  return { reason: `${remote.knownHostsPath} ${why}` + addKeyFix(remote) };
}

function addKeyFix(remote: RemoteHost): string {
  return (
    `; fix: compare the host's fingerprint (on ${remote.host}: ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub) with ` +
    `\`ssh-keyscan -p ${remote.port} ${remote.host} | ssh-keygen -lf -\`, then \`ssh-keyscan -p ${remote.port} ${remote.host} >> ${remote.knownHostsPath}\``
  );
}

async function privateKeyOf(remote: RemoteHost): Promise<Buffer | undefined> {
  return remote.privateKeyPath ? readFile(remote.privateKeyPath) : undefined;
}

/**
 * OpenSSH's client, for the one place nothing asynchronous may run (exit and signal handlers): the same
 * key and known_hosts file, never a prompt, never a key learned on the way.
 */
export function opensshArgv(remote: RemoteHost, command: string): string[] {
  return [
    'ssh',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=5',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${remote.knownHostsPath}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    ...(remote.privateKeyPath ? ['-o', 'IdentitiesOnly=yes', '-i', remote.privateKeyPath] : []),
    '-p',
    String(remote.port),
    '-l',
    remote.username,
    '--',
    remote.host,
    command,
  ];
}

/**
 * Stops what a run left running in its work directory there (a server whose stop never came, a benchmark
 * cut off by Ctrl-C: sshd does not end a session's processes when the connection goes), then removes it.
 * A process is the run's when its working directory is in the work directory, where every exec starts.
 */
export function cleanupCommand(workDir: string): string {
  const script =
    'cd / && for p in /proc/[0-9]*; do case "$(readlink "$p/cwd" 2>/dev/null)" in "$1"|"$1"/*) kill -KILL "${p#/proc/}" 2>/dev/null;; esac; done; ' +
    'rm -rf -- "$1"';
  return `sh -c ${shellQuote(script)} sh ${shellQuote(workDir)}`;
}

function createRemotePlatform(name: string, options: RemotesOptions | undefined): Platform {
  const settings = options?.[name];
  if (!settings) throw new BadOptionError(`no remote host "${name}" in option "remotes" or VIRTBENCH_REMOTES`);
  const remote = resolveRemote(name, settings);
  const facts = factsCodec(name, factsSpec);
  return {
    name,
    async availability(): Promise<Availability> {
      if (!remote.privateKeyPath && !remote.agent) {
        return {
          available: false,
          reason: `no key to log in to ${remote.host} with: no privateKeyPath, none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa, and no SSH_AUTH_SOCK; fix: set remotes.${name}.privateKeyPath`,
        };
      }
      if (remote.privateKeyPath) {
        const key = await readFile(remote.privateKeyPath).catch(() => undefined);
        if (!key) {
          return {
            available: false,
            reason: `cannot read the private key ${remote.privateKeyPath}; fix: set remotes.${name}.privateKeyPath to your key`,
          };
        }
        // A key ssh2 cannot use (a passphrase, another format) is found here, not halfway through provisioning.
        const parsed = ssh2.utils.parseKey(key);
        if (parsed instanceof Error) {
          return {
            available: false,
            reason:
              `the private key ${remote.privateKeyPath} cannot be used: ${parsed.message}; fix: a key without a passphrase ` +
              `(ssh-keygen -t ed25519), or load it into ssh-agent and leave remotes.${name}.privateKeyPath unset`,
          };
        }
      }
      const keys = await readHostKeys(remote);
      return 'reason' in keys ? { available: false, reason: keys.reason } : { available: true };
    },
    async provision({ log }) {
      return provisionRemote(remote, facts, log);
    },
    async connect(encoded) {
      return connectRemote(remote, facts.decode(encoded));
    },
  };
}

async function provisionRemote(remote: RemoteHost, facts: ReturnType<typeof factsCodec<typeof factsSpec>>, log: Log): Promise<Provisioned> {
  const found = await readHostKeys(remote);
  if ('reason' in found) throw new PlatformUnavailableError(remote.name, found.reason);
  const privateKey = await privateKeyOf(remote);
  let ssh: SshSession;
  try {
    ssh = await connectSsh(targetOf(remote, privateKey, found.keys, RECONNECT_TIMEOUT_MS * 3));
  } catch (error) {
    // A host key other than the known one is never a reason to skip quietly: it fails the run.
    if (isVirtbenchError(error, 'VIRTBENCH_HOST_KEY_MISMATCH')) throw error;
    throw new PlatformUnavailableError(remote.name, (error as Error).message.replace(/^\[[^\]]+\] /, ''));
  }
  try {
    const probed = await ssh.run(PROBE_SCRIPT, { timeoutMs: 60_000 });
    if (probed.timedOut || !probed.stdout.includes('connection=')) {
      throw new PlatformUnavailableError(
        remote.name,
        `${remote.host} did not answer the environment probe (${probed.timedOut ? 'no answer within 60 s' : `exit ${probed.exitCode}: ${probed.stderr.trim()}`}); ` +
          `fix: check that \`ssh -p ${remote.port} ${remote.username}@${remote.host} true\` returns at once (a login shell's startup files that wait, such as a .bashrc, hold every command)`,
      );
    }
    const probe = parseProbe(probed.stdout);
    // What every command there costs beyond its own work: a round trip, sshd starting the login shell and its startup files.
    const execMs = await timeExec(ssh);
    if (probe.arch !== 'x86_64') {
      throw new PlatformUnavailableError(
        remote.name,
        `${remote.host} is ${probe.arch}, and the workloads are static x86-64 binaries; fix: use an x86-64 host`,
      );
    }
    const made = await makeWorkDir(ssh, remote.workRoot);
    if ('error' in made) {
      throw new PlatformUnavailableError(
        remote.name,
        `cannot make a work directory under ${remote.workRoot} on ${remote.host}: ${made.error}; fix: set remotes.${remote.name}.workRoot to a writable directory on a disk`,
      );
    }
    const { workDir } = made;
    const missing = PROBED_TOOLS.filter((tool) => !probe.tools.includes(tool));
    log(
      `${remote.username}@${remote.host}:${remote.port}: ${probe.info.os}, kernel ${probe.info.kernel}, ${probe.info.cpus} CPUs, ` +
        `virtualization ${probe.info.virtualization}; a command costs ${execMs} ms; work directory ${workDir}` +
        (missing.length ? `; not installed: ${missing.join(', ')}` : ''),
    );
    if (execMs > SLOW_EXEC_MS) {
      log(
        `warning: each command on ${remote.host} takes ${execMs} ms before it starts; the figures are the programs' own and stay ` +
          "right, but the run is slower: the login shell's startup files (a .bashrc) run for every command",
      );
    }
    let stopped = false;
    // Its own last-resort stop from here on: globalSetup registers one only when provision() has returned.
    let unregister = () => {};
    const provisioned: Provisioned = {
      facts: facts.encode({
        workDir,
        hostKeys: found.keys.join(' '),
        serverAddress: probe.serverAddress,
        clientAddress: probe.clientAddress,
        missing: missing.join(' '),
        root: probe.root,
        info: { ...probe.info, ssh: `${remote.username}@${remote.host}:${remote.port}`, sshExecMs: execMs },
      }),
      async stop() {
        if (stopped) return;
        stopped = true;
        unregister();
        await removeWorkDir(remote, ssh, privateKey, found.keys, workDir, log);
      },
      stopSync() {
        if (stopped) return;
        stopped = true;
        unregister();
        ssh.close();
        const [command, ...args] = opensshArgv(remote, cleanupCommand(workDir));
        const result = spawnSync(command!, args, { timeout: 15_000, stdio: ['ignore', 'ignore', 'pipe'] });
        if (result.status !== 0) {
          process.stderr.write(
            `virtbench [${remote.name}] could not remove ${workDir} on ${remote.host} (${result.error?.message ?? result.stderr.toString().trim()}); ` +
              `remove it there: ${cleanupCommand(workDir)}\n`,
          );
        }
      },
    };
    unregister = onExitSync(() => provisioned.stopSync());
    return provisioned;
  } catch (error) {
    ssh.close();
    throw error;
  }
}

/** The median wall time of a few `true` commands over the connection, in ms. */
async function timeExec(ssh: SshSession): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 5; i++) times.push((await ssh.run('true', { timeoutMs: 60_000 })).wallMs);
  return Math.round(times.sort((a, b) => a - b)[2]! * 10) / 10;
}

async function removeWorkDir(
  remote: RemoteHost,
  kept: SshSession,
  privateKey: Buffer | undefined,
  hostKeys: readonly string[],
  workDir: string,
  log: Log,
): Promise<void> {
  let ssh = kept;
  try {
    // The connection of provision() may have ended since (the remote rebooted, the network dropped).
    if (ssh.closed) ssh = await connectSsh(targetOf(remote, privateKey, hostKeys, RECONNECT_TIMEOUT_MS));
    const result = await ssh.run(cleanupCommand(workDir), { timeoutMs: 60_000 });
    if (result.exitCode !== 0) throw new Error(result.stderr.trim() || `exit ${result.exitCode}`);
  } catch (error) {
    log(`could not remove ${workDir} on ${remote.host}: ${(error as Error).message}; remove it there: ${cleanupCommand(workDir)}`);
  } finally {
    ssh.close();
    kept.close();
  }
}

/**
 * This worker's connection, kept for a benchmark's commands and closed with it (close()), under
 * host/ssh.ts's rule for a lost connection: one that ended is replaced by one new connect, and a
 * remote that cannot be reached is remembered, so that later benchmarks fail at once with the cause.
 */
function sessionKey(remote: RemoteHost, facts: RemoteFacts): string {
  return `remote ${remote.name} ${remote.username}@${remote.host}:${remote.port} ${facts.workDir}`;
}

async function sessionFor(remote: RemoteHost, facts: RemoteFacts): Promise<SshSession> {
  return keptSessions().session(sessionKey(remote, facts), async () =>
    connectSsh(targetOf(remote, await privateKeyOf(remote), facts.hostKeys.split(' '), RECONNECT_TIMEOUT_MS)),
  );
}

function connectRemote(remote: RemoteHost, facts: RemoteFacts): StartedPlatform {
  const { workDir } = facts;
  const bracketed = facts.serverAddress.includes(':') ? `[${facts.serverAddress}]` : facts.serverAddress;
  return {
    name: remote.name,
    workDir,
    ...sshCommands({
      name: remote.name,
      workDir,
      session: () => sessionFor(remote, facts),
      missing: facts.missing.split(' ').filter(Boolean),
      root: facts.root,
      where: (path) => `${remote.host}:${path}`,
      notInstalled: (tool) =>
        `${tool.command} is not installed on ${remote.name} (${remote.host}); fix: install it there (${tool.install})`,
    }),
    async serviceAddress() {
      const port = SERVICE_PORTS.from + Math.floor(Math.random() * SERVICE_PORTS.count);
      return { listen: `${bracketed}:${port}`, host: facts.serverAddress, port, allowFrom: facts.clientAddress };
    },
    async describe() {
      return facts.info;
    },
    async close() {
      // An open connection would keep a process that uses the platform (a script, not a Vitest worker) from exiting.
      keptSessions().close(sessionKey(remote, facts));
    },
  };
}

/** Remote hosts, one platform each, named by the user (option "remotes", VIRTBENCH_REMOTES). */
export function remotePlatforms(reserved: () => readonly string[]): PlatformFamily<RemotesOptions> {
  return {
    names: [],
    optionsKey: 'remotes',
    namesFor: (options) => Object.keys(options ?? {}),
    validateOptions: (value, env) => validateRemotes(value, reserved(), env),
    create: createRemotePlatform,
    // What a remote host needs is that host's: the probe over ssh reports it.
    requirements: {},
  };
}
