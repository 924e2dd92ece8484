import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli/main.js';
import { SETUP_HINT } from '../../src/platforms/platform.js';
import { PLATFORM_NAMES, requirementsOf } from '../../src/platforms/index.js';
import { aptCommands, missingPackages, needsRoot, setupLine, setupReport, type HostFacts } from '../../src/runtime/setup.js';

const facts = (over: Partial<HostFacts> = {}): HostFacts => ({
  installed: new Set(['gcc', 'libc6-dev', 'debootstrap', 'iproute2', 'docker-ce']),
  root: true,
  kvmProblems: [],
  links: new Set(['lo', 'eth0']),
  ...over,
});
const available = { available: true } as const;

describe('virtbench setup: the rule', () => {
  it('counts an installed alternative of "a | b", and names the first when neither is installed', () => {
    expect(missingPackages(['gcc', 'docker.io | docker-ce', 'runsc'], facts().installed)).toEqual(['runsc']);
    expect(missingPackages(['docker.io | docker-ce'], new Set())).toEqual(['docker.io']);
  });

  it('names what a platform lacks: packages, root, KVM, on one line', () => {
    const line = setupLine(
      { name: 'qemu-kvm-tap', requirements: { packages: ['gcc', 'qemu-utils'], root: 'a tap device', kvm: true }, availability: available },
      facts({ root: false, kvmProblems: ['/dev/kvm does not exist'] }),
    );
    expect(line).toEqual({
      name: 'qemu-kvm-tap',
      ready: false,
      missing: ['qemu-utils'],
      text: 'needs Debian packages qemu-utils; root (a tap device); KVM, which is not usable here: /dev/kvm does not exist',
    });
  });

  it('is ready when every requirement is met and availability() agrees, with what is worth knowing', () => {
    const line = setupLine(
      {
        name: 'docker',
        requirements: { packages: ['debootstrap'], root: 'its own dockerd', kvm: true, bridge: 'virtbench0' },
        availability: available,
      },
      facts({ links: new Set(['virtbench0']) }),
    );
    expect(line.ready).toBe(true);
    expect(line.text).toMatch(
      /^root \(its own dockerd\); KVM \(passes the static checks; .*probe boot decides\); bridge virtbench0 \(exists/,
    );
  });

  it("shows availability()'s reason when the requirements are met but the platform cannot run, without the hint to setup", () => {
    const reason = `no Docker engine answers; fix: start Docker, or run as root ${SETUP_HINT}`;
    const line = setupLine({ name: 'docker', requirements: { packages: [] }, availability: { available: false, reason } }, facts());
    expect(line).toMatchObject({ ready: false, text: 'no Docker engine answers; fix: start Docker, or run as root' });
  });

  it('reports one line per platform, how many are ready, and every missing package once with the fix', () => {
    const { lines, ready, missing } = setupReport(
      [
        { name: 'native', requirements: { packages: ['gcc', 'fio'] }, availability: available },
        { name: 'docker-gvisor', requirements: { packages: ['runsc', 'fio'] }, availability: available },
      ],
      facts(),
    );
    expect(ready).toBe(false);
    expect(missing).toEqual(['fio', 'runsc']);
    expect(lines).toEqual([
      'native         not ready  needs Debian packages fio',
      'docker-gvisor  not ready  needs Debian packages runsc fio',
      '0 of 2 ready',
      'missing Debian packages: fio runsc; fix: npx virtbench setup --install (as root)',
    ]);
  });
});

describe('virtbench setup: installing', () => {
  it('runs apt-get as argv arrays: update, then install without recommends, waiting for the lock', () => {
    expect(aptCommands(['fio', 'runsc'])).toEqual([
      ['apt-get', 'update', '-qq', '-o', 'DPkg::Lock::Timeout=600'],
      ['apt-get', 'install', '-y', '-qq', '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=600', 'fio', 'runsc'],
    ]);
  });

  it('without root, refuses with the commands to run', () => {
    const error = needsRoot(['fio'], true);
    expect(error.code).toBe('VIRTBENCH_MISSING_TOOL');
    expect(error.message).toMatch(
      /needs root\nfix: sudo npx virtbench setup --install --test, or: sudo apt-get update .* && sudo apt-get install .* fio$/,
    );
  });
});

describe('virtbench setup: the platforms declare their requirements', () => {
  it('gives every built-in platform the compiler, and its own needs', () => {
    for (const name of PLATFORM_NAMES) expect(requirementsOf(name).packages.slice(0, 2)).toEqual(['gcc', 'libc6-dev']);
    expect(requirementsOf('native').packages).toEqual(expect.arrayContaining(['fio', 'nginx-light']));
    expect(requirementsOf('docker').packages).toContain('docker.io | docker-ce');
    expect(requirementsOf('docker-gvisor').packages).toContain('runsc');
    expect(requirementsOf('podman')).toMatchObject({ root: expect.any(String), bridge: 'virtbench1' });
    expect(requirementsOf('qemu-kvm')).toMatchObject({ kvm: true });
    expect(requirementsOf('qemu-tcg').kvm).toBeUndefined();
    expect(requirementsOf('qemu-tcg-tap')).toMatchObject({ root: expect.any(String) });
    expect(requirementsOf('unikernel').packages).toContain('qemu-system-x86');
  });

  it('refuses an unknown platform and a stray argument as bad usage', async () => {
    const cli = (...argv: string[]) => runCli(argv, { log: () => {}, env: {} });
    await expect(cli('setup', '--platforms', 'native,lab1')).rejects.toMatchObject({
      code: 'VIRTBENCH_BAD_OPTION',
      message: expect.stringMatching(/unknown platform "lab1"\nfix: name built-in platforms: native, docker/),
    });
    await expect(cli('setup', 'now')).rejects.toMatchObject({ code: 'VIRTBENCH_BAD_OPTION' });
  });
});
