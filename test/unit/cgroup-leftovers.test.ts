import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { libpodCgroupDirs, removeLibpodCgroupsSync } from '../../src/platforms/docker/cgroup-leftovers.js';

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const ours = 'a'.repeat(64);
const theirs = 'b'.repeat(64);

/** A cgroup tree of a hybrid host: one hierarchy per controller, each with libpod_parent. */
function hybridTree(): string {
  const root = mkdtempSync(join(tmpdir(), 'virtbench-cgroups-'));
  roots.push(root);
  for (const hierarchy of ['cpu', 'memory', 'unified']) {
    mkdirSync(join(root, hierarchy, 'libpod_parent', `libpod-${ours}`, 'child'), { recursive: true });
    mkdirSync(join(root, hierarchy, 'libpod_parent', `libpod-${theirs}`), { recursive: true });
  }
  return root;
}

describe("a Podman container's leftover cgroups", () => {
  it("removes that container's empty cgroups in every hierarchy, children first, and nobody else's", () => {
    const root = hybridTree();
    expect(libpodCgroupDirs(ours, root)).toEqual(
      ['cpu', 'memory', 'unified'].flatMap((h) => [
        join(root, h, 'libpod_parent', `libpod-${ours}`, 'child'),
        join(root, h, 'libpod_parent', `libpod-${ours}`),
      ]),
    );
    removeLibpodCgroupsSync(ours, root);
    for (const h of ['cpu', 'memory', 'unified']) {
      expect(existsSync(join(root, h, 'libpod_parent', `libpod-${ours}`))).toBe(false);
      expect(existsSync(join(root, h, 'libpod_parent', `libpod-${theirs}`))).toBe(true);
    }
  });

  it('leaves a cgroup that refuses removal (in use) and goes on with the others', () => {
    const root = hybridTree();
    // A directory that cannot be removed, as a cgroup with processes in it cannot.
    writeFileSync(join(root, 'memory', 'libpod_parent', `libpod-${ours}`, 'child', 'in-use'), '');
    removeLibpodCgroupsSync(ours, root);
    expect(existsSync(join(root, 'memory', 'libpod_parent', `libpod-${ours}`, 'child'))).toBe(true);
    expect(existsSync(join(root, 'cpu', 'libpod_parent', `libpod-${ours}`))).toBe(false);
  });

  it('never takes a name that is not a container id (a path, a glob)', () => {
    const root = hybridTree();
    expect(libpodCgroupDirs('../cpu', root)).toEqual([]);
    expect(libpodCgroupDirs('*', root)).toEqual([]);
  });
});
