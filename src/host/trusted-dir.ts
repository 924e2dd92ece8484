import { lstat, readlink, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { BadOptionError, VirtbenchError, isVirtbenchError } from '../errors.js';
import { makeDirectory } from './make-dir.js';

/*
 * Cached binaries and images are trusted by their names and then run, usually
 * as root. That is safe only if no other user can write where they live: the
 * cache directory, and every directory on the way to it (whoever can write
 * /home/alice can move .cache aside and put their own in its place), including
 * the directories that hold a symbolic link followed on the way.
 */

/** What the rule needs to know of one path, from lstat. */
export interface PathFacts {
  path: string;
  /** The owner. */
  uid: number;
  /** st_mode: file type and permission bits. */
  mode: number;
  isDirectory: boolean;
  /** A symbolic link followed on the way to the directory. */
  isSymlink?: boolean;
}

export interface TrustViolation {
  path: string;
  uid: number;
  mode: number;
  /** What is wrong with it, to follow its name: "is writable by others". */
  problem: string;
  fix: string;
}

const GROUP_OR_OTHER_WRITE = 0o022;
const STICKY = 0o1000;
const ROOT = 0;

/** Permission bits in octal as ls -l users write them: 0755, 1777. */
export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

function writers(mode: number): string {
  if ((mode & GROUP_OR_OTHER_WRITE) === GROUP_OR_OTHER_WRITE) return 'its group and others';
  return mode & 0o020 ? 'its group' : 'others';
}

const OWN_DIRECTORY = (uid: number) =>
  uid === ROOT
    ? "set VIRTBENCH_CACHE_DIR to a directory only root can write, such as /var/cache/virtbench (under sudo -E, HOME and so ~/.cache are still the invoking user's: use sudo -H)"
    : 'set VIRTBENCH_CACHE_DIR to a directory only you can write';

/** Why one path on the way, or the directory itself (`isTarget`), cannot be trusted; undefined when it can. */
function violationOf(fact: PathFacts, uid: number, isTarget: boolean): TrustViolation | undefined {
  const found = (problem: string, fix: string): TrustViolation => ({ path: fact.path, uid: fact.uid, mode: fact.mode, problem, fix });
  if (fact.uid !== uid && fact.uid !== ROOT) {
    const owner = uid === ROOT ? 'does not belong to root' : `belongs to neither you (uid ${uid}) nor root`;
    // Taking another user's directory on the way (their home) away from them is no fix; the cache directory itself can be.
    const fix = isTarget
      ? `chown ${uid === ROOT ? 'root' : uid}: ${fact.path} && chmod go-w ${fact.path}, or ${OWN_DIRECTORY(uid)}`
      : OWN_DIRECTORY(uid);
    return found(owner, fix);
  }
  // A link can only be replaced, by whoever can write its directory (checked as a directory on the way) or,
  // in a sticky directory, by its owner (checked above); its own mode means nothing.
  if (fact.isSymlink) return undefined;
  if (!fact.isDirectory) return found('is not a directory', OWN_DIRECTORY(uid));
  if ((fact.mode & GROUP_OR_OTHER_WRITE) === 0) return undefined;
  // A sticky directory (/tmp) keeps others from renaming what is not theirs: fine on the way, not as the cache
  // itself, where others could still create the names of binaries and images before virtbench does.
  if (!isTarget && fact.mode & STICKY) return undefined;
  if (fact.mode & STICKY) {
    return found(
      `is writable by ${writers(fact.mode)} (the sticky bit does not stop them from creating a cached file's name first)`,
      `set VIRTBENCH_CACHE_DIR to a directory of its own, such as ${join(fact.path, 'virtbench')}, which virtbench creates with mode 0700`,
    );
  }
  return found(`is writable by ${writers(fact.mode)}`, `chmod go-w ${fact.path}, or ${OWN_DIRECTORY(uid)}`);
}

/**
 * The first path of a lookup chain (lookupChain: the directories on the way, the links followed, the directory
 * itself last) that a user other than `uid` and root could change; undefined when there is none. With
 * `ancestorsOnly`, the last path is a directory on the way too (the nearest existing one, before creating the rest).
 */
export function trustViolation(
  chain: readonly PathFacts[],
  uid: number,
  { ancestorsOnly = false }: { ancestorsOnly?: boolean } = {},
): TrustViolation | undefined {
  for (const [index, fact] of chain.entries()) {
    const violation = violationOf(fact, uid, !ancestorsOnly && index === chain.length - 1);
    if (violation) return violation;
  }
  return undefined;
}

/** Why a cached file must not be run, or undefined: it must be a regular file of `uid` or root that no one else can write. */
export function untrustedFileReason(fact: PathFacts, uid: number): string | undefined {
  const what = `${fact.path} (owner uid ${fact.uid}, mode ${octalMode(fact.mode)})`;
  if (fact.isSymlink || fact.isDirectory || (fact.mode & 0o170000) !== 0o100000) return `${what} is not a regular file`;
  if (fact.uid !== uid && fact.uid !== ROOT) return `${what} belongs to another user`;
  if (fact.mode & GROUP_OR_OTHER_WRITE) return `${what} is writable by ${writers(fact.mode)}`;
  return undefined;
}

/** The error for a directory whose chain someone else can change: the path at fault, its owner and mode, why, the fix. */
export function untrustedDirectoryError(directory: string, violation: TrustViolation, uid: number): VirtbenchError {
  const runAs = uid === ROOT ? 'root' : 'you';
  return new BadOptionError(
    `cannot trust the cache directory ${directory}: ${violation.path} (owner uid ${violation.uid}, mode ${octalMode(violation.mode)}) ` +
      `${violation.problem}; another user could replace a cached binary that virtbench then runs as ${runAs}\nfix: ${violation.fix}`,
  );
}

export async function pathFacts(path: string): Promise<PathFacts> {
  const stats = await lstat(path);
  return { path, uid: stats.uid, mode: stats.mode, isDirectory: stats.isDirectory(), isSymlink: stats.isSymbolicLink() };
}

/** Linux's limit on links followed in one lookup. */
const MAX_LINKS = 40;

/**
 * Every path a lookup of `path` passes, in order: each directory a name is looked up in, each link followed,
 * and last the real directory it ends at. Like realpath, but keeping the way: a link in a directory others can
 * write (/tmp/shared/cache -> /root/cache) is as unsafe as that directory, though its target is not.
 */
export async function lookupChain(path: string): Promise<PathFacts[]> {
  const chain = new Map<string, PathFacts>();
  const add = async (p: string) => {
    if (!chain.has(p)) chain.set(p, await pathFacts(p));
  };
  // Lexically normalised first, as cacheDir() and every join() on it are; ".." inside a link's target is physical.
  let pending = resolve(path).split('/').filter(Boolean);
  let current = '/';
  let links = 0;
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name === '.') continue;
    if (name === '..') {
      current = dirname(current);
      continue;
    }
    await add(current);
    const next = join(current, name);
    const facts = await pathFacts(next);
    if (!facts.isSymlink) {
      current = next;
      continue;
    }
    if (++links > MAX_LINKS) throw Object.assign(new Error(`too many symbolic links resolving ${path}`), { code: 'ELOOP' });
    chain.set(next, facts);
    const target = await readlink(next);
    if (target.startsWith('/')) current = '/';
    pending = [...target.split('/').filter(Boolean), ...pending];
  }
  chain.delete(current);
  return [...chain.values(), await pathFacts(current)];
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

