import { BadOptionError } from '../errors.js';
import { nameRecord } from '../host/name-keys.js';
import { isStandIn, RESULTS_SCHEMA, type ResultsFile } from './schema.js';

/**
 * Combines results from several machines or CI shards into one file. A
 * platform that appears in more than one file is qualified by the machine it
 * ran on: its class (VIRTBENCH_MACHINE, "native@metal-kvm") or else its host
 * name ("native@build-2"), so nothing is silently overwritten. A stand-in
 * (another platform's figure, see BenchmarkResult.standIn) is no result of
 * its platform's own: where another file measured that platform and
 * benchmark, the measured result is kept and the stand-in dropped.
 */
export function mergeResults(files: readonly { path: string; file: ResultsFile }[]): ResultsFile {
  if (files.length === 0) throw new BadOptionError('merge needs at least one results file');
  // The same file twice would double its results under "#1" and "#2" names, as if two machines had run them.
  const paths = files.map((f) => f.path);
  const repeated = paths.find((path, i) => paths.indexOf(path) !== i);
  if (repeated !== undefined) {
    throw new BadOptionError(`${repeated} is given twice\nfix: name each results file once`);
  }
  // Platform -> how many files have results of its own: a file with only stand-ins for it (another platform's
  // figures) does not make it a second machine's platform, so its stand-ins join the platform measured elsewhere.
  const seenIn = new Map<string, number>();
  for (const { file } of files) {
    for (const p of new Set(file.results.filter((r) => !isStandIn(r)).map((r) => r.platform))) seenIn.set(p, (seenIn.get(p) ?? 0) + 1);
  }

  const hosts = files.map(({ file }) => String(file.environment.host.machine ?? file.environment.host.hostname ?? 'unknown'));
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
    environment: { host: { ...files[0]!.file.environment.host, mergedFrom: files.map((f) => f.path).join(', ') }, platforms: nameRecord() },
    results: [],
  };
  const at = new Map<string, number>(); // platform and benchmark -> index in merged.results
  files.forEach(({ file }, index) => {
    for (const result of file.results) {
      // A stand-in names a platform of its own file: qualified alike, it still finds that file's figure.
      const row = { ...result, platform: qualify(result.platform, index) };
      if (isStandIn(result)) row.standIn = qualify(result.standIn, index);
      const key = `${row.platform}\u0000${row.benchmark}`;
      const earlier = at.get(key);
      if (earlier === undefined) {
        at.set(key, merged.results.push(row) - 1);
      } else if (isStandIn(merged.results[earlier]!) && !isStandIn(row)) {
        merged.results[earlier] = row; // the measured result wins over another run's stand-in
      }
      // Else a stand-in after the measured result, or a second stand-in: the first is kept.
    }
    for (const [platform, info] of Object.entries(file.environment.platforms)) {
      const name = qualify(platform, index);
      // The facts of a file that measured the platform, not of one that only showed another's figure for it.
      const measuredHere = file.results.some((r) => r.platform === platform && !isStandIn(r));
      // Platform names as own keys of a record without a prototype: "__proto__" or "constructor" is a platform like any other.
      if (measuredHere || !Object.hasOwn(merged.environment.platforms, name))
        merged.environment.platforms[name] = { ...info, host: hosts[index]! };
    }
  });
  return merged;
}
