import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { extract } from 'tar-stream';
import { describe, expect, it } from 'vitest';
import {
  hostAptSource,
  parseDeb822,
  parseSourcesList,
  pickSource,
  relaxesValidUntil,
  requireMirror,
  sourcesListLine,
} from '../../src/host/apt-sources.js';
import { tarOf } from '../../src/platforms/docker/archive.js';
import { daemonConfig } from '../../src/platforms/docker/private-dockerd.js';
import { chooseRuntime, networkConfig, parseLimits, podmanArgs } from '../../src/platforms/docker/private-podman.js';
import { gvisorForkFits } from '../../src/platforms/docker/gvisor.js';
import { chooseSubnet } from '../../src/platforms/docker/bridge.js';
import { parseDockerHost } from '../../src/platforms/docker/docker-client.js';
import { engineLocation } from '../../src/platforms/docker/engine-location.js';
import { dockerPlatforms } from '../../src/platforms/docker/index.js';
import { debootstrapArgv, imageTags, withinDeadline } from '../../src/platforms/docker/image.js';
import { bridgeEndpoint } from '../../src/platforms/docker/session-container.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { workloadNeeds, workloads } from '../../src/workloads/index.js';

// Mirror names here are reserved test names (RFC 2606), never a real mirror.
const MIRROR = 'http://apt.test/debian';

describe('apt sources', () => {
  it('reads deb822 stanzas and skips disabled ones and deb-src', () => {
    const text = [
      `Types: deb\nURIs: ${MIRROR}\nSuites: bookworm bookworm-updates\nComponents: main`,
      `Types: deb-src\nURIs: http://src.test/debian\nSuites: bookworm`,
      `Types: deb\nEnabled: no\nURIs: http://off.test/debian\nSuites: trixie`,
    ].join('\n\n');
    expect(parseDeb822(text)).toEqual([
      { mirror: MIRROR, suite: 'bookworm' },
      { mirror: MIRROR, suite: 'bookworm-updates' },
    ]);
  });

  it('reads one-line entries with options and comments', () => {
    const text = `# comment\ndeb [arch=amd64 signed-by=/k.gpg] ${MIRROR} bookworm main\ndeb-src ${MIRROR} bookworm main\n`;
    expect(parseSourcesList(text)).toEqual([{ mirror: MIRROR, suite: 'bookworm' }]);
  });

  it('picks the plain release, not -security or -updates', () => {
    expect(
      pickSource([
        { mirror: 'http://sec.test/debian-security', suite: 'bookworm-security' },
        { mirror: MIRROR, suite: 'bookworm' },
      ]),
    ).toEqual({
      mirror: MIRROR,
      suite: 'bookworm',
    });
  });

  it('reads a host apt directory; environment variables override it; a missing mirror names the fix', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'virtbench-apt-'));
    expect(hostAptSource({}, dir)).toEqual({ mirror: undefined, suite: 'bookworm' });
    expect(() => requireMirror(hostAptSource({}, dir), dir)).toThrow(/VIRTBENCH_DEBIAN_MIRROR/);
    await mkdir(join(dir, 'sources.list.d'));
    await writeFile(join(dir, 'sources.list.d', 'debian.sources'), `Types: deb\nURIs: ${MIRROR}/\nSuites: trixie\n`);
    expect(hostAptSource({}, dir)).toEqual({ mirror: MIRROR, suite: 'trixie', file: join(dir, 'sources.list.d', 'debian.sources') });
    expect(hostAptSource({ VIRTBENCH_DEBIAN_MIRROR: 'http://other.test/d', VIRTBENCH_DEBIAN_SUITE: 'bookworm' }, dir)).toEqual({
      mirror: 'http://other.test/d',
      suite: 'bookworm',
    });
    // One reader for both image builders: a sources file of the user's replaces the host's.
    const own = join(dir, 'own.list');
    await writeFile(own, 'deb http://own.test/debian bookworm main\n');
    expect(hostAptSource({ VIRTBENCH_DEBIAN_SOURCES: own }, dir)).toEqual({
      mirror: 'http://own.test/debian',
      suite: 'bookworm',
      file: own,
    });
    expect(sourcesListLine({ mirror: 'http://own.test/debian', suite: 'trixie' })).toBe('deb http://own.test/debian trixie main\n');
  });
});

