import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ssh2 from 'ssh2';
import { findExecutable } from '../../host/process.js';
import { fingerprintOf } from '../../host/ssh.js';
import { TOOL_TIMEOUT_MS, runTool, writeClientKey, writePrivateFile } from '../qemu/index.js';

/*
 * Key injection the way cloud images expect it: a NoCloud seed, an ISO 9660 volume labelled
 * "cidata" holding user-data and meta-data, which cloud-init reads at boot. It authorizes a client key
 * made for this run, and sets the guest's host key through ssh_keys, so the key the guest presents is
 * known before it boots and pinned (never trusted on first use). Everything is in the run's work
 * directory (0700, files 0600) and goes with it.
 */

/** The tools that write the seed, in order of preference, each with its argv (run in the seed's directory). */
export const SEED_TOOLS = ['cloud-localds', 'genisoimage', 'xorriso'] as const;
export type SeedTool = (typeof SEED_TOOLS)[number];
/** Debian's package with cloud-localds (it brings genisoimage). */
export const SEED_PACKAGE = 'cloud-image-utils';

export function seedArgv(tool: SeedTool, iso: string): string[] {
  if (tool === 'cloud-localds') return ['cloud-localds', iso, 'user-data', 'meta-data'];
  const mkisofs = tool === 'xorriso' ? ['xorriso', '-as', 'mkisofs'] : ['genisoimage'];
  return [...mkisofs, '-quiet', '-output', iso, '-volid', 'cidata', '-joliet', '-rock', 'user-data', 'meta-data'];
}

export function seedTool(): SeedTool | undefined {
  return SEED_TOOLS.find((tool) => findExecutable(tool) !== undefined);
}

/** An ssh key pair in OpenSSH's formats, with the public key's blob (base64) and fingerprint. */
export interface KeyPair {
  privateKey: string;
  publicLine: string;
  blob: string;
  fingerprint: string;
}

export function ed25519Pair(comment: string): KeyPair {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment });
  const blob = pair.public.split(' ')[1]!;
  return { privateKey: pair.private, publicLine: pair.public, blob, fingerprint: fingerprintOf(Buffer.from(blob, 'base64')) };
}

/**
 * cloud-init's user-data: the client key authorized for root (disable_root off) and the user, no
 * passwords, and the host key given (the image's own deleted, none generated). JSON strings are YAML.
 */
export function cloudConfig(user: string, authorizedKey: string, hostKey: Pick<KeyPair, 'privateKey' | 'publicLine'>): string {
  const key = JSON.stringify(authorizedKey.trim());
  const indented = hostKey.privateKey
    .trim()
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
  return [
    '#cloud-config',
    'disable_root: false',
    'ssh_pwauth: false',
    'ssh_deletekeys: true',
    'ssh_genkeytypes: []',
    `ssh_authorized_keys: [${key}]`,
    ...(user === 'root'
      ? []
      : ['users:', '  - default', `  - name: ${JSON.stringify(user)}`, '    lock_passwd: true', `    ssh_authorized_keys: [${key}]`]),
    'ssh_keys:',
    '  ed25519_private: |',
    indented,
    `  ed25519_public: ${JSON.stringify(hostKey.publicLine.trim())}`,
    '',
  ].join('\n');
}

/** A new instance id each run: cloud-init applies the per-instance settings (keys) even where the image had booted before. */
export function metaData(hostname: string, instanceId = `virtbench-${randomBytes(6).toString('hex')}`): string {
  return `instance-id: ${instanceId}\nlocal-hostname: ${hostname}\n`;
}

export interface Seed {
  iso: string;
  clientKey: string;
  hostKey: KeyPair;
}

/** Writes the client key (0600) and the seed ISO into runDir. */
export async function writeSeed(runDir: string, platform: string, user: string, tool: SeedTool): Promise<Seed> {
  const clientKey = join(runDir, 'client_key');
  const authorized = await writeClientKey(clientKey);
  const hostKey = ed25519Pair('virtbench-host');
  const dir = join(runDir, 'seed');
  await mkdir(dir, { mode: 0o700 });
  await writeFile(join(dir, 'user-data'), cloudConfig(user, authorized, hostKey), { mode: 0o600 });
  await writeFile(join(dir, 'meta-data'), metaData(platform), { mode: 0o600 });
  const iso = join(runDir, 'seed.iso');
  await writePrivateFile(iso, () =>
    runTool(
      seedArgv(tool, iso),
      { what: 'writing the NoCloud seed', code: 'VIRTBENCH_BOOT_FAILED', platform, timeoutMs: TOOL_TIMEOUT_MS },
      { cwd: dir },
    ),
  );
  return { iso, clientKey, hostKey };
}
