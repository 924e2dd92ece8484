import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Directories an engine creates outside its own whatever its flags say (dockerd's /run/docker, Podman's
 * /var/lib/cni...), deepest first, with files it leaves in them. The start records which did not exist
 * before; the teardown removes those again when they are empty, and never one that was there before.
 */
export interface SharedDirs {
  readonly dirs: readonly string[];
  /** Files the engine leaves in a directory, removed with it. */
  readonly files?: Readonly<Record<string, readonly string[]>>;
  /** Where the start records the directories it is about to create (in the engine's run directory). */
  readonly record: string;
}

/** Before the engine starts: which of the directories it would create. */
export function recordSharedDirs(shared: SharedDirs): void {
  writeFileSync(shared.record, JSON.stringify(shared.dirs.filter((dir) => !existsSync(dir))));
}

/** The directories the start recorded; none when it never started (or predates the record). */
export function createdSharedDirs(shared: SharedDirs): string[] {
  try {
    const created = JSON.parse(readFileSync(shared.record, 'utf8')) as unknown;
    return Array.isArray(created) ? shared.dirs.filter((dir) => created.includes(dir)) : [];
  } catch {
    return [];
  }
}

/** Removes each created directory (and its known files) that is now empty; one in use by another engine stays. */
export function removeSharedDirs(shared: SharedDirs, created: readonly string[]): void {
  for (const dir of created) {
    for (const file of shared.files?.[dir] ?? []) rmSync(join(dir, file), { force: true });
    try {
      if (readdirSync(dir).length === 0) rmdirSync(dir);
    } catch {
      // gone already, or in use by another engine
    }
  }
}
