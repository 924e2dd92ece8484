import { chmod, mkdir, mkdtemp, readdir, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { buildProgram, missingToolchain, workloadSource } from '../../src/workloads/build.js';
import { readElfFacts } from '../../src/workloads/elf.js';
import { sourceDir } from '../../src/host/paths.js';
import { findExecutable } from '../../src/host/process.js';

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

describe('cross-building workloads for aarch64', () => {
  afterEach(() => vi.unstubAllEnvs());
  const cross = missingToolchain('aarch64');

  it.skipIf(cross)('builds a static aarch64 binary (ELF e_machine 183) once, apart from the x86-64 one, and reuses it', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const arm = await buildProgram(workloadSource('fork/forksum'), cache, { arch: 'aarch64' });
    const x86 = await buildProgram(workloadSource('fork/forksum'), cache);
    expect(arm.name).toBe('forksum');
    expect(arm.path).toBe(join(cache, 'bin', `forksum-aarch64-${arm.hash}`));
    expect(arm.hash).not.toBe(x86.hash);
    expect(await readElfFacts(arm.path)).toEqual({ machine: 183, arch: 'aarch64', static: true });
    expect(await readElfFacts(x86.path)).toEqual({ machine: 62, arch: 'x86-64', static: true });
    const built = (await stat(arm.path)).mtimeMs;
    expect(await buildProgram(workloadSource('fork/forksum'), cache, { arch: 'aarch64' })).toEqual(arm);
    expect((await stat(arm.path)).mtimeMs).toBe(built);
    // Where the emulator is installed: the binary computes the same sum as the x86-64 one.
    if (findExecutable('qemu-aarch64')) {
      const run = await execa('qemu-aarch64', [arm.path, '1', '10']);
      expect(run.stdout).toMatch(/sum=55 spawned=18 mode=processes$/);
    }
  });

  it.skipIf(cross)('rebuilds a damaged cached aarch64 binary', async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const arm = await buildProgram(workloadSource('mem/memsweep'), cache, { arch: 'aarch64' });
    await writeFile(arm.path, 'not a binary');
    await chmod(arm.path, 0o755);
    const lines: string[] = [];
    expect(await buildProgram(workloadSource('mem/memsweep'), cache, { arch: 'aarch64', log: (line) => lines.push(line) })).toEqual(arm);
    expect(lines.join('\n')).toMatch(/is damaged/);
    expect(await readElfFacts(arm.path)).toMatchObject({ machine: 183, static: true });
  });

  it('a missing cross compiler fails the build with the packages to install', async () => {
    vi.stubEnv('PATH', '/nonexistent');
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    await expect(buildProgram(workloadSource('fork/forksum'), cache, { arch: 'aarch64' })).rejects.toMatchObject({
      code: 'VIRTBENCH_BUILD_FAILED',
      message: expect.stringMatching(
        /cannot build .*forksum\.c for aarch64: the aarch64 C compiler aarch64-linux-gnu-gcc is not installed\nfix: .*apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross$/,
      ),
    });
  });

  it("a cross compiler that makes another architecture's binary fails the build instead of caching it", async () => {
    const cache = await mkdtemp(join(tmpdir(), 'virtbench-build-'));
    const fakeBin = join(cache, 'fake-bin');
    await mkdir(fakeBin);
    // A "cross compiler" that is the host's gcc: an x86-64 binary under the aarch64 name.
    await writeFile(join(fakeBin, 'aarch64-linux-gnu-gcc'), `#!/bin/sh\nexec ${findExecutable('gcc')} "$@"\n`, { mode: 0o755 });
    vi.stubEnv('PATH', `${fakeBin}:${process.env.PATH}`);
    await expect(buildProgram(workloadSource('fork/forksum'), cache, { arch: 'aarch64' })).rejects.toMatchObject({
      code: 'VIRTBENCH_BUILD_FAILED',
      message: expect.stringMatching(/made a static binary for x86-64, not a static aarch64 one\nfix: /),
    });
    // Nothing cached under the aarch64 name (a scratch directory of a build starts with a dot and is gone too).
    expect((await readdir(join(cache, 'bin'))).filter((f) => f.includes('forksum'))).toEqual([]);
    expect((await readdir(join(cache, 'bin'))).filter((f) => f.startsWith('.build-'))).toEqual([]);
  });
});
