import { connect } from 'node:net';
import { createInterface } from 'node:readline';
import { GuestLostError } from '../../errors.js';

/*
 * Pausing an idle guest through QEMU's own monitor (QMP), not with SIGSTOP.
 * A guest stopped by a signal does not know it was stopped: its clock
 * sources kept counting, and on resume the kernel sees a jump. With the
 * 32-bit HPET that TCG guests use (their TSC is marked unstable), a jump of
 * more than 21.5 s wraps into a "negative" delta, which the kernel clamps to
 * zero: CLOCK_MONOTONIC stood still for up to 21.5 s after the resume, and
 * every benchmark run in that window measured exactly 0 s. QMP's `stop`
 * pauses the virtual clock with the vCPUs, so the guest sees no time pass.
 *
 * The protocol is JSON lines over a unix socket: a greeting, the capabilities
 * handshake, then one command. No npm package for it is kept up; this is the
 * whole client.
 */

const TIMEOUT_MS = 10_000;

interface QmpReply {
  QMP?: unknown;
  return?: unknown;
  error?: { class: string; desc: string };
  event?: string;
}

/** Runs one QMP command (stop, cont, query-status, ...) and returns its `return` value. */
export function qmpExecute(socketPath: string, command: string, platform?: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    const lines = createInterface({ input: socket });
    const fail = (message: string, cause?: unknown) => {
      socket.destroy();
      reject(new GuestLostError(`QMP ${command} on ${socketPath}: ${message}`, { platform, cause }));
    };
    const timer = setTimeout(() => fail(`no answer within ${TIMEOUT_MS} ms`), TIMEOUT_MS);
    let step: 'greeting' | 'capabilities' | 'command' = 'greeting';
    lines.on('line', (line) => {
      let reply: QmpReply;
      try {
        reply = JSON.parse(line) as QmpReply;
      } catch (cause) {
        return fail(`not JSON: ${line.slice(0, 200)}`, cause);
      }
      if (reply.event) return; // asynchronous events (STOP, RESUME) may come in between
      if (reply.error) return fail(`${reply.error.class}: ${reply.error.desc}`);
      if (step === 'greeting') {
        step = 'capabilities';
        socket.write(JSON.stringify({ execute: 'qmp_capabilities' }) + '\n');
      } else if (step === 'capabilities') {
        step = 'command';
        socket.write(JSON.stringify({ execute: command }) + '\n');
      } else {
        clearTimeout(timer);
        socket.end();
        resolve(reply.return);
      }
    });
    const unreachable = (error: Error) => {
      clearTimeout(timer);
      fail(`cannot reach QEMU's monitor (${(error as NodeJS.ErrnoException).code ?? error.message}); did QEMU exit?`, error);
    };
    socket.once('error', unreachable);
    // readline re-emits its input's errors: without a listener there, a QEMU gone meanwhile is an uncaught exception.
    lines.once('error', unreachable);
  });
}

/** Pauses the guest's vCPUs and its virtual clock. */
export async function pauseGuest(socketPath: string, platform?: string): Promise<void> {
  await qmpExecute(socketPath, 'stop', platform);
}

/** Resumes a paused guest; a running one is left running. */
export async function resumeGuest(socketPath: string, platform?: string): Promise<void> {
  await qmpExecute(socketPath, 'cont', platform);
}
