import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import { fingerprintOf } from '../../host/ssh.js';

/*
 * Two key pairs per guest image: the client key virtbench logs in with, and
 * the guest's host key, generated here at build time so its public half can
 * be pinned (the guest never makes up a key of its own).
 */

export interface HostKey {
  /** The key in dropbear's own private key file format, for the guest. */
  dropbearPrivate: Buffer;
  /** The SSH public key blob (what a server presents during key exchange), base64. */
  publicBlob: string;
  /** OpenSSH-style fingerprint of the blob: SHA256:<base64 without padding>. */
  fingerprint: string;
}

function sshString(bytes: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/**
 * An ed25519 host key. dropbear's file format is string("ssh-ed25519") followed
 * by string(32-byte seed || 32-byte public key), so no dropbearkey run on the
 * host is needed.
 */
export function generateHostKey(): HostKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const seed = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const pub = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const type = Buffer.from('ssh-ed25519');
  const blob = Buffer.concat([sshString(type), sshString(pub)]);
  return {
    dropbearPrivate: Buffer.concat([sshString(type), sshString(Buffer.concat([seed, pub]))]),
    publicBlob: blob.toString('base64'),
    fingerprint: fingerprintOf(blob),
  };
}

/** Writes the client key pair (OpenSSH format) as <path> (mode 0600) and <path>.pub; returns the public line. */
export async function writeClientKey(path: string): Promise<string> {
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { comment: 'virtbench' });
  await writeFile(path, pair.private, { mode: 0o600 });
  await writeFile(`${path}.pub`, `${pair.public}\n`, { mode: 0o644 });
  return pair.public;
}

export { fingerprintOf };
