import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createNativePlatform } from '../../src/platforms/native/index.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { commandWorkload, workloads, type CommandWorkload } from '../../src/workloads/index.js';
import { cacheDir } from '../../src/host/paths.js';
import { expectOwnChecks, platformForFile, processesMentioning } from './helpers.js';

const quick = PROFILES.quick;
const native = platformForFile(createNativePlatform);
const runOnce = (name: keyof typeof workloads) => native.runOnce(workloads[name]);

describe('native platform, quick profile, one real run of each workload', () => {
  it('cpu: LINPACK solves a correct system and reports kFLOPS', async () => {
    const figure = await runOnce('cpu');
    expectOwnChecks('cpu', figure);
    expect(figure.value).toBeGreaterThan(1000);
  });

  it.each(['mem', 'fork', 'fork-threads'] as const)("%s: the workload's own check of its result holds", async (name) => {
    expectOwnChecks(name, await runOnce(name));
  });

  it('disk-random: fio writes with direct I/O on the platform disk and reports IOPS', async () => {
    const figure = await runOnce('disk-random');
    expect(figure.unit).toBe('IOPS');
    expect(figure.value).toBeGreaterThan(10);
    expect(Number(figure.extra.ios)).toBeGreaterThan(0);
  });

  it('nginx: parallel downloads of the whole file, then no nginx left', async () => {
    const figure = await runOnce('nginx');
    expect(figure.unit).toBe('s');
    expect(figure.extra.parallel).toBe(2);
    expect(Number(figure.extra.downloads)).toBeGreaterThanOrEqual(2);
    expect(Number(figure.extra.MBps)).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 500)); // nginx -s quit lets workers finish
    expect(await processesMentioning(native.platform.workDir)).toEqual([]);
  });

  it('disk-copyup: the first write to an existing file, made once in the work directory (no layer to copy from)', async () => {
    const first = await runOnce('disk-copyup');
    const second = await runOnce('disk-copyup');
    expect(first.extra).toMatchObject({ source: 'workdir', links_before: 64, links_after: 64, bytes: 64 * 1024 * 1024 });
    expect(second.extra.file).toBe(Number(first.extra.file) + 1);
    expect(first.value).toBeGreaterThan(0);
  });

  it('a missing tool fails with the fix', async () => {
    const missing: CommandWorkload = {
      ...(workloads['disk-random'] as CommandWorkload),
      name: 'needs-tool',
      program: { tool: { command: 'virtbench-no-such-tool', install: 'apt-get install virtbench-no-such-tool' } },
    };
    await expect(prepareWorkload(native.platform, missing, quick, { cacheDir: cacheDir() })).rejects.toMatchObject({
      code: 'VIRTBENCH_MISSING_TOOL',
      message: expect.stringMatching(
        /needs `virtbench-no-such-tool`.*\(not found on the PATH\); fix: apt-get install virtbench-no-such-tool/,
      ),
    });
  });

  it("a user's script workload is copied in and run by its interpreter line, with the argv it describes", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-script-'));
    const script = join(dir, 'count-files.sh');
    // Counts the entries of a directory; times itself coarsely.
    await writeFile(script, '#!/bin/sh\necho "RESULT value=$(ls "$1" | wc -l) unit=files seconds=0.001 dir=$1"\n');
    const counting = commandWorkload({
      name: 'count-files',
      title: 'entries of the work directory',
      unit: 'files',
      better: 'lower',
      program: { script },
      args: (_profile, workDir) => [workDir],
      timeoutMs: () => 10_000,
    });
    const prepared = await prepareWorkload(native.platform, counting, quick, { cacheDir: cacheDir() });
    const figure = await prepared.runOnce();
    expect(figure).toMatchObject({ unit: 'files', extra: { dir: native.platform.workDir } });
    expect(figure.value).toBeGreaterThan(0); // at least the script itself, copied into the work directory
    await rm(dir, { recursive: true, force: true });
  });

  it('a run that exceeds its timeout is killed and fails', async () => {
    const result = await native.platform.exec(['sleep', '10'], { timeoutMs: 200 });
    expect(result.timedOut).toBe(true);
    expect(result.wallMs).toBeLessThan(5_000);
  });
});

describe('native provisioning', () => {
  it('stop() removes the work directory and is idempotent', async () => {
    const own = await createNativePlatform().provision({ cacheDir: cacheDir(), log: () => {} });
    const dir = String(own.facts.workDir);
    expect(existsSync(dir)).toBe(true);
    await own.stop();
    await own.stop();
    expect(existsSync(dir)).toBe(false);
  });
});
