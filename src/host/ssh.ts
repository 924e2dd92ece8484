import { Socket, connect as connectTcp } from 'node:net';
import { constants } from 'node:os';
import type { Readable } from 'node:stream';
import ssh2, { type Client, type ClientChannel } from 'ssh2';
import { GuestLostError, HostKeyMismatchError, VirtbenchError } from '../errors.js';
import { createHash } from 'node:crypto';
import type { ExecResult } from './exec-result.js';
import { waitFor } from './poll.js';
import { processSingleton } from './shared.js';

/*
 * An ssh2 client for the platforms reached over SSH (a QEMU guest, a remote
 * host): one connection per worker, logging in with a key, and only to a host
 * key known beforehand (pinned at image build time, or in a known_hosts file).
 * Files travel as the stdin of `cat`, which every server has (dropbear has no SFTP).
 */

/** How errors name the other end, and what a user checks when it fails. */
export interface SshPeer {
  /** "the guest", "the remote host lab1". */
  what: string;
  /** Where the accepted host keys come from: "the guest image", "known_hosts file ~/.ssh/known_hosts". */
  pinnedBy: string;
  /** Shown after a lost connection: "did QEMU exit or get killed?" */
  lostHint: string;
  /** The fix after a failed login. */
  loginFix: string;
  /** The fix after a login that ran out of time. */
  timeoutFix: string;
  /** What a host key other than the pinned ones may mean. */
  mismatchHint: string;
}

export interface SshTarget {
  platform: string;
  host: string;
  port: number;
  /** Default root. */
  username?: string;
  privateKey?: Buffer | string;
  /** An ssh-agent's socket (SSH_AUTH_SOCK), tried when there is no privateKey. */
  agent?: string;
  /** The host key blobs (base64) accepted; any other is refused. */
  hostKeys: readonly string[];
  peer: SshPeer;
  /** Connecting, key exchange and login together (ssh2's readyTimeout). Default 30 s. */
  readyTimeoutMs?: number;
  /** How often the other end is asked for an answer, and how long its silence may last (tests shorten them). */
  keepalive?: { intervalMs: number; silenceLimitMs: number };
}

