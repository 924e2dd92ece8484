import { VirtbenchError } from '../errors.js';
import { RESULTS_SCHEMA, type ResultsFile } from '../results/schema.js';

/**
 * Combines results from several machines or CI shards into one file. A
 * platform that appears in more than one file is qualified by the host it
 * ran on ("native@build-2"), so nothing is silently overwritten.
 */
export function mergeResults(files: readonly { path: string; file: ResultsFile }[]): ResultsFile {
  if (files.length === 0) throw new VirtbenchError('VIRTBENCH_BAD_OPTION', 'merge needs at least one results file');
  // The same file twice would double its results under "#1" and "#2" names, as if two machines had run them.
  const paths = files.map((f) => f.path);
  const repeated = paths.find((path, i) => paths.indexOf(path) !== i);
  if (repeated !== undefined) {
    throw new VirtbenchError('VIRTBENCH_BAD_OPTION', `${repeated} is given twice\nfix: name each results file once`);
  }
  const seenIn = new Map<string, number>(); // platform -> how many files have it
  for (const { file } of files) for (const p of new Set(file.results.map((r) => r.platform))) seenIn.set(p, (seenIn.get(p) ?? 0) + 1);

  const hosts = files.map(({ file }) => String(file.environment.host.hostname ?? 'unknown'));
  const qualify = (platform: string, index: number) => {
    if ((seenIn.get(platform) ?? 0) < 2) return platform;
    const host = hosts[index]!;
    // Same host twice (two shards of one machine): fall back to the file's position.
    return hosts.filter((h) => h === host).length > 1 ? `${platform}@${host}#${index + 1}` : `${platform}@${host}`;
  };

  const profiles = [...new Set(files.map(({ file }) => file.profile))];
  const merged: ResultsFile = {
    schema: RESULTS_SCHEMA,
    createdAt: new Date().toISOString(),
    profile: profiles.join('+'),
    environment: { host: { ...files[0]!.file.environment.host, mergedFrom: files.map((f) => f.path).join(', ') }, platforms: {} },
    results: [],
  };
  files.forEach(({ file }, index) => {
    for (const result of file.results) merged.results.push({ ...result, platform: qualify(result.platform, index) });
    for (const [platform, info] of Object.entries(file.environment.platforms)) {
      merged.environment.platforms[qualify(platform, index)] = { ...info, host: hosts[index]! };
    }
  });
  return merged;
}
