import { mkdir, mkdtemp, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { buildProgram, workloadSource } from '../../src/workloads/build.js';
import { sourceDir } from '../../src/host/paths.js';

describe('building workloads with gcc', () => {
  it('builds a static binary once per source hash and reuses it', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const first = await buildProgram(workloadSource('fork/forksum'), cache);
    const again = await buildProgram(workloadSource('fork/forksum'), cache);
    expect(again).toEqual(first);
    expect((await stat(first.path)).mode & 0o111).not.toBe(0);
    const file = await execa('file', [first.path], { reject: false });
    if (file.exitCode === 0) expect(file.stdout).toMatch(/statically linked/);
    const run = await execa(first.path, ['100', '1000']);
    expect(run.stdout).toMatch(/^RESULT value=[\d.]+ unit=s seconds=[\d.]+ sum=495550 spawned=1800 mode=processes$/);
  });

  it('rebuilds when the source changes', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const source = join(cache, 'tiny.c');
    await writeFile(source, 'int main(void) { return 0; }\n');
    const one = await buildProgram(source, cache);
    await writeFile(source, 'int main(void) { return 1; }\n');
    const two = await buildProgram(source, cache);
    expect(two.hash).not.toBe(one.hash);
    expect((await execa(two.path, [], { reject: false })).exitCode).toBe(1);
  });

  it('rebuilds when a header the source includes changes (the workloads share ../clock.h)', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    await mkdir(join(cache, 'program'));
    const source = join(cache, 'program', 'tiny.c');
    await writeFile(source, '#include "../exit.h"\nint main(void) { return EXIT_WITH; }\n');
    await writeFile(join(cache, 'exit.h'), '#define EXIT_WITH 2\n');
    const one = await buildProgram(source, cache);
    await writeFile(join(cache, 'exit.h'), '#define EXIT_WITH 3\n');
    const two = await buildProgram(source, cache);
    expect(two.hash).not.toBe(one.hash);
    expect((await execa(one.path, [], { reject: false })).exitCode).toBe(2);
    expect((await execa(two.path, [], { reject: false })).exitCode).toBe(3);
  });

  it('links a workload behind an entry wrapper, as a single-application guest needs', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const entry = join(cache, 'entry.c');
    await writeFile(
      entry,
      '#include <stdio.h>\nint workload_main(int, char **);\nint main(int c, char **v) { int s = workload_main(c, v); printf("EXIT %d\\n", s); return 0; }\n',
    );
    const built = await buildProgram(workloadSource('fork/forksum'), cache, { entry });
    expect(built.name).toBe('forksum-entry');
    const run = await execa(built.path, ['--threads', '1', '10']);
    expect(run.stdout).toMatch(/sum=55 .*mode=threads\nEXIT 0$/);
  });

  it('names the source and shows gcc errors when a build fails', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const source = join(cache, 'broken.c');
    await writeFile(source, 'int main(void) { return undefined_symbol; }\n');
    await expect(buildProgram(source, cache)).rejects.toMatchObject({
      code: 'VIRTBENCH_BUILD_FAILED',
      message: expect.stringMatching(/building .*broken\.c failed: .*undefined_symbol/s),
    });
    await expect(buildProgram(join(sourceDir, 'nope.c'), cache)).rejects.toThrow(/cannot read workload source .*nope\.c/);
  });
});