/** OpenSSH-style fingerprint of a host key blob: SHA256:<base64 without padding>. */
export function fingerprintOf(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const READY_TIMEOUT_MS = 30_000;
/** How often ssh2 asks the other end for an answer (a keepalive request). */
const KEEPALIVE_INTERVAL_MS = 10_000;
/** An end that sends nothing this long, keepalives unanswered, is gone (QEMU hung, a remote off the network). */
const SILENCE_LIMIT_MS = 60_000;

export interface SshRunOptions {
  /** How errors and the result name the command (the argv it was built from). */
  argv?: readonly string[];
  stdin?: Readable;
  timeoutMs?: number;
}

export interface SshSession {
  /** Runs a shell command line on the other end. Throws only when that is gone, never for a non-zero exit. */
  run(command: string, options?: SshRunOptions): Promise<ExecResult>;
  close(): void;
  /** The connection ended (closed, lost, or its keepalive went unanswered): a new one is needed. */
  readonly closed: boolean;
  /**
   * The other end is paused on purpose (a guest stopped through QMP between turns): while paused its
   * silence never ends the connection, and on resume the silence is counted anew.
   */
  setPeerPaused(paused: boolean): void;
}

/** POSIX single-quoting: safe for any byte string but NUL. */
export function shellQuote(arg: string): string {
  return /^[A-Za-z0-9_\-+=/.,:@%]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

const OUTPUT_LIMIT = 64 * 1024 * 1024;
const { signals } = constants;

export function connectSsh(target: SshTarget): Promise<SshSession> {
  const client = new ssh2.Client();
  let closedReason: string | undefined;
  const liveness = watchSilence(client, target, (reason) => {
    closedReason ??= reason;
  });

  const lost = (command: string) =>
    new GuestLostError(
      `lost ${target.peer.what} while running \`${command}\`: ${closedReason ?? 'the ssh connection closed'} (${target.peer.lostHint})`,
      { platform: target.platform },
    );

  const session: SshSession = {
    get closed() {
      return closedReason !== undefined;
    },
    close() {
      closedReason ??= 'closed by virtbench';
      client.end();
    },
    setPeerPaused: (paused) => liveness.setPeerPaused(paused),
    run(command, options = {}) {
      const shown = options.argv ? options.argv.join(' ') : command;
      if (closedReason) return Promise.reject(lost(shown));
      const started = performance.now();
      return new Promise((resolve, reject) => {
        client.exec(command, (error, channel) => {
          if (error) {
            const cannot = new GuestLostError(`cannot run \`${shown}\` on ${target.peer.what}: ${error.message}`, {
              platform: target.platform,
              cause: error,
            });
            return reject(closedReason ? lost(shown) : cannot);
          }
          commandResult(channel, command, options, started, () => lost(shown)).then(resolve, reject);
        });
      });
    },
  };

  return logIn(client, target, liveness.socket, session, (reason) => {
    closedReason ??= reason;
  });
}

function keepaliveOf(target: SshTarget): { intervalMs: number; silenceLimitMs: number } {
  return target.keepalive ?? { intervalMs: KEEPALIVE_INTERVAL_MS, silenceLimitMs: SILENCE_LIMIT_MS };
}

/**
 * Our own socket under ssh2, so that what arrives on it tells that the other end lives: ssh2's keepalive
 * (which would give up on a paused guest after a minute, whatever the reason) only asks for answers,
 * and this watch ends a connection silent for SILENCE_LIMIT_MS unless its end is paused on purpose.
 */
function watchSilence(
  client: Client,
  target: SshTarget,
  ended: (reason: string) => void,
): { socket: Socket; setPeerPaused(paused: boolean): void } {
  const { intervalMs, silenceLimitMs } = keepaliveOf(target);
  const socket = new Socket();
  let lastHeard = performance.now();
  let peerPaused = false;
  socket.on('data', () => (lastHeard = performance.now()));
  const watch = setInterval(() => {
    if (peerPaused || performance.now() - lastHeard <= silenceLimitMs) return;
    ended(`${target.peer.what} answered no keepalive for ${silenceLimitMs / 1000} s`);
    client.destroy();
  }, intervalMs);
  // It never keeps a process alive on its own; it ends with the connection.
  watch.unref();
  socket.once('close', () => clearInterval(watch));
  return {
    socket,
    setPeerPaused(paused) {
      peerPaused = paused;
      lastHeard = performance.now();
    },
  };
}

/**
 * The result of a command running on a channel: its output (up to OUTPUT_LIMIT) and exit, or
 * lost() when the channel closes without an exit status.
 */
function commandResult(
  channel: ClientChannel,
  command: string,
  options: SshRunOptions,
  started: number,
  lost: () => VirtbenchError,
): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let exit: { code: number; signal?: string } | undefined;
    let timedOut = false;
    const keep = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size <= OUTPUT_LIMIT) into.push(chunk);
    };
    channel.on('data', keep(out));
    channel.stderr.on('data', keep(err));
    channel.on('exit', (code: number | null, signal?: string) => {
      // ssh2 names signals as SIGKILL; the protocol itself says KILL.
      exit = { code: code ?? 128, signal: signal ? (signal.startsWith('SIG') ? signal : `SIG${signal}`) : undefined };
    });
    const finish = () => {
      clearTimeout(timer);
      const stderr = Buffer.concat(err).toString() + (exit?.signal ? `\nkilled by ${exit.signal}` : '');
      resolve({
        command: options.argv ? [...options.argv] : [command],
        exitCode: exit ? (exit.signal ? 128 + (signals[exit.signal as keyof typeof signals] ?? 0) : exit.code) : 128 + signals.SIGKILL,
        stdout: Buffer.concat(out).toString(),
        stderr,
        wallMs: performance.now() - started,
        timedOut,
      });
    };
    // On timeout, answer at once: dropbear confirms the close only when the command is gone, which
    // the other end's `timeout` guard (see the callers' command lines) sees to a few seconds later.
    const timer = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          channel.signal('KILL');
          channel.close();
          finish();
        }, options.timeoutMs)
      : undefined;
    channel.on('close', () => {
      if (timedOut) return;
      if (!exit) {
        clearTimeout(timer);
        return reject(lost());
      }
      finish();
    });
    if (options.stdin) options.stdin.pipe(channel);
    else channel.end();
  });
}

/**
 * Connects and logs in, accepting only a pinned host key; settles with the session once ready.
 * ended() hears why the connection ended, then or later (an error, a close).
 */
function logIn(
  client: Client,
  target: SshTarget,
  socket: Socket,
  session: SshSession,
  ended: (reason: string) => void,
): Promise<SshSession> {
  const accepted = target.hostKeys.map((key) => Buffer.from(key, 'base64'));
  let presented: Buffer | undefined;
  const loginFailure = (error?: Error) => loginError(target, presented, error);
  const readyTimeoutMs = target.readyTimeoutMs ?? READY_TIMEOUT_MS;

  return new Promise((resolve, reject) => {
    client.once('ready', () => {
      // Without it, Nagle's algorithm held a small request back until the other end's delayed ACK: each
      // exec took about 60 ms longer than OpenSSH's over the same forward.
      client.setNoDelay(true);
      resolve(session);
    });
    // Once ready, these only record why the connection ended; settling again is a no-op.
    client.on('error', (error) => {
      ended(error.message);
      reject(loginFailure(error));
    });
    client.on('close', () => {
      ended('the ssh connection closed');
      reject(loginFailure());
    });
    client.connect({
      sock: socket.connect(target.port, target.host),
      host: target.host,
      port: target.port,
      username: target.username ?? 'root',
      privateKey: target.privateKey,
      agent: target.privateKey ? undefined : target.agent,
      readyTimeout: readyTimeoutMs,
      // Asked every interval, so that a live end always sends something; ssh2 itself never gives up
      // (watchSilence does, unless the end is paused on purpose).
      keepaliveInterval: keepaliveOf(target).intervalMs,
      keepaliveCountMax: Number.POSITIVE_INFINITY,
      hostVerifier: (key: Buffer) => {
        presented = key;
        return accepted.some((known) => key.equals(known));
      },
    });
  });
}

