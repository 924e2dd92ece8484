import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, workloadSource } from '../../src/workloads/build.js';
import { cacheDir, sourceDir } from '../../src/host/paths.js';
import type { Provisioned, StartedPlatform } from '../../src/platforms/platform.js';
import { createUnikernelPlatform } from '../../src/platforms/unikernel/index.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { workloads } from '../../src/workloads/index.js';
import { processesMentioning } from './helpers.js';
import { join } from 'node:path';

const qemu = await execa('qemu-system-x86_64', ['--version'], { reject: false });
const reason = qemu.exitCode === 0 ? '' : ' (skipped: qemu-system-x86_64 not installed; fix: npx virtbench setup --install, as root)';

describe.skipIf(qemu.exitCode !== 0)(`unikernel platform: one boot per run, quick profile${reason}`, () => {
  let provisioned: Provisioned;
  let platform: StartedPlatform;
  const log: string[] = [];

  beforeAll(async () => {
    const unikernel = createUnikernelPlatform();
    provisioned = await unikernel.provision({ cacheDir: cacheDir(), log: (line) => log.push(line) });
    platform = await unikernel.connect(provisioned.facts);
  }, 900_000);

  afterAll(async () => {
    await platform?.close();
    await provisioned?.stop();
  });

  it('boots once at provisioning and reports how long boot-to-result took', async () => {
    const info = await platform.describe();
    expect(info).toMatchObject({
      mode: 'single-application guest (the workload is /init)',
      machine: 'pc',
      accelerator: expect.stringMatching(/^(kvm|tcg)$/),
    });
    expect(Number(info.probeBootToResultMs)).toBeGreaterThan(0);
    expect(log.join('\n')).toMatch(/probe boot: result after \d+ ms/);
  });

  it.each(['cpu', 'mem', 'fork-threads'] as const)('%s runs as the only program of a guest', async (name) => {
    const prepared = await prepareWorkload(platform, workloads[name], PROFILES.quick, { cacheDir: cacheDir() });
    const figure = await prepared.runOnce();
    expect(figure.value).toBeGreaterThan(0);
    if (name === 'fork-threads') expect(figure.extra).toMatchObject({ mode: 'threads', sum: (64 * 65) / 2 });
    if (name === 'cpu') expect(Number(figure.extra.residual)).toBeLessThan(100);
  });

  it('names why fork, disk-random and nginx cannot run there', () => {
    expect(platform.unsupported?.(workloads.fork)).toMatch(/no fork\(\).*fork-threads/);
    expect(platform.unsupported?.(workloads['disk-random'])).toMatch(/fio/);
    expect(platform.unsupported?.(workloads.nginx)).toMatch(/nginx/);
    expect(platform.unsupported?.(workloads.cpu)).toBeUndefined();
  });

  it('a guest that never prints a result times out clearly and leaves no QEMU behind', async () => {
    const linpack = await platform.buildProgram!(workloadSource('cpu/linpack'), cacheDir());
    const program = await platform.copyIn(linpack.path, 'endless');
    const result = await platform.exec([program, '100', '100', '100000'], { timeoutMs: 5_000 });
    expect(result).toMatchObject({ timedOut: true, exitCode: 1 });
    expect(result.stderr).toMatch(/ended without a result/);
    expect(await processesMentioning(platform.workDir)).toEqual([]);
  });

  it('stop() removes its files and kills any guest still running', async () => {
    await provisioned.stop();
    expect(existsSync(platform.workDir)).toBe(false);
    expect(await processesMentioning('qemu-system')).not.toContainEqual(expect.stringContaining(platform.workDir));
  });
});

describe('unikernel platform options', () => {
  it('rejects a bad command template before anything starts', () => {
    expect(() => createUnikernelPlatform({ command: ['qemu-system-x86_64 -kernel {image}'], images: { linpack: '/x' } })).toThrow(
      /unikernel command template: "command" looks like a shell string/,
    );
  });

  it('builds our workloads with the entry wrapper that powers the guest off', async () => {
    const built = await buildProgram(workloadSource('mem/memsweep'), cacheDir(), {
      entry: join(sourceDir, 'platforms', 'unikernel', 'uni-init.c'),
    });
    expect(built.name).toBe('memsweep-uni-init');
  });
});
