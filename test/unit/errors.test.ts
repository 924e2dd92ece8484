import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it, vi } from 'vitest';
import {
  AbRunFailedError,
  BadOptionError,
  BadOutputError,
  BadResultsFileError,
  BootFailedError,
  BootTimeoutError,
  BuildFailedError,
  CommandFailedError,
  GuestLostError,
  HostKeyMismatchError,
  ImplausibleFigureError,
  MissingToolError,
  PlatformUnavailableError,
  TurnstileError,
  VirtbenchError,
  WorkloadFailedError,
  isVirtbenchError,
  onPlatform,
  type VirtbenchErrorCode,
} from '../../src/errors.js';
import { isKind } from '../../src/host/kind.js';
import { packageRoot } from '../../src/host/paths.js';
import { isPlatformUnavailable } from '../../src/platforms/platform.js';
import { TurnReporter, isTurnReporter } from '../../src/runtime/turn-reporter.js';
import { VirtbenchReporter } from '../../src/reporters/virtbench-reporter.js';
import { TurnstileError as TurnstileErrorOfTheTurnstile } from '../../src/turnstile/index.js';
import type { ExecResult } from '../../src/platforms/platform.js';

/*
 * Every error virtbench raises is the class of its code (src/errors.ts), and is told apart by
 * isVirtbenchError, which recognizes one made by another copy of the module, as Vitest makes one a
 * project and worker: instanceof does not.
 */

/** The codes of the VirtbenchErrorCode union, as the README's table is checked against them. */
const union = /export type VirtbenchErrorCode =([^;]*);/.exec(readFileSync(join(packageRoot, 'src/errors.ts'), 'utf8'))![1]!;
const CODES = [...union.matchAll(/'(VIRTBENCH_\w+)'/g)].map((m) => m[1] as VirtbenchErrorCode);

const failed: ExecResult = { command: ['spin', '64'], exitCode: 3, stdout: '', stderr: 'diagnostic', wallMs: 12, timedOut: false };

/** One error of each class, made as its call sites make it, with the code it must carry. */
const MADE: [VirtbenchErrorCode, abstract new (...args: never[]) => VirtbenchError, () => VirtbenchError][] = [
  ['VIRTBENCH_BAD_OPTION', BadOptionError, () => new BadOptionError('bad')],
  ['VIRTBENCH_PLATFORM_UNAVAILABLE', PlatformUnavailableError, () => new PlatformUnavailableError('no engine', { platform: 'docker' })],
  ['VIRTBENCH_MISSING_TOOL', MissingToolError, () => new MissingToolError('no fio')],
  ['VIRTBENCH_BUILD_FAILED', BuildFailedError, () => new BuildFailedError('cc failed')],
  ['VIRTBENCH_WORKLOAD_FAILED', WorkloadFailedError, () => new WorkloadFailedError('mock', 'spin', failed)],
  ['VIRTBENCH_BAD_OUTPUT', BadOutputError, () => new BadOutputError('spin', 'no RESULT line', 'garbage')],
  [
    'VIRTBENCH_IMPLAUSIBLE_FIGURE',
    ImplausibleFigureError,
    () => new ImplausibleFigureError('mock', 'spin', { value: 0, unit: 's' }, 'zero', ''),
  ],
  ['VIRTBENCH_BAD_RESULTS_FILE', BadResultsFileError, () => new BadResultsFileError('not JSON')],
  ['VIRTBENCH_BOOT_FAILED', BootFailedError, () => new BootFailedError('QEMU exited')],
  ['VIRTBENCH_BOOT_TIMEOUT', BootTimeoutError, () => new BootTimeoutError('no answer')],
  ['VIRTBENCH_HOST_KEY_MISMATCH', HostKeyMismatchError, () => new HostKeyMismatchError('another key')],
  ['VIRTBENCH_GUEST_LOST', GuestLostError, () => new GuestLostError('connection reset')],
  ['VIRTBENCH_AB_RUN_FAILED', AbRunFailedError, () => new AbRunFailedError('no results')],
  ['VIRTBENCH_TURNSTILE_FAILED', TurnstileError, () => new TurnstileError('closed')],
];