/**
 * Why login failed: a host key other than the pinned one is named as such, whatever ssh2 reports
 * first; running out of time (readyTimeout) is named as that, with its limit.
 */
export function loginError(target: SshTarget, presented: Buffer | undefined, error?: Error & { level?: string }): VirtbenchError {
  const where = `${target.host}:${target.port}`;
  const { peer } = target;
  if (presented && !target.hostKeys.some((key) => presented.equals(Buffer.from(key, 'base64')))) {
    const pinned = target.hostKeys.map((key) => fingerprintOf(Buffer.from(key, 'base64'))).join(' or ') || 'no key';
    return new HostKeyMismatchError(
      `the ssh server on ${where} presented host key ${fingerprintOf(presented)}, but ${peer.pinnedBy} pinned ${pinned}: refusing to connect (${peer.mismatchHint})`,
      { platform: target.platform, cause: error },
    );
  }
  if (error?.level === 'client-timeout') {
    const seconds = (target.readyTimeoutMs ?? READY_TIMEOUT_MS) / 1000;
    return new GuestLostError(
      `logging in to ${peer.what} over ssh at ${where} did not complete within ${seconds} s (connection, key exchange and login; ${error.message})\n` +
        `fix: ${peer.timeoutFix}`,
      { platform: target.platform, cause: error },
    );
  }
  return new GuestLostError(
    `cannot log in to ${peer.what} over ssh at ${where}: ${error?.message ?? 'the server closed the connection'}\nfix: ${peer.loginFix}`,
    { platform: target.platform, cause: error },
  );
}

/**
 * The ssh sessions a worker keeps from one benchmark to the next, one per key (a key names one
 * provisioned target: a guest's boot, a remote's work directory): a login costs about 0.5 s under
 * TCG, where the guest computes the key exchange in emulation. Concurrent callers for a key share one
 * connect; never do two connections race.
 *
 * The rule for a lost connection: a session that ended (closed, lost with its peer, or its keepalive
 * unanswered, as while a guest is paused for over a minute) is replaced by one new connect at the next
 * use. A connect that fails is remembered: every later caller for that key gets the same error at once,
 * without trying again, so that the later benchmarks of a guest or remote that is gone fail with the
 * cause instead of each waiting out a login timeout. A new provisioning is a new key.
 */
export interface SessionCache {
  /** The open session under key, else a new one from connect (shared with the callers meanwhile), else the remembered failure. */
  session(key: string, connect: () => Promise<SshSession>): Promise<SshSession>;
  /** Closes and forgets the session under key (one still connecting, once it is open); a remembered failure stays. */
  close(key: string): void;
}

interface Kept {
  /** The connect: pending, its session, or its failure. */
  made: Promise<SshSession>;
  session?: SshSession;
  failed?: boolean;
}

export function createSessionCache(): SessionCache {
  const kept = new Map<string, Kept>();
  return {
    session(key, connect) {
      const found = kept.get(key);
      if (found && !found.session?.closed) return found.made;
      const entry: Kept = { made: Promise.resolve().then(connect) };
      entry.made.then(
        (session) => void (entry.session = session),
        // A failure is its callers' to report (this handler only marks it); it stays for the later ones.
        () => void (entry.failed = true),
      );
      kept.set(key, entry);
      return entry.made;
    },
    close(key) {
      const entry = kept.get(key);
      if (!entry || entry.failed) return;
      kept.delete(key);
      if (entry.session) return entry.session.close();
      // One still connecting: once it is open.
      entry.made.then(
        (session) => session.close(),
        () => {},
      );
    },
  };
}

/** This process's kept sessions (a worker's), whatever number of module copies load this file. */
export function keptSessions(): SessionCache {
  return processSingleton('virtbench.ssh.kept-sessions', createSessionCache);
}

/** One try: connects and tells whether the first bytes are an ssh server's banner. */
function hasSshBanner(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const socket = connectTcp(port, host);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('data', (data) => done(data.toString('latin1').startsWith('SSH-')));
    socket.once('error', () => done(false));
    socket.once('close', () => done(false));
  });
}

const STOPPED = Symbol('stopped');

/**
 * QEMU's user networking accepts TCP on a forwarded port before the guest is
 * up, so "port open" means nothing: wait until the ssh server's banner
 * arrives. Gives up early when stopped() says so (the server's process exited).
 */
export async function waitForSshBanner(
  host: string,
  port: number,
  timeoutMs: number,
  stopped: () => boolean,
): Promise<'ready' | 'stopped' | 'timeout'> {
  const deadline = Date.now() + timeoutMs;
  try {
    const ready = await waitFor(
      () => {
        if (stopped()) throw STOPPED;
        return hasSshBanner(host, port, Math.max(100, Math.min(3_000, deadline - Date.now())));
      },
      { timeoutMs, intervalMs: 250 },
    );
    return ready ? 'ready' : stopped() ? 'stopped' : 'timeout';
  } catch (error) {
    if (error === STOPPED) return 'stopped';
    throw error;
  }
}
