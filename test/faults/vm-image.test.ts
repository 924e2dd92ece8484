import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDir } from '../../src/host/paths.js';
import { missingTools } from '../../src/platforms/qemu/host-tools.js';
import { ensureTestVmImage } from '../vm-image-builder.js';
import * as fault from './inject.js';

/*
 * Faults on a user's VM image (the test image, test/vm-image-builder.ts, booted through the generic
 * path as testvm-tcg): a Ctrl-C while it boots must leave no QEMU, no overlay and no seed.
 */

const missing = missingTools(['qemu-system-x86_64', 'qemu-img', 'cloud-localds', 'mmdebstrap', 'syslinux', 'mcopy', 'mkfs.fat', 'sfdisk']);
const skip =
  missing.length > 0 ? `not installed: ${missing.join(', ')}` : process.getuid?.() !== 0 ? 'building the test VM image needs root' : '';
const open = fault.faultCases();

describe.skipIf(skip)(`a user's VM image${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('Ctrl-C while the VM image boots stops QEMU and removes its overlay and seed', async () => {
    const image = await ensureTestVmImage({ cacheDir: cacheDir(), log: (line) => console.log(`[vm-image fault] ${line}`) });
    const c = await open();
    const run = fault.startBench(c, ['--project', 'testvm-tcg', 'steps'], {
      VIRTBENCH_FAULT_VM_IMAGE: image.path,
      FAULT_HOLD_SECONDS: '0.1',
    });
    const runDir = () => readdirSync(c.workRoot).find((e) => e.startsWith('virtbench-testvm-tcg-'));
    const booting = fault
      .waitUntil('QEMU booting the VM image', () => fault.guestQemu(c), 120_000, run)
      .then(async () => {
        await fault.sleep(5_000);
        // The case is worth its name only while the overlay and the seed are there to leak, and the guest not up yet.
        const dir = join(c.workRoot, runDir()!);
        expect(['overlay.qcow2', 'seed.iso', 'client_key'].filter((f) => existsSync(join(dir, f)))).toEqual([
          'overlay.qcow2',
          'seed.iso',
          'client_key',
        ]);
        expect(existsSync(join(c.reportDir, 'testvm-tcg-first.csv'))).toBe(false);
      });
    const { outcome, at } = await fault.interrupt(run, booting, 0);
    expect(fault.leftovers(c), outcome.output.slice(-3000)).toEqual([]);
    fault.record({
      fault: "Ctrl-C while a user's VM image boots (testvm-tcg: the test image, NoCloud seed)",
      outcome: `${fault.exitOf(outcome)}; QEMU stopped, overlay, seed and key removed`,
      kept: 'nothing had been measured',
      leaked: 'nothing',
      recovery: fault.recoveryAfter('Ctrl-C', outcome, at),
    });
  });
});
