import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { VirtbenchError } from '../../src/errors.js';
import { cacheDir } from '../../src/host/paths.js';
import { workRoot } from '../../src/host/work-dir.js';
import { createPlatform, validatePlatformOptions } from '../../src/platforms/index.js';
import type { Platform, PlatformInfo, Provisioned, StartedPlatform } from '../../src/platforms/platform.js';
import { missingTools } from '../../src/platforms/qemu/host-tools.js';
import { kvmAvailability, readKvmHostFacts } from '../../src/platforms/qemu/kvm.js';
import type { VmImageOptions } from '../../src/platforms/vm-image/options.js';
import { prepareWorkload } from '../../src/runtime/runner.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { workloads } from '../../src/workloads/index.js';
import { ensureTestVmImage, type TestVmImage } from '../vm-image-builder.js';
import { expectQuietTurns, processesMentioning, workDirs } from './helpers.js';

/*
 * A user's VM image, booted through the generic path exactly as a user's would be: the test image
 * (test/vm-image-builder.ts: Debian with its own bootloader, systemd, openssh-server and cloud-init, no
 * key of its own) under TCG, logged in through the run's NoCloud seed. And the bad input: an image that
 * is not there or not a disk image, and one that boots nothing.
 */

const context = { cacheDir: cacheDir(), log: (line: string) => console.log(`[vm-image test] ${line}`) };
const profile = PROFILES.quick;
const missing = missingTools(['qemu-system-x86_64', 'qemu-img', 'cloud-localds', 'mmdebstrap', 'syslinux', 'mcopy', 'mkfs.fat', 'sfdisk']);
const skip =
  missing.length > 0
    ? `not installed: ${missing.join(', ')} (apt-get install qemu-system-x86 qemu-utils cloud-image-utils mmdebstrap syslinux syslinux-common mtools dosfstools fdisk)`
    : process.getuid?.() !== 0
      ? 'building the test VM image (mmdebstrap) needs root'
      : undefined;

function platformFor(name: string, images: Record<string, VmImageOptions>): Platform {
  return createPlatform(name, validatePlatformOptions({ vmImages: images }, {}));
}

