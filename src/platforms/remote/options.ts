import { existsSync, readFileSync } from 'node:fs';
import { homedir, userInfo } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { BadOptionError, VirtbenchError } from '../../errors.js';

/*
 * The remote hosts a run may use, each a platform of its own under its name:
 * virtbench({ remotes: { lab1: { host: '192.0.2.7' } } }), and/or a JSON file
 * of the same shape named by VIRTBENCH_REMOTES (its entries win), so a
 * machine's hosts and keys stay out of a shared config.
 */

/** One remote host, as a user writes it. */
export interface RemoteHostOptions {
  /** Name or address; the host's nginx is downloaded from the address the ssh connection arrives at. */
  host: string;
  /** Default 22. */
  port?: number;
  /** Default: the local user's name, as ssh does. */
  username?: string;
  /** Default: the first of ~/.ssh/id_ed25519, id_ecdsa, id_rsa that exists; else the agent at SSH_AUTH_SOCK. */
  privateKeyPath?: string;
  /** Where the host's key must be listed. Default ~/.ssh/known_hosts. */
  knownHostsPath?: string;
  /** Where the run's private work directory is made on the host: a disk (fio needs O_DIRECT). Default /var/tmp. */
  workRoot?: string;
}

export type RemotesOptions = Readonly<Record<string, RemoteHostOptions>>;

/** A remote with every default filled in. */
export interface RemoteHost {
  name: string;
  host: string;
  port: number;
  username: string;
  /** Unset: the agent. */
  privateKeyPath?: string;
  agent?: string;
  knownHostsPath: string;
  workRoot: string;
}

const KEYS = ['host', 'port', 'username', 'privateKeyPath', 'knownHostsPath', 'workRoot'] as const;
export const REMOTE_NAME = /^[a-z][a-z0-9-]{0,39}$/;

function bad(message: string): VirtbenchError {
  return new BadOptionError(message);
}

function remoteOptionsFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw bad(`VIRTBENCH_REMOTES=${path} cannot be read (${(error as Error).message})\nfix: name a JSON file of remote hosts, or unset it`);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below, with the shape expected
  }
  throw bad(
    `VIRTBENCH_REMOTES=${path} is not a JSON object of remote hosts\nfix: write {"lab1": {"host": "...", "username": "...", "privateKeyPath": "..."}}`,
  );
}

/** Checks the remotes of the option and of VIRTBENCH_REMOTES; names the field and the fix for anything wrong. */
export function validateRemotes(
  value: unknown,
  reserved: readonly string[],
  env: NodeJS.ProcessEnv = process.env,
  baseDir = process.cwd(),
): RemotesOptions {
  if (value !== undefined && (typeof value !== 'object' || value === null || Array.isArray(value))) {
    throw bad(`option "remotes" must map names to hosts, e.g. { lab1: { host: '192.0.2.7' } }, got ${JSON.stringify(value)}`);
  }
  const fromFile = env.VIRTBENCH_REMOTES ? remoteOptionsFile(resolve(baseDir, env.VIRTBENCH_REMOTES)) : {};
  const merged: Record<string, unknown> = { ...(value as Record<string, unknown> | undefined), ...fromFile };
  const remotes: Record<string, RemoteHostOptions> = {};
  for (const [name, entry] of Object.entries(merged)) {
    const where = `remote "${name}"`;
    if (!REMOTE_NAME.test(name)) throw bad(`${where}: a name is lower-case letters, digits and dashes, starting with a letter`);
    if (reserved.includes(name)) throw bad(`${where}: "${name}" is a platform of virtbench's own; name the remote otherwise`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(`${where} must be an object with at least "host"`);
    const fields = entry as Record<string, unknown>;
    const unknown = Object.keys(fields).find((key) => !(KEYS as readonly string[]).includes(key));
    if (unknown) throw bad(`${where}: unknown field "${unknown}"; valid fields: ${KEYS.join(', ')}`);
    if (typeof fields.host !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9.:_-]*$/.test(fields.host)) {
      throw bad(`${where}: "host" must be a host name or address, got ${JSON.stringify(fields.host)}`);
    }
    if (fields.port !== undefined && !(Number.isInteger(fields.port) && (fields.port as number) > 0 && (fields.port as number) < 65536)) {
      throw bad(`${where}: "port" must be a TCP port (1-65535), got ${JSON.stringify(fields.port)}`);
    }
    if (fields.username !== undefined && !(typeof fields.username === 'string' && /^[a-z_][a-z0-9_.-]*\$?$/i.test(fields.username))) {
      throw bad(`${where}: "username" must be a user name, got ${JSON.stringify(fields.username)}`);
    }
    for (const key of ['privateKeyPath', 'knownHostsPath', 'workRoot'] as const) {
      const path = fields[key];
      if (path !== undefined && !(typeof path === 'string' && path !== '')) throw bad(`${where}: "${key}" must be a path`);
    }
    if (fields.workRoot !== undefined && !isAbsolute(fields.workRoot as string)) {
      throw bad(`${where}: "workRoot" is a directory on the remote host and must be absolute, got ${JSON.stringify(fields.workRoot)}`);
    }
    remotes[name] = fields as unknown as RemoteHostOptions;
  }
  return remotes;
}

const DEFAULT_KEYS = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** The remote with ssh's defaults filled in (local paths resolved against the home directory). */
export function resolveRemote(name: string, options: RemoteHostOptions, env: NodeJS.ProcessEnv = process.env): RemoteHost {
  const home = homedir();
  const expand = (path: string) => (path.startsWith('~/') ? join(home, path.slice(2)) : resolve(path));
  const privateKeyPath = options.privateKeyPath
    ? expand(options.privateKeyPath)
    : DEFAULT_KEYS.map((key) => join(home, '.ssh', key)).find((path) => existsSync(path));
  return {
    name,
    host: options.host,
    port: options.port ?? 22,
    username: options.username ?? userInfo().username,
    ...(privateKeyPath ? { privateKeyPath } : env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}),
    knownHostsPath: expand(options.knownHostsPath ?? '~/.ssh/known_hosts'),
    workRoot: options.workRoot ?? '/var/tmp',
  };
}
