import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';
import { connectSsh, type SshSession } from '../../src/host/ssh.js';

/*
 * A paused guest answers nothing: QEMU's user networking still takes the bytes, but the ssh server
 * behind it runs no more. Here an ssh2 server behind a proxy that can hold every byte (as a guest
 * stopped through QMP) shows the rule of host/ssh.ts: silence ends the connection, unless the end was
 * paused on purpose (setPeerPaused), and a paused end answers again on resume.
 */

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const hostKey = ssh2.utils.generateKeyPairSync('ed25519');
const clientKey = ssh2.utils.generateKeyPairSync('ed25519');
/** The server's host key blob, as a guest image pins it. */
const pinnedHostKey = (ssh2.utils.parseKey(hostKey.public) as ssh2.ParsedKey).getPublicSSH().toString('base64');

/** An ssh server whose every exec prints "ok" and exits 0. */
async function sshServer(): Promise<number> {
  const server = new ssh2.Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('error', () => {});
    client.on('authentication', (auth) => (auth.method === 'publickey' ? auth.accept() : auth.reject(['publickey'])));
    client.on('session', (accept) =>
      accept().on('exec', (acceptExec) => {
        const channel = acceptExec();
        channel.write('ok\n');
        channel.exit(0);
        channel.end();
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return (server.address() as AddressInfo).port;
}

/** A TCP proxy that, while held, passes no byte either way (they wait, as in QEMU's user networking). */
async function holdingProxy(target: number): Promise<{ port: number; hold(on: boolean): void }> {
  const pairs: [Socket, Socket][] = [];
  let held = false;
  const server: Server = createServer((inbound) => {
    const upstream = connect(target, '127.0.0.1');
    pairs.push([inbound, upstream]);
    for (const [from, to] of [
      [inbound, upstream],
      [upstream, inbound],
    ] as const) {
      from.on('error', () => {});
      from.on('data', (chunk) => to.write(chunk));
      from.on('close', () => to.destroy());
      if (held) from.pause();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const pair of pairs) for (const socket of pair) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return {
    port: (server.address() as AddressInfo).port,
    hold(on) {
      held = on;
      for (const pair of pairs)
        for (const socket of pair)
          if (on) socket.pause();
          else socket.resume();
    },
  };
}

async function connectThrough(port: number): Promise<SshSession> {
  const session = await connectSsh({
    platform: 'test',
    host: '127.0.0.1',
    port,
    privateKey: clientKey.private,
    hostKeys: [pinnedHostKey],
    peer: { what: 'the test server', pinnedBy: 'the test', lostHint: '', loginFix: '', timeoutFix: '', mismatchHint: '' },
    keepalive: { intervalMs: 100, silenceLimitMs: 500 },
  });
  cleanups.push(() => session.close());
  return session;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('an ssh end that stops answering', () => {
  it('ends the connection after the silence limit, and the next command says why', async () => {
    const proxy = await holdingProxy(await sshServer());
    const session = await connectThrough(proxy.port);
    expect((await session.run('true')).stdout).toBe('ok\n');
    proxy.hold(true);
    await sleep(1_000);
    expect(session.closed).toBe(true);
    await expect(session.run('true')).rejects.toMatchObject({
      code: 'VIRTBENCH_GUEST_LOST',
      message: expect.stringContaining('the test server answered no keepalive for 0.5 s'),
    });
  });

  it('keeps the connection while the end is paused on purpose, however long, and runs commands again once resumed', async () => {
    const proxy = await holdingProxy(await sshServer());
    const session = await connectThrough(proxy.port);
    session.setPeerPaused(true);
    proxy.hold(true);
    await sleep(1_500); // three silence limits
    expect(session.closed).toBe(false);
    proxy.hold(false);
    session.setPeerPaused(false);
    expect((await session.run('true')).stdout).toBe('ok\n');
    await sleep(700); // the keepalives are answered again: no silence after the resume
    expect(session.closed).toBe(false);
  });
});
