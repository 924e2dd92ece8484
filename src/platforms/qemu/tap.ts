import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { runSync, runSyncChecked } from '../../host/command.js';
import { isAlive, ownerLine, parseOwner } from '../../host/owner.js';
import { SETUP_HINT } from '../platform.js';

/*
 * The guest's second network card for the tap variants: a tap device on a bridge inside a network
 * namespace of our own, where the nginx client runs too. QEMU opens the tap in the host's namespace
 * (it also serves ssh there, on user networking), then the tap moves into the private namespace: an
 * open tap keeps working across the move. Nothing of the host's own network changes, and deleting
 * the namespace deletes the tap and the bridge with it.
 */

/** The private namespace's addresses: nothing else is in it, so no subnet of the host's can clash. */
export const TAP_NET = { host: '192.168.77.1', guest: '192.168.77.2', bits: 24 } as const;
const BRIDGE = 'vbbr0';
/** The tap card's MAC in the guest (the user-networking card keeps QEMU's default, 52:54:00:12:34:56). */
export const TAP_MAC = '52:54:00:12:34:57';

export interface TapNetwork {
  /** The tap device's name, in the host's namespace until moved (15 characters at most). */
  readonly tap: string;
  /** The private network namespace's name (`ip netns`). */
  readonly namespace: string;
}

/** Names derived from QEMU's work directory, so that a sweep can tell whose they are. */
export function tapNetworkFor(runDir: string): TapNetwork {
  const name = basename(runDir);
  return { tap: `vbt${createHash('sha256').update(name).digest('hex').slice(0, 8)}`, namespace: name };
}

const NAMESPACE_PREFIX = 'virtbench-qemu-';

/**
 * Who made each tap network: a file per namespace holding the owner line (owner.ts) of the process
 * that made it. Runs with other work roots share the host's namespaces and links, so a sweep judges
 * by this record, never by a directory of its own work root. On tmpfs, as the namespaces are.
 */
export const TAP_OWNERS_DIR = '/run/virtbench-tap';

function ip(args: string[], what: string, platform: string): void {
  runSyncChecked(['ip', ...args], { what, code: 'VIRTBENCH_BOOT_FAILED', platform });
}

/** Before QEMU starts: a persistent tap in the host's namespace, for QEMU to open by name; its owner recorded first. */
export function createTap(network: TapNetwork, platform: string, ownersDir = TAP_OWNERS_DIR): void {
  mkdirSync(ownersDir, { recursive: true, mode: 0o700 });
  writeFileSync(join(ownersDir, network.namespace), ownerLine(), { mode: 0o600 });
  ip(['tuntap', 'add', 'dev', network.tap, 'mode', 'tap'], `creating the tap device ${network.tap}`, platform);
}

/** The `ip` commands that move the tap into the namespace and put it on a bridge with the host's address there. */
export function namespaceSetup({ tap, namespace }: TapNetwork): string[][] {
  const inside = (...args: string[]) => ['-n', namespace, ...args];
  return [
    ['netns', 'add', namespace],
    ['link', 'set', tap, 'netns', namespace],
    inside('link', 'set', 'lo', 'up'),
    inside('link', 'add', BRIDGE, 'type', 'bridge'),
    inside('addr', 'add', `${TAP_NET.host}/${TAP_NET.bits}`, 'dev', BRIDGE),
    inside('link', 'set', tap, 'master', BRIDGE),
    inside('link', 'set', tap, 'up'),
    inside('link', 'set', BRIDGE, 'up'),
  ];
}

/** Once QEMU holds the tap open. */
export function moveTapIntoNamespace(network: TapNetwork, platform: string): void {
  for (const args of namespaceSetup(network)) ip(args, `setting up the guest's private network (ip ${args.join(' ')})`, platform);
}

/** Deletes the namespace (with the tap and bridge in it), the tap should it still be in the host's, and the owner record. Idempotent, synchronous. */
export function removeTapNetwork({ tap, namespace }: TapNetwork, ownersDir = TAP_OWNERS_DIR): void {
  if (existsSync(`/run/netns/${namespace}`)) runSync(['ip', 'netns', 'delete', namespace]);
  if (existsSync(`/sys/class/net/${tap}`)) runSync(['ip', 'link', 'delete', tap]);
  rmSync(join(ownersDir, namespace), { force: true });
}

/**
 * The tap networks of runs provably gone (owner.ts: killed before they could remove them). What a
 * live run made, whatever its work root, is left alone, and so is a namespace or link without a record:
 * not provably ours.
 */
export function removeStaleTapNetworks(ownersDir = TAP_OWNERS_DIR): void {
  let recorded: string[] = [];
  try {
    recorded = readdirSync(ownersDir).filter((n) => n.startsWith(NAMESPACE_PREFIX));
  } catch {
    return; // no tap network was ever made here
  }
  for (const namespace of recorded) {
    const owner = parseOwner(readFileSync(join(ownersDir, namespace), 'utf8'));
    if (owner && !isAlive(owner)) removeTapNetwork(tapNetworkFor(namespace), ownersDir);
  }
}

/** Why tap networking cannot be set up here, or undefined. */
export function tapUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return `tap networking needs root (a tap device and a network namespace); fix: run as root ${SETUP_HINT}`;
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing; fix: load the tun module (modprobe tun)';
  return undefined;
}
