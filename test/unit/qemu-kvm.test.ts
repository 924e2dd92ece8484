import { describe, expect, it, vi } from 'vitest';
import { cpuHasVirtualization, kvmAvailability, probeKvm, sharedKvmProbe, type KvmHostFacts } from '../../src/platforms/qemu/kvm.js';

const usable: KvmHostFacts = { devKvm: true, devKvmReadWrite: true, cpuVirtualization: true, kvmPvm: false };

describe('KVM detection rule', () => {
  it('accepts a read/write /dev/kvm on a CPU with vmx or svm and no kvm_pvm', () => {
    expect(kvmAvailability(usable)).toEqual({ available: true });
  });

  it('names each failing condition on one line', () => {
    const result = kvmAvailability({ devKvm: false, devKvmReadWrite: false, cpuVirtualization: false, kvmPvm: true });
    expect(result.available).toBe(false);
    const reason = (result as { reason: string }).reason;
    expect(reason).not.toContain('\n');
    expect(reason).toMatch(/^KVM is not usable here: /);
    expect(reason).toContain('/dev/kvm does not exist');
    expect(reason).toContain('neither vmx nor svm');
    expect(reason).toContain('kvm_pvm');
  });

  it('rejects kvm_pvm even with a usable /dev/kvm: a stock Debian kernel does not boot under it', () => {
    expect(kvmAvailability({ ...usable, cpuVirtualization: false, kvmPvm: true })).toMatchObject({
      available: false,
      reason: expect.stringMatching(/kvm_pvm/),
    });
    expect(kvmAvailability({ ...usable, kvmPvm: true }).available).toBe(false);
  });

  it('rejects a /dev/kvm this user cannot open for writing, and says how to fix it', () => {
    const result = kvmAvailability({ ...usable, devKvmReadWrite: false });
    expect(result).toMatchObject({ available: false, reason: expect.stringMatching(/not readable and writable.*kvm group/) });
  });

  it('reads vmx/svm from the flags line of /proc/cpuinfo only', () => {
    expect(cpuHasVirtualization('processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n')).toBe(true);
    expect(cpuHasVirtualization('flags\t\t: fpu svm\n')).toBe(true);
    expect(cpuHasVirtualization('flags\t\t: fpu vme sse2 hypervisor\nmodel name\t: vmx-less svm-less\n')).toBe(false);
    expect(cpuHasVirtualization('flags\t\t: fpu vmxnot\n')).toBe(false);
  });
});

describe('KVM probe boot', () => {
  it('says yes when a guest boots, and stops that guest', async () => {
    const kill = vi.fn(async () => {});
    expect(await probeKvm(async () => ({ kill }))).toEqual({ available: true });
    expect(kill).toHaveBeenCalledOnce();
  });

  it("says no with the boot failure's first line", async () => {
    const boot = async () => {
      throw new Error(
        '[qemu-kvm] the guest did not answer on ssh within 30.0 s (kvm); QEMU was killed\nguest console (last lines):\nDecompressing Linux...',
      );
    };
    expect(await probeKvm(boot)).toEqual({
      available: false,
      reason:
        'KVM passed the static checks, but a probe boot failed: [qemu-kvm] the guest did not answer on ssh within 30.0 s (kvm); QEMU was killed',
    });
  });

  it('runs once per process, whichever kvm variant asks first', async () => {
    const store = {};
    const probe = vi.fn(async () => ({ available: false as const, reason: 'no' }));
    const verdicts = await Promise.all([sharedKvmProbe(probe, store), sharedKvmProbe(probe, store), sharedKvmProbe(probe, store)]);
    expect(probe).toHaveBeenCalledOnce();
    expect(verdicts).toEqual([
      { available: false, reason: 'no' },
      { available: false, reason: 'no' },
      { available: false, reason: 'no' },
    ]);
  });
});
