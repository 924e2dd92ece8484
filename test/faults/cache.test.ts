import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, truncateSync } from 'node:fs';
import { open as openFile, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { removeTreeSync } from '../../src/host/process.js';
import { cacheDir } from '../../src/host/paths.js';
import { findGuestImage } from '../../src/platforms/qemu/guest-image.js';
import { tcgAvailability } from './availability.js';
import * as fault from './inject.js';

/*
 * Faults in the cache: an image build interrupted by Ctrl-C and resumed by two runs at once that share
 * the cache, and cache entries damaged after they were built (a workload binary with a flipped byte,
 * a truncated guest image). Each case has a cache of its own, so the machine's cache is not touched.
 */

const caches: string[] = [];
const open = fault.faultCases(async () => {
  for (const dir of caches.splice(0)) removeTreeSync(dir);
});

async function withFreshCache(): Promise<fault.FaultCase> {
  const dir = mkdtempSync('/var/tmp/virtbench-fault-cache-');
  caches.push(dir);
  return open({ cacheDir: dir });
}

const steps = ['--project', 'docker', 'steps'];

describe('the cache', () => {
  it('an image build interrupted by Ctrl-C leaves nothing half-built; two runs at once then share the cache and one build', async () => {
    const c = await withFreshCache();
    const first = fault.startBench(c, steps, { FAULT_HOLD_SECONDS: '0.1' });
    const bootstrap = () =>
      fault.processes().find((p) => p.argv.some((a) => a.endsWith('debootstrap')) && p.argv.some((a) => a.startsWith(c.cacheDir)));
    await fault.waitUntil('debootstrap building the container image', bootstrap, 180_000, first);
    await fault.sleep(5_000);
    const at = Date.now();
    first.child.kill('SIGINT');
    const interrupted = await first.done;
    expect(interrupted.exitCode === 0 && !interrupted.signal).toBe(false);
    const stopped = (interrupted.endedAt - at) / 1000;
    expect(fault.leftovers(c)).toEqual([]);
    expect(readdirSync(join(c.cacheDir, 'docker')).filter((e) => e.endsWith('.tar'))).toEqual([]);

    // Resumed by two runs at once: one builds, the other waits for it, and both measure.
    const [a, b] = await Promise.all([
      fault.runBench(c, steps, { FAULT_HOLD_SECONDS: '0.1' }, `${c.reportDir}-a`),
      (async () => {
        await fault.sleep(1_000);
        return fault.runBench(c, steps, { FAULT_HOLD_SECONDS: '0.1' }, `${c.reportDir}-b`);
      })(),
    ]);
    for (const dir of [`${c.reportDir}-a`, `${c.reportDir}-b`]) await rm(dir, { recursive: true, force: true });
    expect(a.exitCode, a.output.slice(-3000)).toBe(0);
    expect(b.exitCode, b.output.slice(-3000)).toBe(0);
    const bootstraps = [a, b].filter((r) => /bootstrapping Debian/.test(r.output)).length;
    expect(bootstraps).toBe(1);
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'Ctrl-C during the container image build (debootstrap), then two runs at once resuming on the same cache',
      outcome: `exit ${interrupted.exitCode}; then one run built the image while the other waited; both passed`,
      kept: 'no partial image, tarball or build directory',
      leaked: 'nothing (no debootstrap, mount, dockerd)',
      recovery: `stopped ${stopped.toFixed(1)} s after Ctrl-C; the two runs took ${a.seconds.toFixed(0)} s and ${b.seconds.toFixed(0)} s`,
    });
  });

  it('a cached workload binary with a flipped byte, or truncated, is built again, never run', async () => {
    const c = await withFreshCache();
    const native = ['--project', 'native', 'steps'];
    const built = await fault.runBench(c, native, { FAULT_HOLD_SECONDS: '0.1' });
    expect(built.exitCode, built.output.slice(-3000)).toBe(0);
    const bin = join(c.cacheDir, 'bin');
    const linpack = readdirSync(bin).find((e) => e.startsWith('linpack-') && !e.endsWith('.sha256'))!;
    const hold = readdirSync(bin).find((e) => e.startsWith('hold-') && !e.endsWith('.sha256'))!;
    const original = readFileSync(join(bin, linpack));
    // A flipped byte in the middle of the code (same size), and a binary cut in half.
    const file = await openFile(join(bin, linpack), 'r+');
    const at = Math.floor(original.length / 2);
    await file.write(Buffer.from([original[at]! ^ 0xff]), 0, 1, at);
    await file.close();
    truncateSync(join(bin, hold), Math.floor(readFileSync(join(bin, hold)).length / 2));

    const next = await fault.runBench(c, native, { FAULT_HOLD_SECONDS: '0.1' }, `${c.reportDir}-next`);
    await rm(`${c.reportDir}-next`, { recursive: true, force: true });
    expect(next.exitCode, next.output.slice(-3000)).toBe(0);
    expect(next.output).toMatch(new RegExp(`rebuilding rather than running the cached binary: .*${linpack} is damaged: its sha256 is`));
    expect(next.output).toMatch(new RegExp(`rebuilding rather than running the cached binary: .*${hold} is damaged`));
    expect(readFileSync(join(bin, linpack)).equals(original)).toBe(true);
    expect(fault.leftovers(c)).toEqual([]);
    fault.record({
      fault: 'corrupt cached workload binaries (a flipped byte; truncated)',
      outcome: 'sha256 differs from the digest recorded at build: rebuilt, with a log line naming the file; the run passed',
      kept: 'n/a',
      leaked: 'nothing',
      recovery: `run passed in ${next.seconds.toFixed(0)} s (rebuilding included)`,
    });
  });

  it.skipIf(tcgAvailability() || !findGuestImage(cacheDir()))(
    'a truncated guest image is found out before a boot and built again',
    async () => {
      const c = await withFreshCache();
      // A copy of this machine's guest image (sparse), cut in half.
      const image = findGuestImage(cacheDir())!;
      const qemuDir = join(c.cacheDir, 'qemu');
      execFileSync('mkdir', ['-m', '0700', '-p', join(qemuDir, basename(image.dir))]);
      for (const name of readdirSync(image.dir)) {
        execFileSync('cp', ['--sparse=always', '-p', join(image.dir, name), join(qemuDir, basename(image.dir), name)]);
      }
      const pointer = readdirSync(join(cacheDir(), 'qemu')).find((e) => e.endsWith('.current'))!;
      copyFileSync(join(cacheDir(), 'qemu', pointer), join(qemuDir, pointer));
      const rootfs = join(qemuDir, basename(image.dir), 'rootfs.img');
      const size = Number(execFileSync('stat', ['-c', '%s', rootfs], { encoding: 'utf8' }).trim());
      truncateSync(rootfs, size / 2);

      const run = await fault.runBench(c, ['--project', 'qemu-tcg', 'steps'], { FAULT_HOLD_SECONDS: '0.1' });
      expect(run.exitCode, run.output.slice(-3000)).toBe(0);
      expect(run.output).toMatch(
        /guest image: the cached .* is damaged \(rootfs\.img is \d+ bytes, not the \d+ it was built with\); building it again/,
      );
      expect(findGuestImage(c.cacheDir)!.manifest.files!['rootfs.img']!.size).toBe(size);
      expect(fault.leftovers(c)).toEqual([]);
      fault.record({
        fault: 'a truncated cached guest image (rootfs.img cut in half)',
        outcome: 'size differs from the build record: "damaged … building it again"; rebuilt, the run passed',
        kept: 'n/a',
        leaked: 'nothing',
        recovery: `run passed in ${run.seconds.toFixed(0)} s (the image rebuild included)`,
      });
    },
  );
});
