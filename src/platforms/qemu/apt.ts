import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { BuildFailedError, MissingToolError } from '../../errors.js';
import { hostAptSource, sourcesListLine, type HostAptSource } from '../../host/apt-sources.js';
import { DOWNLOAD_TIMEOUT_MS, TOOL_TIMEOUT_MS, runTool } from './host-tools.js';

/*
 * apt with a private state directory in the cache: package lists are fetched
 * there (no root, the host's lists untouched), while the sources themselves
 * are the host's own apt configuration, read at run time. The mirror is
 * therefore never written down by virtbench.
 */

export interface AptSources {
  /** The sources file apt and mmdebstrap read. */
  file: string;
  /** The guest's release, e.g. bookworm. */
  suite: string;
}

/**
 * The Debian sources of the guest image: the host's sources file, or, when
 * VIRTBENCH_DEBIAN_MIRROR or VIRTBENCH_DEBIAN_SUITE override it, a one-line
 * sources.list written into the private state directory.
 */
export async function aptSources(stateDir: string, source: HostAptSource = hostAptSource()): Promise<AptSources> {
  if (source.file) return { file: source.file, suite: source.suite };
  if (!source.mirror) {
    throw new MissingToolError(
      'no Debian apt sources found in /etc/apt/sources.list or /etc/apt/sources.list.d; the guest image is built from Debian packages; ' +
        'fix: set VIRTBENCH_DEBIAN_SOURCES to a sources file, or VIRTBENCH_DEBIAN_MIRROR to a Debian mirror URL (and VIRTBENCH_DEBIAN_SUITE, e.g. bookworm)',
    );
  }
  await mkdir(stateDir, { recursive: true });
  const file = join(stateDir, 'sources.list');
  await writeFile(file, sourcesListLine({ mirror: source.mirror, suite: source.suite }));
  return { file, suite: source.suite };
}

export interface Apt {
  /** Fetches the package lists into the private state directory. */
  update(): Promise<void>;
  /** Candidate versions, by package name. */
  versions(packages: readonly string[]): Promise<Record<string, string>>;
  /** The versioned kernel image package a metapackage depends on, e.g. linux-image-6.1.0-56-amd64. */
  kernelPackage(metapackage: string): Promise<string>;
  /** Downloads name=version as a .deb into dir; returns the file path. */
  download(name: string, version: string, dir: string): Promise<string>;
}

export async function createApt(stateDir: string, sourcesFile: string): Promise<Apt> {
  await mkdir(join(stateDir, 'lists', 'partial'), { recursive: true });
  await mkdir(join(stateDir, 'cache', 'archives', 'partial'), { recursive: true });
  await mkdir(join(stateDir, 'sources.list.d'), { recursive: true });
  await writeFile(join(stateDir, 'status'), '');
  const options = [
    `Dir::State::Lists=${join(stateDir, 'lists')}`,
    `Dir::State::status=${join(stateDir, 'status')}`,
    `Dir::Cache=${join(stateDir, 'cache')}`,
    `Dir::Etc::SourceList=${sourcesFile}`,
    `Dir::Etc::SourceParts=${join(stateDir, 'sources.list.d')}`,
    'Acquire::Languages=none',
    // Our own build lock serializes builds; apt's locks would need root.
    'Debug::NoLocking=1',
    ...(process.getuid?.() === 0 ? ['APT::Sandbox::User=root'] : []),
  ].flatMap((o) => ['-o', o]);

  // apt-get talks to the mirror; apt-cache only reads the lists fetched into stateDir.
  const mirrorFix =
    `apt fetches from the mirror in ${sourcesFile}: check that it answers (apt-get update with those sources), ` +
    'or set VIRTBENCH_DEBIAN_MIRROR to a nearer mirror, then run again';
  const run = async (tool: 'apt-get' | 'apt-cache', args: string[], what: string, cwd?: string) => {
    const limit = tool === 'apt-get' ? { timeoutMs: DOWNLOAD_TIMEOUT_MS, timeoutFix: mirrorFix } : { timeoutMs: TOOL_TIMEOUT_MS };
    const result = await runTool(
      [tool, ...options, ...args],
      { what: `building the guest image: ${what}`, code: 'VIRTBENCH_BUILD_FAILED', ...limit },
      { cwd },
    );
    return result.stdout;
  };

  return {
    async update() {
      await run('apt-get', ['-q', 'update'], `fetching the package lists of ${sourcesFile}`);
    },
    async versions(packages) {
      const out = await run('apt-cache', ['show', '--no-all-versions', ...packages], 'looking up package versions');
      const found: Record<string, string> = {};
      for (const stanza of out.split(/\n\s*\n/)) {
        const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
        const version = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
        if (name && version && !found[name]) found[name] = version;
      }
      const missing = packages.filter((p) => !found[p]);
      if (missing.length) {
        throw new BuildFailedError(`the Debian sources in ${sourcesFile} have no ${missing.join(', ')}`);
      }
      return found;
    },
    async kernelPackage(metapackage) {
      const out = await run('apt-cache', ['show', '--no-all-versions', metapackage], `looking up ${metapackage}`);
      const name = /^Depends:.*?\b(linux-image-[^\s,(]+)/m.exec(out)?.[1];
      if (!name) throw new BuildFailedError(`cannot tell which kernel ${metapackage} stands for:\n${out}`);
      return name;
    },
    async download(name, version, dir) {
      await run('apt-get', ['-q', 'download', `${name}=${version}`], `downloading ${name}`, dir);
      // apt escapes an epoch's colon in the file name; look the file up rather than guess it.
      const file = (await readdir(dir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
      if (!file) throw new BuildFailedError(`apt-get download ${name}=${version} left no .deb in ${dir}`);
      return join(dir, file);
    },
  };
}
