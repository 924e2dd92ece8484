import { existsSync } from 'node:fs';
import { PlatformUnavailableError } from '../../errors.js';
import { runSync, runSyncChecked } from '../../host/command.js';

/*
 * The private dockerd's bridge. We create it ourselves (dockerd would create
 * docker0 and leave it behind) on a /24 that no route on the host already
 * covers; otherwise containers could not reach the host, or the host would
 * lose a network.
 */

export const BRIDGE = 'virtbench0';
/** The podman platform's (private-podman.ts). */
export const PODMAN_BRIDGE = 'virtbench1';

const CANDIDATES = ['172.29.83.0', '10.211.83.0', '192.168.213.0', '172.30.211.0', '10.251.7.0'];

function toNumber(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

interface Prefix {
  base: number;
  bits: number;
}

function parsePrefix(text: string): Prefix | undefined {
  const match = /^(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?$/.exec(text);
  if (!match) return undefined;
  const bits = match[2] === undefined ? 32 : Number(match[2]);
  const size = 2 ** (32 - bits);
  return { base: Math.floor(toNumber(match[1]!) / size) * size, bits };
}

function overlaps(a: Prefix, b: Prefix): boolean {
  const aEnd = a.base + 2 ** (32 - a.bits);
  const bEnd = b.base + 2 ** (32 - b.bits);
  return a.base < bEnd && b.base < aEnd;
}

/**
 * The gateway address ("x.y.z.1/24") of the first candidate subnet that no
 * route in `ip -4 -o route show table all` output overlaps. Default routes do
 * not count: they cover everything by design.
 */
export function chooseSubnet(routes: string): string {
  const taken = routes
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    // A route type (local, broadcast, unreachable...) may come before the destination.
    .map((words) => (/^\d/.test(words[0] ?? '') ? words[0] : words[1]))
    .filter((destination): destination is string => Boolean(destination) && destination !== 'default')
    .map(parsePrefix)
    .filter((p): p is Prefix => p !== undefined && p.bits > 0);
  const free = CANDIDATES.find((base) => !taken.some((route) => overlaps(route, { base: toNumber(base), bits: 24 })));
  if (!free) {
    throw new PlatformUnavailableError(
      `no free subnet for a virtbench bridge (the private dockerd's, or the podman platform's) among ${CANDIDATES.join(', ')} (/24)`,
      {
        platform: 'docker',
      },
    );
  }
  return free.replace(/\.0$/, '.1') + '/24';
}

function bridgeExists(name: string): boolean {
  return existsSync(`/sys/class/net/${name}`);
}

/**
 * Creates a bridge of ours on a free /24 and returns its gateway address ("x.y.z.1/24"), or undefined
 * when it exists already (ours, left by a run that was killed). platform: whose bridge, for errors.
 */
export function createBridge(name = BRIDGE, platform = 'docker'): string | undefined {
  if (bridgeExists(name)) return undefined;
  const ip = (args: string[]) =>
    runSyncChecked(['ip', ...args], {
      what: `creating the ${platform} platform's bridge ${name}`,
      code: 'VIRTBENCH_PLATFORM_UNAVAILABLE',
      platform,
    });
  const gateway = chooseSubnet(runSync(['ip', '-4', '-o', 'route', 'show', 'table', 'all']).stdout);
  ip(['link', 'add', 'name', name, 'type', 'bridge']);
  ip(['addr', 'add', gateway, 'dev', name]);
  ip(['link', 'set', name, 'up']);
  return gateway;
}

export function deleteBridge(name = BRIDGE): void {
  if (bridgeExists(name)) runSync(['ip', 'link', 'delete', name]);
}
