import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { processesWhere } from '../../src/host/process.js';

describe('processesWhere', () => {
  it('finds a process by its argv, never this one, and leaves out one that has exited', async () => {
    const marker = `virtbench-test-${randomBytes(6).toString('hex')}`;
    const script = 'setTimeout(() => {}, 30000)';
    const child = spawn(process.execPath, ['-e', script, marker], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => child.once('spawn', resolve));
      const found = processesWhere(({ argv }) => argv.includes(marker));
      expect(found).toEqual([{ pid: child.pid, argv: [process.execPath, '-e', script, marker, ''] }]);
      expect(processesWhere(({ pid }) => pid === process.pid)).toEqual([]);
      // A filter that throws (a file of the process gone while read) leaves that process out.
      expect(
        processesWhere(({ argv }) => {
          if (argv.includes(marker)) throw new Error('gone');
          return false;
        }),
      ).toEqual([]);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(processesWhere(({ argv }) => argv.includes(marker))).toEqual([]);
  });
});
