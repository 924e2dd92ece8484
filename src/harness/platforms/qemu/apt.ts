import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { VirtbenchError } from '../../../errors.js';
import { parseDeb822, parseSourcesList, pickSource } from '../../host/apt-sources.js';
import { runTool } from './run-tool.js';

/*
 * apt with a private state directory in the cache: package lists are fetched
 * there (no root, the host's lists untouched), while the sources themselves
 * are the host's own apt configuration, read at run time. The mirror is
 * therefore never written down by virtbench.
 */

/** The host's Debian sources: $VIRTBENCH_DEBIAN_SOURCES, else the deb822 file, else sources.list. */
export function hostSourcesFile(env: NodeJS.ProcessEnv = process.env): string {
  const candidates = [env.VIRTBENCH_DEBIAN_SOURCES, '/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  for (const file of candidates) if (file && existsSync(file) && parseSuite(readFileSync(file, 'utf8'))) return file;
  throw new VirtbenchError(
    'VIRTBENCH_MISSING_TOOL',
    'no Debian apt sources found (looked at /etc/apt/sources.list.d/debian.sources and /etc/apt/sources.list); the guest image is built from Debian packages: point VIRTBENCH_DEBIAN_SOURCES at a sources file',
  );
}

/** The release a sources file names (deb822 or one-line; not -updates or -security): the guest's release. */
export function parseSuite(text: string): string | undefined {
  return pickSource([...parseDeb822(text), ...parseSourcesList(text)])?.suite;
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

  const run = (tool: string, args: string[], cwd?: string) => runTool(tool, [...options, ...args], { cwd, code: 'VIRTBENCH_BUILD_FAILED' });

  return {
    async update() {
      await run('apt-get', ['-q', 'update']);
    },
    async versions(packages) {
      const out = await run('apt-cache', ['show', '--no-all-versions', ...packages]);
      const found: Record<string, string> = {};
      for (const stanza of out.split(/\n\s*\n/)) {
        const name = /^Package:\s*(\S+)/m.exec(stanza)?.[1];
        const version = /^Version:\s*(\S+)/m.exec(stanza)?.[1];
        if (name && version && !found[name]) found[name] = version;
      }
      const missing = packages.filter((p) => !found[p]);
      if (missing.length) throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `the Debian sources in ${sourcesFile} have no ${missing.join(', ')}`);
      return found;
    },
    async kernelPackage(metapackage) {
      const out = await run('apt-cache', ['show', '--no-all-versions', metapackage]);
      const name = /^Depends:.*?\b(linux-image-[^\s,(]+)/m.exec(out)?.[1];
      if (!name) throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `cannot tell which kernel ${metapackage} stands for:\n${out}`);
      return name;
    },
    async download(name, version, dir) {
      await run('apt-get', ['-q', 'download', `${name}=${version}`], dir);
      // apt escapes an epoch's colon in the file name; look the file up rather than guess it.
      const file = (await readdir(dir)).find((f) => f.startsWith(`${name}_`) && f.endsWith('.deb'));
      if (!file) throw new VirtbenchError('VIRTBENCH_BUILD_FAILED', `apt-get download ${name}=${version} left no .deb in ${dir}`);
      return join(dir, file);
    },
  };
}
