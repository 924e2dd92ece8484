import { createHmac } from 'node:crypto';

/*
 * OpenSSH's known_hosts, read the way ssh reads it (sshd(8), "SSH_KNOWN_HOSTS
 * FILE FORMAT"): a line is `[marker] patterns keytype key [comment]`; a pattern
 * list is comma-separated, with `*` and `?` wildcards, `!` negation and
 * `[host]:port` for a port other than 22; a hashed entry is
 * `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`. Like ssh (ssh.c lowercases
 * the host it connects to; match.c's match_hostname compares lowercased host
 * and patterns; ssh-keygen -H hashes the lowercased name), names are compared
 * in ASCII lower case: `Lab1.example.com` finds the entry ssh wrote or hashed
 * for it, `[host]:port` included. Keys marked @revoked are
 * refused even where another line accepts them; @cert-authority lines name a
 * CA, which needs certificate checks virtbench does not do: they are reported,
 * never trusted.
 */

export interface KnownHostKeys {
  /** Key blobs (base64) the host may present. */
  accepted: string[];
  /** Key blobs (base64) marked @revoked for the host. */
  revoked: string[];
  /** Whether a @cert-authority line matches the host (not supported: its keys are not accepted). */
  certAuthority: boolean;
}

/** The name known_hosts stores for host:port: the bare host on port 22, "[host]:port" otherwise; lowercased as ssh does. */
export function knownHostsName(host: string, port: number): string {
  const lower = asciiLowerCase(host);
  return port === 22 ? lower : `[${lower}]:${port}`;
}

/** A-Z to a-z and nothing else, as C's tolower() in OpenSSH's lowercase() and match_pattern_list(). */
function asciiLowerCase(text: string): string {
  return text.replace(/[A-Z]/g, (letter) => letter.toLowerCase());
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replace(/\*/g, '.*')
    .replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function hashedMatches(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split('|');
  if (!salt || !hash) return false;
  return createHmac('sha1', Buffer.from(salt, 'base64')).update(asciiLowerCase(name)).digest('base64') === hash;
}

/** Whether a pattern list (one known_hosts field) matches the name: a match of a negated pattern rules it out. */
export function patternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|1|')) return hashedMatches(patterns, name);
  const lowerName = asciiLowerCase(name);
  let matched = false;
  for (const raw of asciiLowerCase(patterns).split(',')) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (!globToRegExp(pattern).test(lowerName)) continue;
    if (negated) return false;
    matched = true;
  }
  return matched;
}

/** The keys a known_hosts text holds for host:port. */
export function knownHostKeys(text: string, host: string, port: number): KnownHostKeys {
  const name = knownHostsName(host, port);
  const found: KnownHostKeys = { accepted: [], revoked: [], certAuthority: false };
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) continue;
    const marker = fields[0]!.startsWith('@') ? fields.shift() : undefined;
    const [patterns, , key] = fields;
    if (!patterns || !key || !patternsMatch(patterns, name)) continue;
    if (marker === '@revoked') found.revoked.push(key);
    else if (marker === '@cert-authority') found.certAuthority = true;
    else if (marker === undefined) found.accepted.push(key);
  }
  found.accepted = found.accepted.filter((key) => !found.revoked.includes(key));
  return found;
}
