import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { stopOnce } from '../../src/host/stop-once.js';
import { createdSharedDirs, recordSharedDirs, removeSharedDirs, type SharedDirs } from '../../src/platforms/docker/shared-dirs.js';

describe('stopOnce: a teardown by stop() or by the exit handler, once', () => {
  function counted(stopMs = 0) {
    const calls = { stop: 0, stopSync: 0 };
    const teardown = stopOnce({
      stop: async () => {
        calls.stop += 1;
        await new Promise((resolve) => setTimeout(resolve, stopMs));
      },
      stopSync: () => {
        calls.stopSync += 1;
      },
    });
    return { calls, teardown };
  }

  it('runs stop once for concurrent and later callers, and then no exit-handler stop', async () => {
    const { calls, teardown } = counted(20);
    await Promise.all([teardown.stop(), teardown.stop()]);
    await teardown.stop();
    teardown.stopSync();
    expect(calls).toEqual({ stop: 1, stopSync: 0 });
  });

  it('runs the exit-handler stop once, and no async stop after it', async () => {
    const { calls, teardown } = counted();
    teardown.stopSync();
    teardown.stopSync();
    await teardown.stop();
    expect(calls).toEqual({ stop: 0, stopSync: 1 });
  });

  it('runs the exit-handler stop too when the process exits during an async stop: nothing half-stopped is left', async () => {
    const { calls, teardown } = counted(50);
    const stopping = teardown.stop();
    teardown.stopSync();
    teardown.stopSync();
    await stopping;
    expect(calls).toEqual({ stop: 1, stopSync: 1 });
  });
});

describe("an engine's shared directories: removed again only when its start created them", () => {
  let root: string;
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('removes what the start created, with its known files, once empty; keeps what was there and what others use', () => {
    root = mkdtempSync(join(tmpdir(), 'virtbench-shared-dirs-'));
    const dir = (name: string) => join(root, name);
    mkdirSync(dir('existing'));
    const shared: SharedDirs = {
      dirs: [dir('lib/cache'), dir('lib'), dir('existing'), dir('in-use')],
      files: { [dir('lib/cache')]: ['blob.db'] },
      record: dir('created.json'),
    };
    recordSharedDirs(shared);
    // The engine runs: it creates its directories, and another engine puts a file in one of them.
    mkdirSync(dir('lib/cache'), { recursive: true });
    writeFileSync(join(dir('lib/cache'), 'blob.db'), '');
    mkdirSync(dir('in-use'));
    writeFileSync(join(dir('in-use'), 'theirs'), '');
    expect(createdSharedDirs(shared)).toEqual([dir('lib/cache'), dir('lib'), dir('in-use')]);
    removeSharedDirs(shared, createdSharedDirs(shared));
    expect([dir('lib/cache'), dir('lib'), dir('existing'), dir('in-use')].map(existsSync)).toEqual([false, false, true, true]);
  });

  it('removes nothing when the engine never started (no record)', () => {
    root = mkdtempSync(join(tmpdir(), 'virtbench-shared-dirs-'));
    expect(createdSharedDirs({ dirs: [root], record: join(root, 'none.json') })).toEqual([]);
  });
});
