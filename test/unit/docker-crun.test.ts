import { describe, expect, it } from 'vitest';
import { crunCgroupsNote, crunRefusesCgroups, crunWrapper, CRUN_WRAPPER } from '../../src/platforms/docker/crun.js';
import { runtimeAvailability } from '../../src/platforms/docker/runtimes.js';
import { dockerPlatforms } from '../../src/platforms/docker/index.js';
import { questionsFor, requirementsOf } from '../../src/platforms/index.js';

describe('docker-crun', () => {
  it('crun is refused hybrid cgroups only with controllers on the cgroup2 mount', () => {
    expect(crunRefusesCgroups(undefined)).toBe(false); // not hybrid
    expect(crunRefusesCgroups('\n')).toBe(false);
    expect(crunRefusesCgroups('hugetlb\n')).toBe(true);
  });

  it('the wrapper runs crun with all its arguments in a mount namespace of its own, the cgroup2 mount hidden', () => {
    const text = crunWrapper('/usr/bin/crun', '/usr/bin/unshare');
    expect(text.split('\n')[0]).toBe('#!/bin/sh');
    expect(text).toContain(
      `exec /usr/bin/unshare --mount --propagation private -- /bin/sh -c 'umount -l /sys/fs/cgroup/unified && exec "$0" "$@"' /usr/bin/crun "$@"\n`,
    );
  });

  it('describes the wrapper by what it does, and crun itself by nothing more', () => {
    expect(crunCgroupsNote(CRUN_WRAPPER)).toMatch(/cgroup v1 only/);
    expect(crunCgroupsNote('/usr/bin/crun')).toBeUndefined();
  });

  it('is unavailable without crun unless DOCKER_HOST names an engine (asked when provisioning)', () => {
    const up = { available: true } as const;
    expect(runtimeAvailability('crun', up, { PATH: '/nonexistent' })).toEqual({
      available: false,
      reason: expect.stringMatching(/^crun is not installed; fix: .*crun/),
    });
    expect(runtimeAvailability('crun', up, { PATH: '/nonexistent', DOCKER_HOST: 'tcp://h:2375' })).toBe(up);
    const down = { available: false, reason: 'no engine' } as const;
    expect(runtimeAvailability('crun', down, {})).toBe(down);
  });

  it('measures every benchmark (not a stand-in variant), needs crun, and asks whether the runtime matters', () => {
    expect(dockerPlatforms.names).toContain('docker-crun');
    expect(dockerPlatforms.variants?.['docker-crun']).toBeUndefined();
    expect(requirementsOf('docker-crun').packages).toContain('crun');
    const [question] = questionsFor(['docker', 'docker-crun']).filter((q) => /OCI runtime/.test(q.question));
    expect(question?.comparisons).toEqual([
      {
        platform: 'docker-crun',
        against: 'docker',
        benchmarks: ['cpu', 'mem', 'fork', 'fork-threads', 'disk-random', 'disk-copyup', 'nginx'],
      },
    ]);
  });
});
