import { writeFile } from 'node:fs/promises';
import { runCommand } from './command.js';

/**
 * Writes dirty pages back and drops the host kernel's page cache, so a run
 * reads from the disk and not from memory. False when that is not allowed
 * (not root, a read-only /proc in a sandbox).
 */
export async function dropHostPageCache(): Promise<boolean> {
  const sync = await runCommand(['sync'], { timeoutMs: 120_000 });
  if (sync.exitCode !== 0) return false;
  try {
    await writeFile('/proc/sys/vm/drop_caches', '3\n');
    return true;
  } catch {
    return false;
  }
}
