import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, describe, expect, it } from 'vitest';
import { createQemuUserPlatform, qemuUserMissing } from '../../src/platforms/qemu-user/index.js';
import type { StartedPlatform } from '../../src/platforms/platform.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { commandWorkload, workloads } from '../../src/workloads/index.js';
import { buildProgram, readElfFacts, workloadSource } from '../../src/workloads/build.js';
import { cacheDir, packageRoot } from '../../src/host/paths.js';
import { expectOwnChecks, platformForFile, processesMentioning } from './helpers.js';

const quick = PROFILES.quick;
const missing = qemuUserMissing();

describe.skipIf(missing)(
  `qemu-user-arm64: aarch64 workloads under qemu-aarch64, quick profile${missing ? ` (skipped: ${missing})` : ''}`,
  () => {
    const log: string[] = [];
    const qemuUser = platformForFile(createQemuUserPlatform, (line) => log.push(line));
    const runOnce = (name: keyof typeof workloads) => qemuUser.runOnce(workloads[name]);
    let platform: StartedPlatform;

    beforeAll(async () => {
      expect(await createQemuUserPlatform().availability()).toEqual({ available: true });
      platform = qemuUser.platform;
    });

    it("records QEMU's version, the emulated CPU and the host kernel; its probe ran", async () => {
      const info = await platform.describe();
      expect(info).toMatchObject({
        arch: 'aarch64',
        emulator: 'qemu-aarch64',
        emulatedCpu: 'max',
        qemu: expect.stringMatching(/^\d+\.\d+/),
      });
      expect(info.kernel).toMatch(/^\d+\.\d+/);
      expect(log.join('\n')).toMatch(/probe run under qemu-aarch64 \d+\.\d+.*: \d+ ms/);
    });

    it.each(['cpu', 'mem', 'fork', 'fork-threads'] as const)(
      "%s: the workload's own check of its result holds under emulation (LINPACK's residual, forksum's sum)",
      async (name) => {
        expectOwnChecks(name, await runOnce(name));
      },
    );

    it("mem: the aarch64 memsweep's checksum is the x86-64 one's", async () => {
      const figure = await runOnce('mem');
      const x86 = await buildProgram(workloadSource('mem/memsweep'), cacheDir());
      const native = await execa(x86.path, [String(quick.mem.bytes), String(quick.mem.passes)]);
      expect(native.stdout).toContain(` checksum=${figure.extra.checksum}`);
    });

    it('runs the aarch64 build of each program: the binary copied in is ELF machine 183, static', async () => {
      const built = await platform.buildProgram!(workloadSource('cpu/linpack'), cacheDir());
      expect(await readElfFacts(built.path)).toEqual({ machine: 183, arch: 'aarch64', static: true });
    });

    it("names why fio, nginx and a script's interpreter cannot run there", () => {
      expect(platform.unsupported?.(workloads['disk-random'])).toMatch(/^fio is an x86-64 program from the host's Debian packages/);
      expect(platform.unsupported?.(workloads.nginx)).toMatch(/^nginx is an x86-64 program/);
      for (const name of ['cpu', 'mem', 'fork', 'fork-threads', 'disk-copyup'] as const)
        expect(platform.unsupported?.(workloads[name])).toBeUndefined();
      const script = commandWorkload({
        name: 'script',
        title: 'a script',
        unit: 's',
        better: 'lower',
        program: { script: join(packageRoot, 'package.json') },
        args: () => [],
        timeoutMs: () => 1_000,
      });
      expect(platform.unsupported?.(script)).toMatch(/#! line.*x86-64 program of the host/);
    });

    it('an x86-64 binary is refused when copied in, with the cause and the fix', async () => {
      const x86 = await buildProgram(workloadSource('fork/forksum'), cacheDir());
      await expect(platform.copyIn(x86.path, 'forksum-x86', { executable: true })).rejects.toMatchObject({
        code: 'VIRTBENCH_WORKLOAD_FAILED',
        message: expect.stringMatching(
          /^\[qemu-user-arm64\] .*forksum-[0-9a-f]+ is an x86-64 binary, not an aarch64 one \(qemu-aarch64: Invalid ELF image for this architecture\)\nfix: build it for aarch64 as a static binary/,
        ),
      });
      expect(existsSync(join(platform.workDir, 'forksum-x86'))).toBe(false);
    });

    it('an x86-64 binary or a script run there directly fails with the cause and the fix in its stderr', async () => {
      const x86 = await buildProgram(workloadSource('fork/forksum'), cacheDir());
      const target = join(platform.workDir, 'sneaked-in');
      await copyFile(x86.path, target);
      const run = await platform.exec([target, '1', '10']);
      expect(run.exitCode).toBe(255);
      expect(run.stderr).toMatch(
        /Invalid ELF image for this architecture\nqemu-user-arm64: .*sneaked-in is an x86-64 binary, not an aarch64 one .*; fix: build it for aarch64/,
      );
      await writeFile(join(platform.workDir, 'script.sh'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
      const script = await platform.exec(['script.sh']);
      expect(script.exitCode).not.toBe(0);
      expect(script.stderr).toMatch(/^qemu-user-arm64: script\.sh is no program qemu-aarch64 can load \(not an ELF file\); fix: /);
      await rm(target);
    });

    it('a run past its time limit is killed with the emulator: no qemu-aarch64 is left', async () => {
      const scratch = await mkdtemp(join(tmpdir(), 'virtbench-qemu-user-'));
      const hold = await platform.buildProgram!(join(packageRoot, 'fixtures/faults/hold.c'), scratch);
      const program = await platform.copyIn(hold.path, 'hold', { executable: true });
      const run = await platform.exec([program, '60'], { timeoutMs: 500 });
      expect(run.timedOut).toBe(true);
      expect(run.wallMs).toBeLessThan(5_000);
      expect(await processesMentioning(program)).toEqual([]);
      await rm(scratch, { recursive: true, force: true });
    });
  },
);

describe.skipIf(missing)('qemu-user-arm64 provisioning', () => {
  it('stop() removes the work directory and is idempotent', async () => {
    const own = await createQemuUserPlatform().provision({ cacheDir: cacheDir(), log: () => {} });
    const dir = String(own.facts.workDir);
    expect(existsSync(dir)).toBe(true);
    await own.stop();
    await own.stop();
    expect(existsSync(dir)).toBe(false);
  });
});