/** Every entry of a tar archive, read back with tar-stream's extract. */
async function readTar(archive: Buffer): Promise<{ name: string; type: string; mode: number; uid: number; gid: number; data: string }[]> {
  const entries = [];
  const reader = extract();
  Readable.from([archive]).pipe(reader);
  for await (const entry of reader) {
    const { name, type, mode, uid, gid } = entry.header;
    entries.push({
      name,
      type: String(type),
      mode: mode ?? -1,
      uid: uid ?? -1,
      gid: gid ?? -1,
      data: (await buffer(entry)).toString('latin1'),
    });
  }
  return entries;
}

describe('tar archives for the Docker API', () => {
  it('holds the files with their contents and modes, owned by root, under their parent directories', async () => {
    const binary = Buffer.alloc(1500, 1);
    const entries = await readTar(
      await tarOf([
        { name: 'nginx/nginx.conf', data: Buffer.from('daemon on;\n') },
        { name: 'forksum', data: binary, mode: 0o755 },
        { name: 'nginx/html/index.html', data: Buffer.from('<p>') },
      ]),
    );
    expect(entries).toEqual([
      { name: 'nginx/', type: 'directory', mode: 0o755, uid: 0, gid: 0, data: '' },
      { name: 'nginx/nginx.conf', type: 'file', mode: 0o644, uid: 0, gid: 0, data: 'daemon on;\n' },
      { name: 'forksum', type: 'file', mode: 0o755, uid: 0, gid: 0, data: binary.toString('latin1') },
      // nginx/ has its entry already: only the new parent.
      { name: 'nginx/html/', type: 'directory', mode: 0o755, uid: 0, gid: 0, data: '' },
      { name: 'nginx/html/index.html', type: 'file', mode: 0o644, uid: 0, gid: 0, data: '<p>' },
    ]);
  });

  it('refuses names that leave the target directory', async () => {
    await expect(tarOf([{ name: '../etc/passwd', data: Buffer.alloc(0) }])).rejects.toThrow(RangeError);
    await expect(tarOf([{ name: '/etc/passwd', data: Buffer.alloc(0) }])).rejects.toThrow(RangeError);
    await expect(tarOf([{ name: '', data: Buffer.alloc(0) }])).rejects.toThrow(RangeError);
  });
});

describe('bridge subnet for the private dockerd', () => {
  it('takes the first candidate no route overlaps, ignoring the default route', () => {
    const routes =
      'default via 10.0.0.1 dev eth0\n172.29.0.0/16 dev br-x proto kernel scope link src 172.29.0.1\nlocal 127.0.0.1 dev lo table local';
    expect(chooseSubnet(routes)).toBe('10.211.83.1/24');
  });

  it('counts a wide route as taking every candidate inside it', () => {
    expect(() => chooseSubnet('10.0.0.0/8 dev a\n172.16.0.0/12 dev b\n192.168.0.0/16 dev c')).toThrow(/no free subnet/);
  });
});