async function sha256(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Whatever of a platform's run is left: its QEMU, its work directory (overlay, seed, keys, console). */
async function leftovers(platform: string): Promise<string[]> {
  return [...(await processesMentioning(join(workRoot(), `virtbench-${platform}-`))), ...(await workDirs(platform))];
}

let image: TestVmImage;
beforeAll(async () => {
  if (skip) return;
  const started = performance.now();
  image = await ensureTestVmImage(context);
  context.log(
    `test image ${image.path} (built in ${image.buildSeconds} s; ready after ${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
}, 1_800_000);

describe.skipIf(skip)(`the test VM image under TCG, through the generic path${skip ? ` (skipped: ${skip})` : ''}`, () => {
  let platform: Platform;
  let provisioned: Provisioned | undefined;
  let started: StartedPlatform | undefined;
  let before: { sha: string; mtimeMs: number; size: number };

  beforeAll(async () => {
    const found = await stat(image.path);
    before = { sha: await sha256(image.path), mtimeMs: found.mtimeMs, size: found.size };
    platform = platformFor('testvm-tcg', { testvm: { image: image.path, accel: ['tcg'] } });
    expect(await platform.availability()).toEqual({ available: true });
    const t0 = performance.now();
    provisioned = await platform.provision(context);
    context.log(`provisioned in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    started = await platform.connect(provisioned.facts);
  }, 900_000);

  afterAll(async () => {
    await started?.close();
    await provisioned?.stop();
    expect(await leftovers('testvm-tcg')).toEqual([]);
    // Never written: QEMU wrote to the overlay in the work directory, gone now.
    const found = await stat(image.path);
    expect({ sha: await sha256(image.path), mtimeMs: found.mtimeMs, size: found.size }).toEqual(before);
  }, 120_000);

  test('describes the image and the guest it booted: its own OS and kernel, logged in through the seed', async () => {
    const info = (await started!.describe()) as PlatformInfo;
    context.log(`facts: ${JSON.stringify(info)}`);
    expect(info).toMatchObject({
      image: image.path,
      imageFormat: 'qcow2',
      imageBytes: before.size,
      guestOs: expect.stringMatching(/^Debian GNU\/Linux 12/),
      guestKernel: image.kernelRelease,
      guestArch: 'x86_64',
      accelerator: 'tcg',
      keyInjection: expect.stringMatching(/^NoCloud seed \(cloud-init/),
      hostKeyFingerprint: expect.stringMatching(/^SHA256:/),
    });
    expect(Number(info.bootSeconds)).toBeGreaterThan(0);
    // Its own kernel from its own disk: no -kernel on QEMU's command line.
    const [qemu] = (await processesMentioning(join(workRoot(), 'virtbench-testvm-tcg-'))).filter((p) => p.includes('qemu-system'));
    expect(qemu).toMatch(/overlay\.qcow2/);
    expect(qemu).not.toMatch(/ -kernel /);
  });

  for (const name of ['cpu', 'mem', 'fork'] as const) {
    test(`runs ${name} once with the quick profile`, { timeout: 600_000 }, async () => {
      const prepared = await prepareWorkload(started!, workloads[name], profile, { cacheDir: context.cacheDir });
      try {
        const figure = await prepared.runOnce();
        expect(figure.value).toBeGreaterThan(0);
        context.log(`${name}: ${figure.value} ${figure.unit}`);
      } finally {
        await prepared.dispose();
      }
    });
  }

  test("quiet turns: the image's guest stopped through QMP between turns costs QEMU no CPU until thawed", async () => {
    started = await expectQuietTurns(started!, () => platform.connect(provisioned!.facts));
    expect((await started.exec(['true'])).exitCode).toBe(0);
  });

  test('fio and nginx are n/a, with the reason, where the image lacks them', () => {
    expect(started!.unsupported?.(workloads['disk-random'])).toMatch(
      /^fio is not installed in the VM image testvm; fix: install it in the image/,
    );
    expect(started!.unsupported?.(workloads.nginx)).toMatch(/^nginx is not installed in the VM image testvm; fix: /);
    expect(started!.unsupported?.(workloads.cpu)).toBeUndefined();
  });

  test('refuses an ssh server whose host key is not the one the seed set', async () => {
    const wrong = Buffer.from(String(provisioned!.facts.hostKeys), 'base64');
    wrong[wrong.length - 1]! ^= 0xff;
    const error = await platform.connect({ ...provisioned!.facts, hostKeys: wrong.toString('base64') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VirtbenchError);
    expect((error as VirtbenchError).code).toBe('VIRTBENCH_HOST_KEY_MISMATCH');
    expect((error as Error).message).toMatch(/pinned SHA256:.*cloud-init did not apply the seed's host key/);
  });
});

describe.skipIf(skip)('bad input', () => {
  const scratch = join('/var/tmp', `virtbench-vm-image-test-${process.pid}`);
  beforeAll(() => mkdir(scratch, { recursive: true }));
  afterAll(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(scratch, { recursive: true, force: true });
  });

  async function provisionError(entry: VmImageOptions): Promise<VirtbenchError> {
    const error = await platformFor('bad-tcg', { bad: { accel: ['tcg'], ...entry } })
      .provision(context)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VirtbenchError);
    expect(await leftovers('bad-tcg')).toEqual([]);
    return error as VirtbenchError;
  }

  test('an image that does not exist, or is not a disk image qemu-img can read, fails with the cause and the fix', async () => {
    const absent = await provisionError({ image: join(scratch, 'absent.qcow2') });
    expect(absent.code).toBe('VIRTBENCH_BAD_OPTION');
    expect(absent.message).toMatch(
      /^\[bad-tcg\] vmImages\.bad: the image .*absent\.qcow2 does not exist\nfix: set vmImages\.bad\.image to the path of a raw or qcow2 disk image/,
    );

    const directory = await provisionError({ image: scratch });
    expect(directory.message).toMatch(/is not a file, so not a disk image\nfix: /);

    // qcow2's magic and then nothing of a header: qemu-img cannot open it.
    const broken = join(scratch, 'broken.qcow2');
    await writeFile(broken, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(60, 0xff)]));
    const unreadable = await provisionError({ image: broken });
    expect(unreadable.code).toBe('VIRTBENCH_BAD_OPTION');
    expect(unreadable.message).toMatch(/broken\.qcow2 is not a disk image qemu-img can read: .*\nfix: /s);

    const raw = join(scratch, 'plain.raw');
    await writeFile(raw, Buffer.alloc(1 << 20));
    const mislabelled = await provisionError({ image: raw, format: 'qcow2' });
    expect(mislabelled.message).toMatch(/plain\.raw is not a qcow2 image qemu-img can read/);
  });

  test('an image that boots nothing: the bounded wait ends with the console, the likely causes (wrong architecture?) and the fix; nothing left', async () => {
    const zeros = join(scratch, 'zeros.raw');
    await writeFile(zeros, Buffer.alloc(4 << 20));
    const t0 = performance.now();
    const error = await provisionError({ image: zeros, bootTimeoutSeconds: 10 });
    expect(performance.now() - t0).toBeLessThan(60_000);
    expect(error.code).toBe('VIRTBENCH_BOOT_TIMEOUT');
    expect(error.message).toMatch(
      /^\[bad-tcg\] the guest did not answer on ssh within 10\.0 s \(tcg\); QEMU was killed\n\(guest console empty\)/,
    );
    expect(error.message).toMatch(/likely causes: .*zeros\.raw has no BIOS boot signature.*wrong architecture\?/);
    expect(error.message).toMatch(/\nfix: .*vmImages\.bad\.bootTimeoutSeconds/);
  }, 120_000);
});

test('<name>-kvm is skipped with the reason where KVM cannot boot guests, never run under TCG', async () => {
  const platform = platformFor('anyvm-kvm', { anyvm: { image: '/nonexistent.qcow2', accel: ['kvm'] } });
  const rule = kvmAvailability(readKvmHostFacts());
  const availability = await platform.availability();
  if (rule.available) expect(availability.available).toBe(true);
  else expect(availability).toEqual(rule);
});
