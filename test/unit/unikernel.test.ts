import { describe, expect, it } from 'vitest';
import { writeCpio } from '../../src/platforms/unikernel/cpio.js';
import { defaultCommand, expandCommand, normalizeResult, validateImageOptions } from '../../src/platforms/unikernel/guest-command.js';
import { unikernelPlatforms } from '../../src/platforms/unikernel/index.js';

describe('writeCpio (newc)', () => {
  it('writes headers, 4-byte padding and the trailer the kernel expects', () => {
    const archive = writeCpio([
      { kind: 'char', path: 'dev/console', major: 5, minor: 1 },
      { kind: 'file', path: 'init', data: Buffer.from('abc'), mode: 0o755 },
    ]);
    const text = archive.toString('latin1');
    expect(text.startsWith('070701')).toBe(true);
    // console: mode 020600, rdev 5:1, name length 12 ("dev/console\0")
    expect(text.slice(6 + 8, 6 + 16)).toBe('00002180');
    expect(text.slice(6 + 8 * 9, 6 + 8 * 11)).toBe('0000000500000001');
    const init = text.indexOf('070701', 6);
    expect(init % 4).toBe(0);
    expect(text.slice(init + 6 + 8, init + 6 + 16)).toBe('000081ed'); // 0100755
    expect(text.slice(init + 6 + 8 * 6, init + 6 + 8 * 7)).toBe('00000003'); // file size
    expect(text).toContain('init\0');
    expect(text).toContain('abc');
    expect(text).toContain('TRAILER!!!\0');
    expect(archive.length % 4).toBe(0);
  });
});

describe('unikernel command templates', () => {
  const values = {
    qemu: 'qemu-system-x86_64',
    accel: 'tcg',
    kernel: '/k',
    initrd: '/i.cpio',
    args: ['100', '100', '0.5'],
    pidfile: '/w/1.pid',
  };

  it('fills the built-in template: the workload arguments follow "--" on the kernel command line', () => {
    const argv = expandCommand(defaultCommand('pc', 512, 2), values);
    expect(argv).toContain('/k');
    expect(argv[argv.indexOf('-initrd') + 1]).toBe('/i.cpio');
    expect(argv[argv.indexOf('-append') + 1]).toBe('console=ttyS0 quiet loglevel=0 panic=-1 -- 100 100 0.5');
    expect(argv.slice(-2)).toEqual(['-pidfile', '/w/1.pid']);
  });

  it('refuses arguments that cannot travel on a kernel command line', () => {
    expect(() => expandCommand(defaultCommand('pc', 512, 2), { ...values, args: ['two words'] })).toThrow(
      /cannot travel on a kernel command line/,
    );
  });

  const user = { command: ['{qemu}', '-kernel', '{image}', '-append', '{args}'], images: { linpack: '/img/linpack' } };

  it('accepts a user template and fills {image}', () => {
    expect(() => validateImageOptions(user)).not.toThrow();
    expect(expandCommand(user.command, { ...values, image: '/img/linpack', initrd: undefined })).toEqual([
      'qemu-system-x86_64',
      '-kernel',
      '/img/linpack',
      '-append',
      '100 100 0.5',
      '-pidfile',
      '/w/1.pid',
    ]);
  });

  it('is validated where the options come in: virtbench({ unikernel })', () => {
    expect(unikernelPlatforms.optionsKey).toBe('unikernel');
    expect(unikernelPlatforms.validateOptions!(user)).toBe(user);
    expect(() => unikernelPlatforms.validateOptions!('qemu -kernel x')).toThrow(/must be an object with "command" and "images"/);
    expect(() => unikernelPlatforms.validateOptions!(null)).toThrow(/must be an object/);
  });

  it.each([
    [{ ...user, command: 'qemu -kernel x' as never }, /non-empty array of strings/],
    [{ ...user, command: ['qemu-system-x86_64 -kernel {image}'] }, /looks like a shell string/],
    [{ ...user, command: ['{qemu}', '-kernel', '{img}'] }, /unknown placeholder \{img\}.*known: \{qemu\}/],
    [{ ...user, command: ['{qemu}', '-kernel', '/fixed'] }, /must use \{image\}/],
    [{ ...user, images: {} }, /"images" must map/],
    [{ ...user, resultPattern: '([' }, /not a regular expression/],
    [{ ...user, resultPattern: '(?<value>\\d+)' }, /named group \(\?<unit>/],
  ])('rejects a bad template with the reason (%#)', (options, message) => {
    expect(() => validateImageOptions(options)).toThrow(message);
  });

  it("turns a user image's own result format into our RESULT line", () => {
    const pattern = 'linpack: (?<value>[\\d.]+) (?<unit>\\S+) in (?<seconds>[\\d.]+) s';
    expect(normalizeResult('boot...\nlinpack: 1234.5 kFLOPS in 2.5 s\n', pattern)).toMatch(
      /\nRESULT value=1234\.5 unit=kFLOPS seconds=2\.5\n$/,
    );
    expect(normalizeResult('no result here\n', pattern)).toBe('no result here\n');
  });
});
