import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { questionsFor, requirementsOf } from '../../src/platforms/index.js';
import { emulatedArgv, parseEmulatorVersion, unsupportedWorkload, wrongProgram } from '../../src/platforms/qemu-user/emulator.js';
import { qemuUserMissing } from '../../src/platforms/qemu-user/index.js';
import { commandWorkload, workloads } from '../../src/workloads/index.js';

describe('qemu-user-arm64: the pure parts', () => {
  it('runs a program as qemu-aarch64 -cpu max <program> <args>, never through a shell', () => {
    expect(emulatedArgv(['/w/linpack-abc', '100', '100', '0.05'])).toEqual([
      'qemu-aarch64',
      '-cpu',
      'max',
      '/w/linpack-abc',
      '100',
      '100',
      '0.05',
    ]);
    expect(emulatedArgv(['./a b; rm -rf /'], 'cortex-a72')).toEqual(['qemu-aarch64', '-cpu', 'cortex-a72', './a b; rm -rf /']);
    expect(() => emulatedArgv([])).toThrow(/no program/);
  });

  it("reads QEMU's version from qemu-aarch64 --version", () => {
    const debian =
      'qemu-aarch64 version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nCopyright (c) 2003-2022 Fabrice Bellard and the QEMU Project developers\n';
    expect(parseEmulatorVersion(debian)).toBe('7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)');
    expect(parseEmulatorVersion('qemu-aarch64 version 9.1.0\n')).toBe('9.1.0');
    expect(parseEmulatorVersion('QEMU emulator version 7.2.22\n')).toBeUndefined();
  });

  it('tells why a file cannot run under qemu-aarch64: another architecture, dynamic linking, no ELF', () => {
    expect(wrongProgram({ machine: 183, arch: 'aarch64', static: true })).toBeUndefined();
    expect(wrongProgram({ machine: 62, arch: 'x86-64', static: true })).toMatch(
      /^is an x86-64 binary, not an aarch64 one \(qemu-aarch64: Invalid ELF image/,
    );
    expect(wrongProgram({ machine: 243, static: true })).toMatch(/^is an ELF machine 243 binary, not an aarch64 one/);
    expect(wrongProgram({ machine: 183, arch: 'aarch64', static: false })).toMatch(/^is dynamically linked: .*arm64 root file system/);
    expect(wrongProgram('not an ELF file')).toBe('is no program qemu-aarch64 can load (not an ELF file)');
  });

  it('runs our C workloads; fio, nginx and scripts are n/a with the reason', () => {
    for (const name of ['cpu', 'mem', 'fork', 'fork-threads', 'disk-copyup'] as const)
      expect(unsupportedWorkload(workloads[name])).toBeUndefined();
    expect(unsupportedWorkload(workloads['disk-random'])).toMatch(/^fio is an x86-64 program .*an arm64 container\)$/);
    expect(unsupportedWorkload(workloads.nginx)).toMatch(/^nginx is an x86-64 program/);
    const script = commandWorkload({
      name: 's',
      title: 's',
      unit: 's',
      better: 'lower',
      program: { script: '/x.sh' },
      args: () => [],
      timeoutMs: () => 1,
    });
    expect(unsupportedWorkload(script)).toMatch(/interpreter/);
  });

  it('is skipped with a one-line reason and the fix when the emulator or the cross compiler is missing', async () => {
    const bin = await mkdtemp(join(tmpdir(), 'virtbench-path-'));
    expect(qemuUserMissing({ PATH: bin })).toBe(
      'qemu-aarch64 (QEMU user-mode emulation) is not installed; fix: npx virtbench setup --install (as root), or apt-get install qemu-user',
    );
    await writeFile(join(bin, 'qemu-aarch64'), '#!/bin/sh\n', { mode: 0o755 });
    expect(qemuUserMissing({ PATH: bin })).toBe(
      'the aarch64 C compiler aarch64-linux-gnu-gcc is not installed, which builds the workloads for aarch64; fix: npx virtbench setup --install (as root), or apt-get install gcc-aarch64-linux-gnu libc6-dev-arm64-cross',
    );
    await writeFile(join(bin, 'aarch64-linux-gnu-gcc'), '#!/bin/sh\n', { mode: 0o755 });
    expect(qemuUserMissing({ PATH: bin })).toBeUndefined();
  });

  it('declares its packages for virtbench setup, and its question against native and qemu-tcg', () => {
    expect(requirementsOf('qemu-user-arm64').packages).toEqual([
      'gcc',
      'libc6-dev',
      'qemu-user',
      'gcc-aarch64-linux-gnu',
      'libc6-dev-arm64-cross',
    ]);
    const benchmarks = ['cpu', 'mem', 'fork', 'fork-threads'];
    expect(questionsFor(['native', 'qemu-tcg', 'qemu-user-arm64'])).toContainEqual({
      question: 'What does emulating another architecture cost, beside full-system TCG?',
      comparisons: [
        { platform: 'qemu-user-arm64', against: 'native', benchmarks },
        { platform: 'qemu-user-arm64', against: 'qemu-tcg', benchmarks },
      ],
    });
    expect(questionsFor(['native', 'qemu-user-arm64']).find((q) => q.question.startsWith('What does emulating'))?.comparisons).toHaveLength(
      1,
    );
  });
});
