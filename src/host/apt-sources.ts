import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BuildFailedError } from '../errors.js';

/*
 * The container image and the guest image are built from the same Debian
 * mirror the host's apt uses: no registry is reachable here, and the mirror
 * is a fact of the machine, read at run time (never written into the
 * repository).
 */

export interface AptSource {
  /** e.g. http://<mirror>/debian */
  mirror: string;
  /** e.g. bookworm */
  suite: string;
}

const APT_DIR = '/etc/apt';

/** Entries of one-line sources.list text: `deb [options] URI suite components...`. */
export function parseSourcesList(text: string): AptSource[] {
  const found: AptSource[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/.exec(line);
    if (match) found.push({ mirror: match[1]!, suite: match[2]! });
  }
  return found;
}

/** Entries of deb822 .sources text: stanzas with Types, URIs and Suites fields. */
export function parseDeb822(text: string): AptSource[] {
  const found: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    for (const line of stanza.split('\n')) {
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (match && !line.startsWith('#')) fields.set(match[1]!.toLowerCase(), match[2]!.trim());
    }
    if (!(fields.get('types') ?? '').split(/\s+/).includes('deb')) continue;
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    for (const mirror of (fields.get('uris') ?? '').split(/\s+/).filter(Boolean)) {
      for (const suite of (fields.get('suites') ?? '').split(/\s+/).filter(Boolean)) found.push({ mirror, suite });
    }
  }
  return found;
}

/** The first plain release suite (not -updates, -security, -backports) with an http(s) mirror. */
export function pickSource(sources: readonly AptSource[]): AptSource | undefined {
  return sources.find((s) => /^https?:\/\//.test(s.mirror) && /^[a-z]+$/.test(s.suite));
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export const DEFAULT_SUITE = 'bookworm';

/**
 * Whether the host's apt accepts a Release file past its Valid-Until (a machine pinned to a dated
 * snapshot sets Acquire::Check-Valid-Until "false"), from `apt-config dump`. Only then does an image
 * build relax the check too: elsewhere a replayed old Release file over an http mirror is refused.
 */
export function relaxesValidUntil(aptConfigDump: string): boolean {
  return /^Acquire::Check-Valid-Until\s+"(?:false|no|off|0)";$/im.test(aptConfigDump);
}

/** The Debian archive keyring debootstrap checks the mirror's Release signatures with. */
export const DEBIAN_KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

export interface HostAptSource {
  /** The release mirror; undefined when none is configured (only an image build needs it). */
  mirror?: string;
  /** The release, e.g. bookworm; falls back to bookworm. */
  suite: string;
  /**
   * The sources file apt and mmdebstrap read: the host's file that holds the
   * chosen source (with its -updates and -security entries), or
   * VIRTBENCH_DEBIAN_SOURCES. Undefined when VIRTBENCH_DEBIAN_MIRROR or
   * VIRTBENCH_DEBIAN_SUITE override it: then sourcesListLine() is the source.
   */
  file?: string;
}

function parseFile(path: string): AptSource[] {
  const text = readOr(path);
  return path.endsWith('.sources') ? parseDeb822(text) : parseSourcesList(text);
}

/**
 * The one reader of the host's Debian sources, for every image build: the
 * mirror and release the host's apt uses. Overrides, in this order:
 * VIRTBENCH_DEBIAN_MIRROR and VIRTBENCH_DEBIAN_SUITE (each on its own), and
 * VIRTBENCH_DEBIAN_SOURCES (a sources file read instead of the host's).
 */
export function hostAptSource(env: NodeJS.ProcessEnv = process.env, aptDir = APT_DIR): HostAptSource {
  let files = [join(aptDir, 'sources.list')];
  try {
    files.push(
      ...readdirSync(join(aptDir, 'sources.list.d'))
        .sort()
        .filter((f) => f.endsWith('.sources') || f.endsWith('.list'))
        .map((f) => join(aptDir, 'sources.list.d', f)),
    );
  } catch {
    // no sources.list.d
  }
  if (env.VIRTBENCH_DEBIAN_SOURCES) files = [env.VIRTBENCH_DEBIAN_SOURCES];
  const found = files.map((file) => ({ file, source: pickSource(parseFile(file)) })).find((f) => f.source);
  const mirror = (env.VIRTBENCH_DEBIAN_MIRROR || found?.source?.mirror)?.replace(/\/+$/, '');
  const overridden = Boolean(env.VIRTBENCH_DEBIAN_MIRROR || env.VIRTBENCH_DEBIAN_SUITE);
  return {
    mirror,
    suite: env.VIRTBENCH_DEBIAN_SUITE || found?.source?.suite || DEFAULT_SUITE,
    ...(found && !overridden ? { file: found.file } : {}),
  };
}

/** A one-line sources.list entry for the release: what apt reads when the source was overridden. */
export function sourcesListLine(source: { mirror: string; suite: string }): string {
  return `deb ${source.mirror} ${source.suite} main\n`;
}

export function requireMirror(source: { mirror?: string }, aptDir = APT_DIR): string {
  if (source.mirror) return source.mirror;
  throw new BuildFailedError(
    `no Debian mirror found in ${aptDir}/sources.list or ${aptDir}/sources.list.d to bootstrap the container image from; ` +
      'fix: set VIRTBENCH_DEBIAN_MIRROR to a Debian mirror URL (and VIRTBENCH_DEBIAN_SUITE, e.g. bookworm)',
    { platform: 'docker' },
  );
}
