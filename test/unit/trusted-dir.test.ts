import { chmod, chown, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  ensureTrustedDirectory,
  trustViolation,
  untrustedDirectoryError,
  untrustedFileReason,
  type PathFacts,
} from '../../src/host/trusted-dir.js';
import { buildProgram } from '../../src/workloads/build.js';

// gcc is not run here: "building" writes a file where -o says, as a umask of 000 would leave it.
const { runChecked } = vi.hoisted(() => ({ runChecked: vi.fn() }));
vi.mock('../../src/host/command.js', () => ({ runChecked }));
runChecked.mockImplementation(async (argv: string[]) => {
  await writeFile(argv[argv.indexOf('-o') + 1]!, 'fresh build', { mode: 0o777 });
});

const ROOT = 0;
const ALICE = 1000;
const dir = (path: string, mode: number, uid = ROOT): PathFacts => ({ path, uid, mode: 0o040000 | mode, isDirectory: true });
const link = (path: string, uid = ROOT): PathFacts => ({ path, uid, mode: 0o120777, isDirectory: false, isSymlink: true });
const file = (path: string, mode: number, uid = ROOT): PathFacts => ({ path, uid, mode: 0o100000 | mode, isDirectory: false });

describe('trustViolation: no one but the user and root can change the cache directory or the way to it', () => {
  it('accepts a chain of directories of root and the user that no one else can write', () => {
    expect(
      trustViolation([dir('/', 0o755), dir('/root', 0o700), dir('/root/.cache', 0o755), dir('/root/.cache/virtbench', 0o700)], ROOT),
    ).toBeUndefined();
    const alices = [
      dir('/', 0o755),
      dir('/home', 0o755),
      dir('/home/alice', 0o750, ALICE),
      dir('/home/alice/.cache/virtbench', 0o700, ALICE),
    ];
    expect(trustViolation(alices, ALICE)).toBeUndefined();
  });

  it('refuses a world-writable cache directory', () => {
    expect(trustViolation([dir('/', 0o755), dir('/srv', 0o755), dir('/srv/cache', 0o777)], ROOT)).toMatchObject({
      path: '/srv/cache',
      problem: 'is writable by its group and others',
      fix: expect.stringContaining('chmod go-w /srv/cache'),
    });
  });

  it('refuses a group-writable directory on the way', () => {
    expect(trustViolation([dir('/', 0o755), dir('/srv', 0o775), dir('/srv/cache', 0o700)], ROOT)).toMatchObject({
      path: '/srv',
      problem: 'is writable by its group',
    });
  });

  it("refuses another user's directory on the way (sudo -E keeping HOME), without telling root to take it", () => {
    const chain = [dir('/', 0o755), dir('/home', 0o755), dir('/home/alice', 0o755, ALICE), dir('/home/alice/.cache', 0o700, ALICE)];
    const violation = trustViolation([...chain, dir('/home/alice/.cache/virtbench', 0o700, ROOT)], ROOT);
    expect(violation).toMatchObject({ path: '/home/alice', uid: ALICE, problem: 'does not belong to root' });
    expect(violation!.fix).toMatch(/VIRTBENCH_CACHE_DIR.*sudo -H/);
    expect(violation!.fix).not.toContain('chown');
  });

  it('refuses a cache directory of another user, with chown as a fix', () => {
    expect(trustViolation([dir('/', 0o755), dir('/srv', 0o755), dir('/srv/cache', 0o700, ALICE)], ROOT)).toMatchObject({
      path: '/srv/cache',
      fix: expect.stringContaining('chown root: /srv/cache'),
    });
    expect(trustViolation([dir('/', 0o755), dir('/srv', 0o755), dir('/srv/cache', 0o700, 2000)], ALICE)).toMatchObject({
      problem: 'belongs to neither you (uid 1000) nor root',
    });
  });

  it('accepts a sticky /tmp on the way, but not one of another user', () => {
    expect(trustViolation([dir('/', 0o755), dir('/tmp', 0o1777), dir('/tmp/virtbench', 0o700)], ROOT)).toBeUndefined();
    expect(trustViolation([dir('/', 0o755), dir('/tmp', 0o1777, ALICE), dir('/tmp/virtbench', 0o700)], ROOT)).toMatchObject({
      path: '/tmp',
    });
  });

  it('refuses a sticky directory as the cache directory itself', () => {
    expect(trustViolation([dir('/', 0o755), dir('/tmp', 0o1777)], ROOT)).toMatchObject({
      path: '/tmp',
      problem: expect.stringContaining('sticky bit'),
      fix: expect.stringContaining('/tmp/virtbench'),
    });
    // Before creating the cache directory in it, the nearest existing directory is only on the way.
    expect(trustViolation([dir('/', 0o755), dir('/tmp', 0o1777)], ROOT, { ancestorsOnly: true })).toBeUndefined();
  });

  it('refuses a link another user can replace (theirs, in sticky /tmp), and ignores a link of its own mode', () => {
    const to = [dir('/root', 0o700), dir('/root/cache', 0o700)];
    expect(trustViolation([dir('/', 0o755), dir('/tmp', 0o1777), link('/tmp/cache', ALICE), ...to], ROOT)).toMatchObject({
      path: '/tmp/cache',
    });
    expect(trustViolation([dir('/', 0o755), dir('/tmp', 0o1777), link('/tmp/cache', ROOT), ...to], ROOT)).toBeUndefined();
  });

  it('refuses a file where a directory belongs', () => {
    expect(trustViolation([dir('/', 0o755), file('/srv', 0o644)], ROOT)).toMatchObject({ path: '/srv', problem: 'is not a directory' });
  });

  it('names the path, its owner and mode, the danger and the fix in the error', () => {
    const violation = trustViolation([dir('/', 0o755), dir('/srv', 0o755), dir('/srv/cache', 0o777)], ROOT)!;
    const error = untrustedDirectoryError('/srv/cache', violation, ROOT);
    expect(error.code).toBe('VIRTBENCH_BAD_OPTION');
    expect(error.message).toContain('/srv/cache (owner uid 0, mode 0777) is writable by its group and others');
    expect(error.message).toContain('another user could replace a cached binary that virtbench then runs as root');
    expect(error.message).toMatch(/\nfix: chmod go-w \/srv\/cache/);
  });
});

