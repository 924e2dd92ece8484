import { rmSync } from 'node:fs';
import { relative } from 'node:path';
import { BadOptionError } from '../errors.js';
import { joinShared, peekShared } from '../host/shared.js';
import type { RoundOrder } from './round-order.js';
import { openLink } from './client.js';
import {
  TURNSTILE_ENV,
  TURNSTILE_TAG_ENV,
  addressFromEnv,
  encode,
  isAbstract,
  parseNotice,
  showAddress,
  splitAddress,
  turnstileAddress,
  type ClientMessage,
} from './protocol.js';
import { startTurnstile, type TurnstileOptions, type TurnstileServer } from './server.js';

// ---------------------------------------------------------------- a turnstile of another process

/*
 * `virtbench ab` runs the base's and the head's `vitest bench` at the same time and makes them take
 * their samples in turns at one turnstile of its own, so that a drift of the machine falls on both
 * sides alike, sample by sample. Each run then reaches that turnstile from outside: its main process
 * plans through a control connection, and every platform goes by "<platform>@<tag>" (native@base),
 * in rooms named by the bench file's path relative to the project root, which both checkouts share.
 */

/** Where a run's platforms meet: its own turnstile, or another process's under a tag. */
export interface TurnstilePlace {
  address: string;
  /** Set when the turnstile is another process's: platforms go by "<platform>@<tag>". */
  tag?: string;
  /** Set with tag: bench files go by their path relative to this directory. */
  root?: string;
}

/** The name a platform goes by at the turnstile. */
export function turnstileName(platform: string, place: Pick<TurnstilePlace, 'tag'>): string {
  return place.tag ? `${platform}@${place.tag}` : platform;
}

/**
 * The name a bench file goes by at the turnstile (an absolute path, or relative to the root of a shared
 * one). A file of an installed package (the shipped suite) goes by its path from its node_modules: a
 * worktree whose node_modules is a link to the other checkout's finds it there, not under its own root.
 */
export function turnstileFile(file: string, place: Pick<TurnstilePlace, 'root'>): string {
  if (!place.root) return file;
  const inPackage = file.lastIndexOf('/node_modules/');
  return inPackage >= 0 ? file.slice(inPackage + 1) : relative(place.root, file);
}

/** The shared turnstile this run's environment names, if any; a bad tag is refused with the fix. */
export function externalTurnstile(env: NodeJS.ProcessEnv, root: string): TurnstilePlace | undefined {
  const value = env[TURNSTILE_ENV];
  if (!value) return undefined;
  const tag = env[TURNSTILE_TAG_ENV] ?? '';
  if (!/^[a-z0-9-]+$/.test(tag)) {
    throw new BadOptionError(
      `${TURNSTILE_ENV} is set, so ${TURNSTILE_TAG_ENV} must name this run (letters, digits, "-"), got "${tag}"; ` +
        `fix: set both (virtbench ab does), or unset ${TURNSTILE_ENV} to run alone`,
    );
  }
  return { address: addressFromEnv(value), tag, root };
}

/** The main process's link to another process's turnstile: it plans and reports there what it would tell its own. */
export async function connectTurnstileControl(place: TurnstilePlace): Promise<TurnstileServer> {
  // The turnstile says how it orders its rounds once this run has planned (an older one never does).
  let roundOrder: RoundOrder | undefined;
  const socket = await openLink(
    place.address,
    (error) =>
      `cannot reach the turnstile at ${showAddress(place.address)} that ${TURNSTILE_ENV} names: ${error.message}; ` +
      `fix: unset ${TURNSTILE_ENV} (it is set by virtbench ab for the runs it starts)`,
    {
      line(line) {
        const notice = parseNotice(line);
        if (notice) roundOrder = notice.roundOrder;
      },
      error: () => {}, // a closed turnstile shows in the workers' waits, which name it
    },
  );
  const send = (message: ClientMessage) => {
    if (socket.writable) socket.write(encode(message));
  };
  const unavailable = new Set<string>();
  const name = (platform: string) => turnstileName(platform, place);
  return {
    address: place.address,
    grants: [],
    get roundOrder() {
      return roundOrder;
    },
    plan(files) {
      send({ op: 'plan', files: [...files].map(([file, platforms]) => [turnstileFile(file, place), platforms.map(name)]) });
    },
    unavailable(platform) {
      unavailable.add(platform);
      send({ op: 'unavailable', platform: name(platform) });
    },
    isUnavailable: (platform) => unavailable.has(platform),
    moduleEnded(platform, file) {
      send({ op: 'ended', platform: name(platform), file: turnstileFile(file, place) });
    },
    // end(), not destroy(): what was said last (a file ended) must still arrive.
    close: () => new Promise<void>((resolve) => socket.end(resolve)),
  };
}

// ---------------------------------------------------------------- sharing in the main process

/* The plugin (config bundle) and every project's globalSetup share the run's one server. */
const SHARED_KEY = 'virtbench.turnstile';

interface Shared {
  server: TurnstileServer;
  place: TurnstilePlace;
  unregister?: () => void;
}

/**
 * The run's turnstile, started by the first caller; release() closes it after the last. With
 * `external` (from externalTurnstile), another process's turnstile, reached through a control connection.
 */
export async function useSharedTurnstile(
  options: Omit<TurnstileOptions, 'address'> & { onExit?: (cleanup: () => void) => () => void; external?: TurnstilePlace } = {},
): Promise<{ server: TurnstileServer; place: TurnstilePlace; release(): Promise<void> }> {
  const membership = await joinShared<Shared>(SHARED_KEY, async () => {
    if (options.external) return { server: await connectTurnstileControl(options.external), place: options.external };
    // Where it listens: another name if this one was taken.
    const server = await startTurnstile({ ...options, address: turnstileAddress() });
    // A socket file (not Linux) is removed on Ctrl-C too; an abstract name vanishes with the process.
    const { socket } = splitAddress(server.address);
    const unregister = !isAbstract(socket) && options.onExit ? options.onExit(() => rmSync(socket, { force: true })) : undefined;
    return { server, place: { address: server.address }, unregister };
  });
  const { server, place, unregister } = membership.value;
  return {
    server,
    place,
    async release() {
      if (!membership.leave()) return;
      unregister?.();
      await server.close();
    },
  };
}

/** The run's turnstile once started (for the sequencer and the reporter in the main process). */
export function sharedTurnstile(): TurnstileServer | undefined {
  return peekShared<Shared>(SHARED_KEY)?.server;
}