describe('engine addresses', () => {
  it('understands unix sockets and tcp, with TLS from the environment', () => {
    expect(parseDockerHost('unix:///run/x/docker.sock')).toEqual({ socketPath: '/run/x/docker.sock' });
    expect(parseDockerHost('tcp://127.0.0.1:2375', {})).toEqual({ host: '127.0.0.1', port: 2375, protocol: 'http' });
    expect(parseDockerHost('tcp://127.0.0.1', { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' })).toEqual({
      host: '127.0.0.1',
      port: 2376,
      protocol: 'https',
      certDir: '/certs',
    });
  });

  it('rejects what it cannot reach, with a code', () => {
    expect(() => parseDockerHost('ssh://user@host')).toThrow(
      /uses ssh:, which virtbench does not support.*\nfix: reach that engine as tcp:\/\/<host>:2376 with TLS/s,
    );
    expect(() => parseDockerHost('ssh://user@host')).toThrow(expect.objectContaining({ code: 'VIRTBENCH_BAD_OPTION' }));
    expect(() => parseDockerHost('not a url')).toThrow(/not a URL/);
  });
});

describe('image recipe tags', () => {
  it('change with the suite and are stable otherwise', () => {
    const bookworm = imageTags('bookworm');
    expect(imageTags('bookworm')).toEqual(bookworm);
    expect(imageTags('trixie').base).not.toBe(bookworm.base);
    expect(imageTags('trixie').bench).not.toBe(bookworm.bench);
    expect(bookworm.dockerfile).toContain(`FROM ${bookworm.base}`);
    expect(bookworm.dockerfile).not.toMatch(/https?:\/\//); // the mirror is never part of a recipe
  });

  it("relax apt's Valid-Until check only where the host's apt does (a dated snapshot), and check debootstrap's signatures", () => {
    expect(imageTags('bookworm').dockerfile).toContain('RUN apt-get update \\\n');
    expect(imageTags('bookworm').dockerfile).not.toContain('Check-Valid-Until');
    expect(imageTags('bookworm', true).dockerfile).toContain('RUN apt-get -o Acquire::Check-Valid-Until=false update \\\n');
    expect(imageTags('bookworm', true).bench).not.toBe(imageTags('bookworm').bench);
    expect(relaxesValidUntil('APT "";\nAcquire::Check-Valid-Until "false";\nAcquire::Languages "none";\n')).toBe(true);
    expect(relaxesValidUntil('APT "";\nAcquire::Languages "none";\n')).toBe(false);
    expect(relaxesValidUntil('Acquire::Check-Valid-Until "true";\n')).toBe(false);
    expect(debootstrapArgv('bookworm', '/w/rootfs', 'http://deb.debian.org/debian')).toEqual([
      'debootstrap',
      '--variant=minbase',
      '--keyring=/usr/share/keyrings/debian-archive-keyring.gpg',
      '--force-check-gpg',
      'bookworm',
      '/w/rootfs',
      'http://deb.debian.org/debian',
    ]);
  });

  it("install the workloads' packages and bake in their files, each step under its reason", () => {
    const { dockerfile } = imageTags('bookworm');
    const needs = workloadNeeds();
    expect(dockerfile).toContain(`apt-get install -y --no-install-recommends ${[...needs.packages, 'procps'].join(' ')} `);
    expect(needs.imageSteps.length).toBeGreaterThan(0);
    for (const step of needs.imageSteps) expect(dockerfile).toContain(`# ${step.why}\nRUN ${step.shell}\n`);
  });
});

describe('the docker platform family', () => {
  it('offers one platform per variant, by its project name', () => {
    expect(dockerPlatforms.names).toEqual([
      'docker',
      'docker-volume',
      'docker-hostnet',
      'docker-gvisor',
      'docker-crun',
      'docker-arm64',
      'podman',
    ]);
    for (const name of dockerPlatforms.names) expect(dockerPlatforms.create(name, undefined).name).toBe(name);
  });
});

describe("the served workload's peers", () => {
  const nginx = workloads.nginx;
  const config = (extra: { allowFrom?: string }) =>
    nginx.kind === 'served'
      ? nginx.config({ dir: '/bench/nginx', listen: '10.211.83.2:8080', profile: PROFILES.quick, programs: {}, ...extra })
      : '';

  it('nginx lets in only the given peer, in the server block, and denies every other', () => {
    expect(config({ allowFrom: '10.211.83.1' })).toMatch(
      /server \{\n {4}listen 10\.211\.83\.2:8080;\n {4}root \/bench\/nginx\/html;\n {4}allow 10\.211\.83\.1;\n {4}deny all;\n {2}\}/,
    );
  });

  it('nginx without a peer to allow has no access rules (native, qemu, docker-hostnet: the listen address keeps others out)', () => {
    const text = config({});
    expect(text).toContain('listen 10.211.83.2:8080;');
    expect(text).not.toMatch(/\b(allow|deny)\b/);
  });

  it("the container's address and its gateway come from the engine's per-network settings", () => {
    const inspect = {
      Id: 'c0ffee000000aa',
      NetworkSettings: { IPAddress: '', Gateway: '', Networks: { bridge: { IPAddress: '10.211.83.2', Gateway: '10.211.83.1' } } },
    };
    expect(bridgeEndpoint(inspect)).toEqual({ address: '10.211.83.2', gateway: '10.211.83.1' });
    // Older engines fill the top-level fields.
    expect(bridgeEndpoint({ Id: 'c0ffee', NetworkSettings: { IPAddress: '172.17.0.2', Gateway: '172.17.0.1' } })).toEqual({
      address: '172.17.0.2',
      gateway: '172.17.0.1',
    });
  });

  it('a container without an IPv4 address and gateway fails the platform, naming the fix', () => {
    const inspect = { Id: 'c0ffee000000aa', NetworkSettings: { Networks: { none: { IPAddress: '', Gateway: '' } } } };
    expect(() => bridgeEndpoint(inspect)).toThrow(
      expect.objectContaining({
        code: 'VIRTBENCH_PLATFORM_UNAVAILABLE',
        message: expect.stringMatching(/container c0ffee000000 has no IPv4 address and gateway.*; fix: /),
      }),
    );
  });
});

describe('deadlines of the image build', () => {
  it('fail a stalled engine step, naming it, its limit and the fix, and abort its request', async () => {
    let signal: AbortSignal | undefined;
    const stalled = withinDeadline({ what: 'importing base.tar as virtbench-base:x', timeoutMs: 50, fix: 'check the engine' }, (s) => {
      signal = s;
      return new Promise<never>(() => {});
    });
    await expect(stalled).rejects.toMatchObject({
      code: 'VIRTBENCH_BUILD_FAILED',
      message: expect.stringMatching(/importing base\.tar as virtbench-base:x did not finish within 50 ms; fix: check the engine/),
    });
    expect(signal?.aborted).toBe(true);
  });

  it('pass on what a step returns within its limit', async () => {
    await expect(withinDeadline({ what: 'building', timeoutMs: 10_000, fix: '-' }, async () => 'done')).resolves.toBe('done');
  });
});

describe("the private dockerd's config", () => {
  it('registers gVisor (ptrace, the host stack of the container namespace) only where runsc is installed', () => {
    expect(daemonConfig('/c/docker', { runsc: '/usr/bin/runsc' })).toEqual({
      'deprecated-key-path': '/c/docker/key.json',
      runtimes: { runsc: { path: '/usr/bin/runsc', runtimeArgs: ['--platform=ptrace', '--network=host'] } },
    });
    expect(daemonConfig('/c/docker', {})).toEqual({ 'deprecated-key-path': '/c/docker/key.json' });
  });

  it('registers crun beside runsc where it is installed, by the path it runs', () => {
    expect(daemonConfig('/c/docker', { runsc: '/usr/bin/runsc', crun: '/run/virtbench-docker/crun' })).toMatchObject({
      runtimes: { runsc: { path: '/usr/bin/runsc' }, crun: { path: '/run/virtbench-docker/crun' } },
    });
    expect(daemonConfig('/c/docker', { crun: '/usr/bin/crun' })).toEqual({
      'deprecated-key-path': '/c/docker/key.json',
      runtimes: { crun: { path: '/usr/bin/crun' } },
    });
  });

  it('offers docker-gvisor as a platform that measures every benchmark (not a stand-in variant)', () => {
    expect(dockerPlatforms.names).toContain('docker-gvisor');
    expect(dockerPlatforms.variants?.['docker-gvisor']).toBeUndefined();
  });
});

describe('the private podman service', () => {
  it('uses crun unless the cgroups are hybrid with controllers on the cgroup2 mount, where crun 1.8 refuses to run', () => {
    expect(chooseRuntime(undefined)).toEqual({ name: 'crun' });
    expect(chooseRuntime('\n')).toEqual({ name: 'crun' });
    expect(chooseRuntime('hugetlb\n')).toMatchObject({ name: 'runc', why: expect.stringMatching(/hybrid cgroups.*hugetlb/) });
  });

  it("gives containers the service's own open-file and process limits, and none it cannot read", () => {
    const limits = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max processes             32768                32768                processes',
      'Max open files            1024                 20000                files',
      'Max locked memory         unlimited            unlimited            bytes',
    ].join('\n');
    expect(parseLimits(limits)).toEqual([
      { Name: 'nofile', Soft: 1024, Hard: 20000 },
      { Name: 'nproc', Soft: 32768, Hard: 32768 },
    ]);
    expect(parseLimits(limits.replace('32768                32768', 'unlimited            unlimited'))).toEqual([
      { Name: 'nofile', Soft: 1024, Hard: 20000 },
    ]);
    expect(parseLimits('')).toEqual([]);
  });

  it('puts containers on our bridge with no NAT, forwarding, port mapping or firewall plugin, addresses kept in its run directory', () => {
    const config = networkConfig('10.211.83.1/24') as { name: string; plugins: Record<string, unknown>[] };
    expect(config.name).toBe('virtbench');
    expect(config.plugins.map((p) => p.type)).toEqual(['bridge']);
    expect(config.plugins[0]).toMatchObject({
      bridge: 'virtbench1',
      isGateway: false,
      ipMasq: false,
      ipam: {
        type: 'host-local',
        ranges: [[{ subnet: '10.211.83.0/24', gateway: '10.211.83.1' }]],
        dataDir: '/run/virtbench-podman/cni-addresses',
      },
    });
  });

  it('keeps every podman command on its own storage, run root, network configuration and runtime state', () => {
    const args = podmanArgs('/cache/podman/storage');
    expect(args).toContain('--root=/cache/podman/storage');
    for (const flag of ['--runroot=', '--tmpdir=', '--network-config-dir=', '--runtime-flag=root='])
      expect(args.find((a) => a.startsWith(flag))).toMatch(/=(root=)?\/run\/virtbench-podman\//);
    expect(args).toContain('--events-backend=none');
  });
});

describe("gVisor's ptrace platform and the host's PIDs", () => {
  const host = { pidMax: 32768, threadsNow: 200 };

  it('lets the quick profile fork (2 runs of 126 processes) and refuses the standard one (5 runs of 1,800), naming the numbers and the fix', () => {
    expect(gvisorForkFits(126, 2, host)).toBeUndefined();
    const why = gvisorForkFits(1800, 5, host);
    expect(why).toMatch(
      /5 runs of 1800 processes need about 40500 host PIDs, and this host has 29291 to spare \(pid_max 32768, 200 threads now\)/,
    );
    expect(why).toMatch(/fix: raise the host's limit \(sysctl -w kernel\.pid_max=4194304\)/);
  });

  it('counts what already runs on the host, and a raised pid_max makes room', () => {
    expect(gvisorForkFits(1800, 3, host)).toBeUndefined(); // 24300 needed
    expect(gvisorForkFits(1800, 3, { pidMax: 32768, threadsNow: 6000 })).toMatch(/this host has 23491 to spare/);
    expect(gvisorForkFits(1800, 48, { pidMax: 4194304, threadsNow: 6000 })).toBeUndefined();
  });
});

describe('where the Docker engine runs', () => {
  const here = { name: 'vm', kernel: '6.1.0' };

  it('on this machine: published on 127.0.0.1, its page cache and PIDs are ours', () => {
    expect(engineLocation('unix:///var/run/docker.sock', here, here)).toEqual({
      local: true,
      publishAddress: '127.0.0.1',
      describe: 'this machine',
    });
    expect(engineLocation('tcp://127.0.0.1:2375', here, here)).toMatchObject({ local: true, publishAddress: '127.0.0.1' });
  });

  it('over tcp on another machine: published on its address, and neither its cache nor its PIDs are ours', () => {
    expect(engineLocation('tcp://lab1.example:2376', { name: 'lab1', kernel: '6.8.0' }, here, '192.0.2.7')).toEqual({
      local: false,
      publishAddress: '192.0.2.7',
      describe: 'lab1 (192.0.2.7) over tcp',
    });
    // This machine reached at one of its own addresses: the same kernel, published on that address.
    expect(engineLocation('tcp://198.51.100.13:2375', here, here, '198.51.100.13')).toEqual({
      local: true,
      publishAddress: '198.51.100.13',
      describe: 'vm (198.51.100.13) over tcp',
    });
  });

  it('through a unix socket forwarded from another machine: its ports cannot be reached, and nginx says so', () => {
    const elsewhere = engineLocation('unix:///tmp/lab1-docker.sock', { name: 'lab1', kernel: '6.1.0' }, here);
    expect(elsewhere).toEqual({ local: false, publishAddress: '', describe: 'lab1 (kernel 6.1.0), through unix:///tmp/lab1-docker.sock' });
    // Same name, other kernel: not this machine either.
    expect(engineLocation('unix:///var/run/docker.sock', { name: 'vm', kernel: '6.8.0' }, here).local).toBe(false);
  });
});