describe('untrustedFileReason: a cached binary is run only if no one else can change it', () => {
  it('accepts a regular file of the user or root that only its owner can write', () => {
    expect(untrustedFileReason(file('/c/bin/cpu-1', 0o755), ROOT)).toBeUndefined();
    expect(untrustedFileReason(file('/c/bin/cpu-1', 0o755, ALICE), ALICE)).toBeUndefined();
    expect(untrustedFileReason(file('/c/bin/cpu-1', 0o755, ROOT), ALICE)).toBeUndefined();
  });

  it('refuses a group- or world-writable file, one of another user, and anything but a regular file', () => {
    expect(untrustedFileReason(file('/c/bin/cpu-1', 0o775), ROOT)).toBe('/c/bin/cpu-1 (owner uid 0, mode 0775) is writable by its group');
    expect(untrustedFileReason(file('/c/bin/cpu-1', 0o757), ROOT)).toMatch(/writable by others$/);
    expect(untrustedFileReason(file('/c/bin/cpu-1', 0o755, ALICE), ROOT)).toMatch(/belongs to another user$/);
    expect(untrustedFileReason(link('/c/bin/cpu-1'), ROOT)).toMatch(/not a regular file$/);
    expect(untrustedFileReason(dir('/c/bin/cpu-1', 0o755), ROOT)).toMatch(/not a regular file$/);
  });
});

const temps: string[] = [];
afterEach(async () => {
  for (const temp of temps.splice(0)) await rm(temp, { recursive: true, force: true });
  runChecked.mockClear();
});
async function temp(): Promise<string> {
  const made = await mkdtemp(join(tmpdir(), 'virtbench-trust-'));
  temps.push(made);
  return made;
}
const modeOf = async (path: string) => (await stat(path)).mode & 0o7777;