function cannotCheck(path: string, cause: unknown, uid: number): VirtbenchError {
  return new BadOptionError(`cannot create or check the cache directory ${path}: ${(cause as Error).message}\nfix: ${OWN_DIRECTORY(uid)}`, {
    cause,
  });
}

async function checkDirectory(path: string, uid: number): Promise<void> {
  let chain: PathFacts[];
  try {
    let existing = path;
    while (!(await exists(existing)) && existing !== '/') existing = dirname(existing);
    if (existing !== path) {
      // Check the way before creating anything on it: as root follows whatever links others planted.
      const violation = trustViolation(await lookupChain(existing), uid, { ancestorsOnly: true });
      if (violation) throw untrustedDirectoryError(path, violation, uid);
      // Created private: mode applies to every component mkdir creates.
      await makeDirectory(path, { mode: 0o700 });
    }
    chain = await lookupChain(path);
  } catch (error) {
    throw isVirtbenchError(error) ? error : cannotCheck(path, error, uid);
  }
  const violation = trustViolation(chain, uid);
  if (violation) throw untrustedDirectoryError(path, violation, uid);
}

const checked = new Map<string, Promise<void>>();

/**
 * Creates `path` if missing (mode 0700), then makes sure that no user but `uid` and root can change it or any
 * directory or link on the way to it; VIRTBENCH_BAD_OPTION otherwise. Checked once per process and path.
 */
export function ensureTrustedDirectory(path: string, uid: number = process.geteuid?.() ?? ROOT): Promise<void> {
  const absolute = resolve(path);
  const key = `${uid}:${absolute}`;
  let check = checked.get(key);
  if (!check) {
    check = checkDirectory(absolute, uid);
    checked.set(key, check);
    // A refusal is not remembered: once the directory is fixed, the next run in this process (an IDE rerun) passes.
    check.catch(() => checked.delete(key));
  }
  return check;
}
