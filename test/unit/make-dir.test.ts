import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirectory } from '../../src/host/make-dir.js';

describe('makeDirectory', () => {
  it('makes every missing component, with the mode asked for, and accepts an existing directory', async () => {
    const root = mkdtempSync(join(tmpdir(), 'virtbench-mkdir-'));
    await makeDirectory(join(root, 'a', 'b', 'c'), { mode: 0o700 });
    expect(statSync(join(root, 'a', 'b', 'c')).isDirectory()).toBe(true);
    expect(statSync(join(root, 'a')).mode & 0o777).toBe(0o700);
    await expect(makeDirectory(join(root, 'a', 'b'))).resolves.toBeUndefined();
  });

  it("fails at once where a directory cannot be made (under /proc, where Node's recursive mkdir never returns)", async () => {
    await expect(makeDirectory('/proc/virtbench-nowhere/x')).rejects.toMatchObject({ code: 'ENOENT' });
  }, 2_000);

  it('fails with ENOTDIR when a file is in the way', async () => {
    const root = mkdtempSync(join(tmpdir(), 'virtbench-mkdir-'));
    writeFileSync(join(root, 'file'), '');
    await expect(makeDirectory(join(root, 'file', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
  });
});