describe('ensureTrustedDirectory', () => {
  it('creates a missing directory and every missing parent with mode 0700', async () => {
    const base = await temp();
    await ensureTrustedDirectory(join(base, 'a', 'b'));
    expect(await modeOf(join(base, 'a'))).toBe(0o700);
    expect(await modeOf(join(base, 'a', 'b'))).toBe(0o700);
  });

  it('refuses a world-writable directory, and passes once it is fixed', async () => {
    const base = await temp();
    await chmod(base, 0o777);
    await expect(ensureTrustedDirectory(base)).rejects.toMatchObject({
      code: 'VIRTBENCH_BAD_OPTION',
      message: expect.stringContaining(`${base} (owner uid ${process.geteuid!()}, mode 0777)`),
    });
    await chmod(base, 0o700);
    await expect(ensureTrustedDirectory(base)).resolves.toBeUndefined();
  });

  it('creates nothing under a directory others can write', async () => {
    const base = await temp();
    await chmod(base, 0o777);
    await expect(ensureTrustedDirectory(join(base, 'cache'))).rejects.toMatchObject({ code: 'VIRTBENCH_BAD_OPTION' });
    await expect(lstat(join(base, 'cache'))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('refuses a link in a directory others can write, though the directory it names is fine', async () => {
    const base = await temp();
    await mkdir(join(base, 'good'), { mode: 0o700 });
    await mkdir(join(base, 'open'));
    await chmod(join(base, 'open'), 0o777);
    await symlink(join(base, 'good'), join(base, 'open', 'cache'));
    await expect(ensureTrustedDirectory(join(base, 'open', 'cache'))).rejects.toMatchObject({
      message: expect.stringContaining(`${join(base, 'open')} (owner uid`),
    });
    await expect(ensureTrustedDirectory(join(base, 'good'))).resolves.toBeUndefined();
  });
});

describe('buildProgram: a cached binary is reused only if no one else can change it', () => {
  async function cachedSetup() {
    const cache = await temp();
    const source = join(cache, 'prog.c');
    await writeFile(source, 'int main(void) { return 0; }\n');
    const first = await buildProgram(source, cache);
    expect(runChecked).toHaveBeenCalledTimes(1);
    runChecked.mockClear();
    return { cache, source, path: first.path };
  }

  it('leaves a new binary at mode 0755 whatever the umask, and reuses it', async () => {
    const { cache, source, path } = await cachedSetup();
    expect(await modeOf(path)).toBe(0o755);
    expect(await modeOf(join(cache, 'bin'))).toBe(0o700);
    const built = await readFile(path, 'utf8');
    expect((await buildProgram(source, cache)).path).toBe(path);
    expect(runChecked).not.toHaveBeenCalled();
    expect(await readFile(path, 'utf8')).toBe(built);
    // Changed after the build (the digest recorded beside it no longer matches): built again, not run.
    await writeFile(path, 'changed after the build');
    const lines: string[] = [];
    await buildProgram(source, cache, { log: (line) => lines.push(line) });
    expect(runChecked).toHaveBeenCalledTimes(1);
    expect(lines.join('\n')).toMatch(/is damaged: its sha256 is .*, not the .* recorded when it was built/);
  });

  it('rebuilds a group-writable cached binary, saying why, rather than run it', async () => {
    const { cache, source, path } = await cachedSetup();
    await writeFile(path, 'tampered');
    await chmod(path, 0o775);
    const lines: string[] = [];
    await buildProgram(source, cache, { log: (line) => lines.push(line) });
    expect(runChecked).toHaveBeenCalled();
    expect(await readFile(path, 'utf8')).toBe('fresh build');
    expect(await modeOf(path)).toBe(0o755);
    expect(lines).toEqual([expect.stringMatching(/rebuilding .*mode 0775\) is writable by its group/)]);
  });

  it.skipIf(process.geteuid?.() !== 0)('rebuilds a cached binary of another user, and one that is a link', async () => {
    const { cache, source, path } = await cachedSetup();
    await chown(path, 4242, 4242);
    await buildProgram(source, cache, { log: () => {} });
    expect((await stat(path)).uid).toBe(0);
    await rm(path);
    await writeFile(join(cache, 'elsewhere'), 'linked', { mode: 0o755 });
    await symlink(join(cache, 'elsewhere'), path);
    await buildProgram(source, cache, { log: () => {} });
    expect((await lstat(path)).isFile()).toBe(true);
  });

  it('refuses to build into, or run from, a cache directory others can write', async () => {
    const cache = await temp();
    const source = join(cache, 'prog.c');
    await writeFile(source, 'int main(void) { return 0; }\n');
    await chmod(cache, 0o777);
    await expect(buildProgram(source, cache)).rejects.toMatchObject({ code: 'VIRTBENCH_BAD_OPTION' });
    expect(runChecked).not.toHaveBeenCalled();
  });
});
