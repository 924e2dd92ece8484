import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import { arm64ImageArchive, arm64ImageTag, arm64Unsupported } from '../../src/platforms/docker/arm64.js';
import { binfmtProblem, enableAarch64Binfmt, parseBinfmtHandler } from '../../src/platforms/docker/binfmt.js';
import { IDLE_PATH } from '../../src/platforms/docker/container-files.js';
import { questionsFor, requirementsOf } from '../../src/platforms/index.js';
import { workloads } from '../../src/workloads/index.js';

/** /proc/sys/fs/binfmt_misc/qemu-aarch64 as qemu-user-static (Debian 12) registers it. */
const DEBIAN_HANDLER = `enabled
interpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P
flags: PF
offset 0
magic 7f454c460201010000000000000000000200b700
mask ffffffffffffff00fffffffffffffffffeffffff
`;
const exists = () => true;

describe('the binfmt handler docker-arm64 needs', () => {
  it('reads an entry of /proc/sys/fs/binfmt_misc', () => {
    expect(parseBinfmtHandler(DEBIAN_HANDLER)).toEqual({
      enabled: true,
      interpreter: '/usr/libexec/qemu-binfmt/aarch64-binfmt-P',
      flags: 'PF',
    });
    expect(parseBinfmtHandler(undefined)).toBeUndefined();
  });

  it("is usable when enabled, with the F flag and an interpreter that exists: qemu-user-static's is", () => {
    expect(binfmtProblem(DEBIAN_HANDLER, true, exists)).toBeUndefined();
  });

  it.each([
    ['binfmt_misc not mounted', undefined, false, exists, /binfmt_misc is not mounted at \/proc\/sys\/fs\/binfmt_misc/],
    ['no handler registered', undefined, true, exists, /\/proc\/sys\/fs\/binfmt_misc\/qemu-aarch64 does not exist/],
    ['a disabled handler', DEBIAN_HANDLER.replace('enabled', 'disabled'), true, exists, /qemu-aarch64 is disabled/],
    // qemu-user-binfmt's (the dynamic qemu-aarch64): the interpreter would be looked for in the container's root.
    [
      'a handler without F',
      DEBIAN_HANDLER.replace('flags: PF', 'flags: P').replace('aarch64-binfmt-P', 'x'),
      true,
      exists,
      /has flags "P" without F: its interpreter \S+ is looked for in the container/,
    ],
    ['an interpreter that is gone', DEBIAN_HANDLER, true, () => false, /its interpreter \S+aarch64-binfmt-P does not exist/],
  ])('%s: skipped, one line naming the fix', (_, text, mounted, interpreterExists, why) => {
    const problem = binfmtProblem(text, mounted, interpreterExists);
    expect(problem).toMatch(why);
    expect(problem).toMatch(
      /^no binfmt handler runs aarch64 programs in containers \(.*\); fix: apt-get install qemu-user-static binfmt-support, then update-binfmts --enable qemu-aarch64 \(as root/,
    );
    expect(problem).not.toContain('\n');
  });
});

/** The entries of a tar archive, by name. */
async function entries(archive: Buffer): Promise<Map<string, { type: string; mode: number; data: Buffer }>> {
  const found = new Map<string, { type: string; mode: number; data: Buffer }>();
  await new Promise<void>((resolve, reject) => {
    const tar = extract();
    tar.on('entry', (header, body, next) => {
      const chunks: Buffer[] = [];
      body.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
      body.on('end', () => {
        found.set(header.name, { type: header.type ?? 'file', mode: header.mode ?? 0, data: Buffer.concat(chunks) });
        next();
      });
    });
    tar.on('finish', resolve);
    tar.on('error', reject);
    Readable.from([archive]).pipe(tar);
  });
  return found;
}

describe("docker-arm64's image", () => {
  const idle = Buffer.from('\x7fELF pretend aarch64 idle');

  it('is tagged by a hash of what it holds: the same idle program, the same tag; another, another', () => {
    expect(arm64ImageTag(idle)).toMatch(/^virtbench-arm64:[0-9a-f]{12}$/);
    expect(arm64ImageTag(Buffer.from(idle))).toBe(arm64ImageTag(idle));
    expect(arm64ImageTag(Buffer.from('another'))).not.toBe(arm64ImageTag(idle));
  });

  it('is a docker-save archive of one layer holding only the idle program, its config linux/arm64, our label, and the tag', async () => {
    const tag = arm64ImageTag(idle);
    const archive = await entries(await arm64ImageArchive(tag, idle));
    expect([...archive.keys()].sort()).toEqual(['config.json', 'layer.tar', 'manifest.json']);
    expect(JSON.parse(archive.get('manifest.json')!.data.toString())).toEqual([
      { Config: 'config.json', RepoTags: [tag], Layers: ['layer.tar'] },
    ]);
    const layerTar = archive.get('layer.tar')!.data;
    const config = JSON.parse(archive.get('config.json')!.data.toString());
    expect(config).toMatchObject({
      architecture: 'arm64',
      os: 'linux',
      config: { Cmd: [IDLE_PATH], Labels: { 'virtbench.image': 'arm64' } },
      rootfs: { type: 'layers', diff_ids: [`sha256:${createHash('sha256').update(layerTar).digest('hex')}`] },
    });
    const layer = await entries(layerTar);
    expect([...layer.keys()]).toEqual(['.virtbench/', '.virtbench/idle']);
    expect(layer.get('.virtbench/idle')).toMatchObject({ type: 'file', mode: 0o755, data: idle });
  });
});

describe('docker-arm64 as a platform', () => {
  it('runs our C workloads; fio, nginx and the copy-up file are n/a with the reason', () => {
    for (const name of ['cpu', 'mem', 'fork', 'fork-threads'] as const) expect(arm64Unsupported(workloads[name]), name).toBeUndefined();
    expect(arm64Unsupported(workloads['disk-random'])).toMatch(/not `fio`/);
    expect(arm64Unsupported(workloads.nginx)).toMatch(/not `nginx`/);
    expect(arm64Unsupported(workloads['disk-copyup'])).toMatch(/lacks the files disk-copyup times/);
  });

  it('needs qemu-user-static, binfmt-support and the aarch64 cross compiler besides Docker (virtbench setup)', () => {
    expect(requirementsOf('docker-arm64').packages).toEqual(
      expect.arrayContaining(['docker.io | docker-ce', 'qemu-user-static', 'binfmt-support', 'gcc-aarch64-linux-gnu']),
    );
    // No init system runs binfmt-support's service here: setup --install enables the handler itself.
    expect(requirementsOf('docker-arm64').afterInstall).toBe(enableAarch64Binfmt);
    expect(requirementsOf('docker').afterInstall).toBeUndefined();
  });

  it('asks what emulation costs in a container: against docker, and against qemu-user-arm64 (the same emulator, no container)', () => {
    const [question] = questionsFor(['docker-arm64', 'docker', 'qemu-user-arm64']).filter((q) => /in a container/.test(q.question));
    expect(question?.comparisons).toEqual([
      { platform: 'docker-arm64', against: 'docker', benchmarks: ['cpu', 'mem', 'fork', 'fork-threads'] },
      { platform: 'docker-arm64', against: 'qemu-user-arm64', benchmarks: ['cpu', 'mem', 'fork', 'fork-threads'] },
    ]);
  });
});
