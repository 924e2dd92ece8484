import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BadOptionError, isVirtbenchError } from '../../errors.js';
import { TOOL_TIMEOUT_MS, runTool } from '../qemu/index.js';
import type { VmImageSettings } from './options.js';

/*
 * What virtbench learns of a user's disk image before it boots it, without writing to it: its
 * format (qemu-img, never QEMU's own probing at boot), its size and time, and whether its first sector
 * holds a BIOS boot signature. And why a boot that never answered may have failed.
 */

export interface ImageFacts {
  path: string;
  format: 'raw' | 'qcow2';
  bytes: number;
  virtualBytes: number;
  modified: string;
  /** The first sector ends in 0x55AA: a BIOS (MBR) boot sector, or GPT's protective MBR. */
  bootSignature: boolean;
}

function badImage(settings: VmImageSettings, cause: string, fix: string): BadOptionError {
  return new BadOptionError(`vmImages.${settings.key}: ${cause}\nfix: ${fix}`, { platform: settings.name });
}

const PATH_FIX = (key: string) => `set vmImages.${key}.image to the path of a raw or qcow2 disk image that boots with its own bootloader`;

/** qemu-img info's JSON for the image; the format asked for, or what qemu-img detects. */
async function qemuImgInfo(settings: VmImageSettings, format?: string): Promise<{ format: string; 'virtual-size': number }> {
  try {
    const { stdout } = await runTool(['qemu-img', 'info', '--output=json', '-U', ...(format ? ['-f', format] : []), settings.image], {
      what: `reading the image ${settings.image} (qemu-img info)`,
      code: 'VIRTBENCH_BOOT_FAILED',
      platform: settings.name,
      timeoutMs: TOOL_TIMEOUT_MS,
    });
    return JSON.parse(stdout) as { format: string; 'virtual-size': number };
  } catch (error) {
    if (!isVirtbenchError(error, 'VIRTBENCH_BOOT_FAILED')) throw error;
    const why = error.message
      .replace(/^\[[^\]]+\] /, '')
      .split('\nfix:')[0]!
      .trim();
    throw badImage(settings, `${settings.image} is not a ${format ?? 'disk'} image qemu-img can read: ${why}`, PATH_FIX(settings.key));
  }
}

/** Checks the image and reads its facts; throws BadOptionError (the cause and the fix) for one that cannot be booted. */
export async function inspectImage(settings: VmImageSettings, scratchDir: string): Promise<ImageFacts> {
  const found = await stat(settings.image).catch((error: NodeJS.ErrnoException) => error);
  if (found instanceof Error) {
    const why = found.code === 'ENOENT' ? 'does not exist' : `cannot be read (${found.code ?? found.message})`;
    throw badImage(settings, `the image ${settings.image} ${why}`, PATH_FIX(settings.key));
  }
  if (!found.isFile()) throw badImage(settings, `${settings.image} is not a file, so not a disk image`, PATH_FIX(settings.key));
  const detected = await qemuImgInfo(settings);
  if (detected.format !== 'raw' && detected.format !== 'qcow2') {
    throw badImage(
      settings,
      `${settings.image} is a ${detected.format} image; virtbench boots raw and qcow2 images`,
      `convert it: qemu-img convert -O qcow2 ${settings.image} ${settings.image.replace(/\.[^./]*$/, '')}.qcow2`,
    );
  }
  if (settings.format && settings.format !== detected.format) {
    // A qcow2 file booted as raw would show the guest qcow2's own metadata; a raw one as qcow2 cannot open.
    await qemuImgInfo(settings, settings.format);
    throw badImage(
      settings,
      `${settings.image} is ${detected.format}, but "format" says ${settings.format}`,
      `set vmImages.${settings.key}.format to ${detected.format}, or leave it out`,
    );
  }
  const format = detected.format;
  const sector = join(scratchDir, 'first-sector.bin');
  await runTool(['qemu-img', 'dd', '-U', '-f', format, '-O', 'raw', 'bs=512', 'count=1', `if=${settings.image}`, `of=${sector}`], {
    what: `reading the first sector of ${settings.image}`,
    code: 'VIRTBENCH_BOOT_FAILED',
    platform: settings.name,
    timeoutMs: TOOL_TIMEOUT_MS,
  });
  const first = await readFile(sector);
  return {
    path: settings.image,
    format,
    bytes: found.size,
    virtualBytes: detected['virtual-size'],
    modified: found.mtime.toISOString(),
    bootSignature: first.length >= 512 && first[510] === 0x55 && first[511] === 0xaa,
  };
}

/**
 * Why a boot may not have reached ssh, from what the console showed (empty: nothing booted that
 * writes to the first serial port) and the image's boot sector; ends in the fix line.
 */
export function bootTimeoutHelp(
  console: string,
  image: Pick<ImageFacts, 'path' | 'bootSignature'>,
  settings: Pick<VmImageSettings, 'key' | 'accel'>,
  seeded: boolean,
): string {
  const causes: string[] = [];
  if (!image.bootSignature)
    causes.push(
      `${image.path} has no BIOS boot signature (0x55AA) in its first sector: an empty disk, a bare file system, or a UEFI-only image`,
    );
  if (!console) {
    causes.push(
      'the console stayed empty: nothing booted, or the image is for another architecture (wrong architecture? QEMU here runs x86-64), ' +
        "or its kernel's console is not the first serial port (console=ttyS0)",
    );
  } else {
    causes.push(
      'the guest printed to its console but no ssh server answered on port 22: is openssh-server (or dropbear) installed and enabled, ' +
        'and does the guest bring its first network card up by DHCP?',
    );
    if (seeded)
      causes.push('cloud-init may not have run (is it installed, with the NoCloud datasource?), leaving sshd without its host key');
  }
  if (settings.accel === 'tcg') causes.push('under TCG (emulation) a full distribution with cloud-init boots in minutes');
  return (
    `\nlikely causes: ${causes.join('; ')}` +
    `\nfix: check that the image boots and serves ssh (boot it by hand and read its console), then run again; raise vmImages.${settings.key}.bootTimeoutSeconds if it only boots slowly`
  );
}
