import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { qmpExecute } from '../../src/platforms/qemu/qmp.js';

/** A QMP peer as QEMU speaks it: greeting, capabilities handshake, events in between, one reply per command. */
function fakeQemu(path: string, seen: string[]): Promise<Server> {
  const server = createServer((socket) => {
    socket.write('{"QMP": {"version": {}, "capabilities": []}}\n');
    socket.on('data', (data) => {
      for (const line of data.toString().trim().split('\n')) {
        const { execute } = JSON.parse(line) as { execute: string };
        seen.push(execute);
        if (execute === 'qmp_capabilities') socket.write('{"return": {}}\n');
        else if (execute === 'stop') socket.write('{"event": "STOP", "data": {}}\n{"return": {}}\n');
        else if (execute === 'query-status') socket.write('{"return": {"status": "paused", "running": false}}\n');
        else socket.write(`{"error": {"class": "CommandNotFound", "desc": "The command ${execute} has not been found"}}\n`);
      }
    });
  });
  return new Promise((resolve) => server.listen(path, () => resolve(server)));
}

describe('QMP client', () => {
  let dir: string;
  let server: Server;
  const seen: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'virtbench-qmp-'));
    server = await fakeQemu(join(dir, 'qmp.sock'), seen);
  });
  afterAll(async () => {
    server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('negotiates capabilities, skips events, and returns the reply', async () => {
    await expect(qmpExecute(join(dir, 'qmp.sock'), 'stop')).resolves.toEqual({});
    expect(await qmpExecute(join(dir, 'qmp.sock'), 'query-status')).toEqual({ status: 'paused', running: false });
    expect(seen).toEqual(['qmp_capabilities', 'stop', 'qmp_capabilities', 'query-status']);
  });

  it("names QEMU's error, and a monitor that is gone, without an uncaught exception", async () => {
    await expect(qmpExecute(join(dir, 'qmp.sock'), 'bogus', 'qemu-tcg')).rejects.toThrow(/^\[qemu-tcg\] QMP bogus on .*: CommandNotFound/);
    await expect(qmpExecute(join(dir, 'gone.sock'), 'cont')).rejects.toMatchObject({
      code: 'VIRTBENCH_GUEST_LOST',
      message: expect.stringMatching(/cannot reach QEMU's monitor \(ENOENT\); did QEMU exit\?/),
    });
  });
});
