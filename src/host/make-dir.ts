import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * mkdir -p for paths a user gives (work, report, cache, baseline directories): one component at a
 * time. Node's own `mkdir(path, { recursive: true })` never returns for a path under /proc (it
 * retries the ENOENT there forever), which turned VIRTBENCH_WORK_DIR=/proc/x into a silent hang.
 * A few stat and mkdir calls: synchronous underneath, also where the caller awaits.
 */
export async function makeDirectory(path: string, options: { mode?: number } = {}): Promise<void> {
  makeDirectorySync(path, options);
}

/** makeDirectory, synchronously: for checks at startup, before anything runs. */
export function makeDirectorySync(path: string, options: { mode?: number } = {}): void {
  const missing: string[] = [];
  for (let at = resolve(path); ; at = dirname(at)) {
    const found = statSync(at, { throwIfNoEntry: false });
    if (found) {
      // Shaped as the system's own error (code, syscall, path), which callers report as the user's to fix.
      if (!found.isDirectory())
        throw Object.assign(new Error(`ENOTDIR: not a directory, mkdir '${at}'`), { code: 'ENOTDIR', syscall: 'mkdir', path: at });
      break;
    }
    missing.unshift(at);
    if (dirname(at) === at) break;
  }
  for (const dir of missing) {
    try {
      mkdirSync(dir, { mode: options.mode });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
}