describe('errors: one class per code', () => {
  it('has a class for every code of VirtbenchErrorCode', () => {
    expect(CODES.length).toBeGreaterThan(10);
    expect(MADE.map(([code]) => code).sort()).toEqual([...CODES].sort());
    expect(new Set(MADE.map(([, made]) => made)).size).toBe(MADE.length);
  });

  it.each(MADE)('%s: its class carries it, and is a VirtbenchError', (code, made, make) => {
    const error = make();
    expect(error.code).toBe(code);
    expect(error).toBeInstanceOf(made);
    expect(error).toBeInstanceOf(VirtbenchError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe(made === TurnstileError ? 'TurnstileError' : 'VirtbenchError');
    expect(isVirtbenchError(error)).toBe(true);
    expect(isVirtbenchError(error, code)).toBe(true);
    expect(isVirtbenchError(error, code === 'VIRTBENCH_BAD_OPTION' ? 'VIRTBENCH_GUEST_LOST' : 'VIRTBENCH_BAD_OPTION')).toBe(false);
  });

  it('names the platform in the message and keeps the cause, as every error did', () => {
    const cause = new Error('ECONNRESET');
    const error = new GuestLostError('lost the guest', { platform: 'qemu-kvm', cause });
    expect(error).toMatchObject({ message: '[qemu-kvm] lost the guest', platform: 'qemu-kvm', cause, code: 'VIRTBENCH_GUEST_LOST' });
    expect(new BadOptionError('bad')).toMatchObject({ message: 'bad', platform: undefined, cause: undefined });
  });

  it('keeps the kind out of sight: not a key, not in a printed error', () => {
    const error = new BadOptionError('bad');
    expect(Object.keys(error)).toEqual(['code', 'platform', 'name']);
    expect(inspect(error)).not.toContain('virtbench.kind');
    expect(Object.getOwnPropertySymbols(error)).toEqual([]);
  });

  it('PlatformUnavailableError: the (platform, reason) form is skipped by the run, the message form fails it', () => {
    const skipped = new PlatformUnavailableError('qemu-kvm', 'probe boot failed');
    expect(skipped).toMatchObject({ message: '[qemu-kvm] probe boot failed', platform: 'qemu-kvm', reason: 'probe boot failed' });
    expect(isPlatformUnavailable(skipped)).toBe(true);
    const fatal = new PlatformUnavailableError('the private dockerd did not answer', { platform: 'docker' });
    expect(fatal).toMatchObject({ message: '[docker] the private dockerd did not answer', code: 'VIRTBENCH_PLATFORM_UNAVAILABLE' });
    expect(fatal.reason).toBeUndefined();
    expect(isPlatformUnavailable(fatal)).toBe(false);
    expect(isPlatformUnavailable(Object.assign(new Error('look-alike'), { reason: 'x', code: 'VIRTBENCH_PLATFORM_UNAVAILABLE' }))).toBe(
      false,
    );
  });

  it('WorkloadFailedError: the command form carries the result and the message of a failed command; the message form neither', () => {
    const ofCommand = new WorkloadFailedError('mock', 'spin', failed);
    expect(ofCommand.result).toBe(failed);
    expect(ofCommand.message).toBe(new CommandFailedError('VIRTBENCH_WORKLOAD_FAILED', 'spin', failed, { platform: 'mock' }).message);
    expect(ofCommand.message).toBe('[mock] spin failed: `spin 64` exited with code 3\nstderr:\ndiagnostic');
    const timedOut = new WorkloadFailedError('mock', 'spin', { ...failed, timedOut: true });
    expect(timedOut.message).toMatch(/timed out after 12 ms\n.*\nfix: spin was stopped at its time limit/s);
    const ofMessage = new WorkloadFailedError('server did not accept connections', { platform: 'mock' });
    expect(ofMessage).toMatchObject({ message: '[mock] server did not accept connections', code: 'VIRTBENCH_WORKLOAD_FAILED' });
    expect(ofMessage.result).toBeUndefined();
    expect(Object.keys(ofMessage)).not.toContain('result');
  });

  it('CommandFailedError takes the code runChecked passes through', () => {
    const error = new CommandFailedError('VIRTBENCH_MISSING_TOOL', 'building spin.c', failed, { fix: 'apt-get install gcc' });
    expect(error).toMatchObject({ code: 'VIRTBENCH_MISSING_TOOL', result: failed });
    expect(error.message).toMatch(/^building spin\.c failed: `spin 64` exited with code 3\n.*\nfix: apt-get install gcc$/s);
    expect(isVirtbenchError(error, 'VIRTBENCH_MISSING_TOOL')).toBe(true);
  });

  it('onPlatform: the same code and message, on the platform, with the original as its cause', () => {
    const parsed = new BadOutputError('spin', 'no RESULT line', 'garbage');
    const named = onPlatform(parsed, 'mock');
    expect(named).toMatchObject({ code: 'VIRTBENCH_BAD_OUTPUT', platform: 'mock', cause: parsed, message: `[mock] ${parsed.message}` });
  });

  it('the turnstile re-exports the one TurnstileError', () => {
    expect(TurnstileErrorOfTheTurnstile).toBe(TurnstileError);
  });
});

describe('errors: recognized across copies of the module', () => {
  /** A second copy of the module, as another Vitest project or the package's dist/ would load it. */
  async function anotherCopy<T>(load: () => Promise<T>): Promise<T> {
    vi.resetModules();
    return await load();
  }

  it('isVirtbenchError recognizes an error made by another copy, which instanceof does not', async () => {
    const copy = await anotherCopy(() => import('../../src/errors.js'));
    expect(copy.GuestLostError).not.toBe(GuestLostError);
    const theirs = new copy.GuestLostError('connection reset', { platform: 'qemu-kvm' });
    expect(theirs).not.toBeInstanceOf(VirtbenchError);
    expect(theirs).not.toBeInstanceOf(GuestLostError);
    expect(isVirtbenchError(theirs)).toBe(true);
    expect(isVirtbenchError(theirs, 'VIRTBENCH_GUEST_LOST')).toBe(true);
    expect(isVirtbenchError(theirs, 'VIRTBENCH_BOOT_FAILED')).toBe(false);
    // And the other way round.
    expect(copy.isVirtbenchError(new BadOptionError('bad'), 'VIRTBENCH_BAD_OPTION')).toBe(true);
  });

  it('isPlatformUnavailable recognizes the skip of another copy, and not its fatal form', async () => {
    const copy = await anotherCopy(() => import('../../src/errors.js'));
    expect(isPlatformUnavailable(new copy.PlatformUnavailableError('qemu-kvm', 'no KVM here'))).toBe(true);
    expect(isPlatformUnavailable(new copy.PlatformUnavailableError('gone', { platform: 'docker' }))).toBe(false);
  });

  it('the reporters the plugin adds once are recognized in any copy, alone or with their options', async () => {
    const turns = await anotherCopy(() => import('../../src/runtime/turn-reporter.js'));
    expect(turns.TurnReporter).not.toBe(TurnReporter);
    expect(isTurnReporter(new turns.TurnReporter())).toBe(true);
    expect(isTurnReporter([new turns.TurnReporter(), {}])).toBe(true);
    expect(isTurnReporter(new VirtbenchReporter({ reportDir: 'r', profile: 'quick' }))).toBe(false);
    expect(isTurnReporter('default')).toBe(false);
    const reporters = await anotherCopy(() => import('../../src/reporters/virtbench-reporter.js'));
    expect(reporters.VirtbenchReporter).not.toBe(VirtbenchReporter);
    expect(isKind(new reporters.VirtbenchReporter({ reportDir: 'r', profile: 'quick' }), 'virtbench-reporter')).toBe(true);
    expect(isKind(new TurnReporter(), 'virtbench-reporter')).toBe(false);
  });

  it('recognizes nothing else: a plain Error, a look-alike with a code, a value that is no object', () => {
    expect(isVirtbenchError(new Error('bad'))).toBe(false);
    expect(isVirtbenchError(Object.assign(new Error('bad'), { code: 'VIRTBENCH_BAD_OPTION', name: 'VirtbenchError' }))).toBe(false);
    expect(isVirtbenchError({ code: 'VIRTBENCH_BAD_OPTION' }, 'VIRTBENCH_BAD_OPTION')).toBe(false);
    for (const value of [undefined, null, 'VIRTBENCH_BAD_OPTION', 42]) expect(isVirtbenchError(value)).toBe(false);
    expect(isKind(new Error('bad'), 'error')).toBe(false);
  });
});
