import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { turnstileAddress } from '../../src/turnstile/index.js';
import { LINE_MAX, LineReader, TurnstileError } from '../../src/turnstile/protocol.js';
import { turnstileSetups } from '../turnstile-setup.js';

/*
 * Any local user can connect to the turnstile's socket (an abstract name is listed in /proc/net/unix).
 * Before it presents the secret, such a connection gets nothing, holds nothing, and moves nothing.
 */

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const FILE = 'bench/cpu.bench.ts';
const socketOf = (address: string) => address.slice(0, address.lastIndexOf('#'));
const secretOf = (address: string) => address.slice(address.lastIndexOf('#') + 1);

const { setup, cleanups } = turnstileSetups('unit-strangers');

/** A raw connection to a socket, as another local user would make; its write errors (the server closed it) are expected. */
async function stranger(socket: string): Promise<net.Socket & { gone: Promise<number> }> {
  const connection = net.createConnection(socket);
  connection.on('error', () => {});
  await new Promise((resolve) => connection.once('connect', resolve));
  const since = Date.now();
  cleanups.push(() => connection.destroy());
  return Object.assign(connection, { gone: new Promise<number>((resolve) => connection.once('close', () => resolve(Date.now() - since))) });
}

/** Resolves to the value, or to 'still open' after ms. */
const within = <T>(promise: Promise<T>, ms: number) => Promise.race([promise, sleep(ms).then(() => 'still open' as const)]);

describe('the turnstile and connections that have not presented its secret', () => {
  it('closes one that floods it with MiB without a line end, and serves the others on, in bounded time', async () => {
    const { server, connect, lines } = await setup(['a']);
    const flood = await stranger(socketOf(server.address));
    const started = Date.now();
    flood.write('x'.repeat(8 * 1024 * 1024));
    expect(await within(flood.gone, 3_000)).toBeTypeOf('number');
    expect(lines.join('\n')).toMatch(
      /dropped a connection that sent a line longer than 1024 characters before presenting the turnstile's secret/,
    );
    const a = await connect('a');
    const room = a.room(FILE, 'cpu');
    await expect(room.turn(async ({ round }) => round)).resolves.toBe(0);
    await room.done();
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('logs what a stranger sent with its control characters escaped, on one line', async () => {
    const { server, lines } = await setup(['a']);
    const noise = await stranger(socketOf(server.address));
    noise.write('\x1b[2J::error::x\r\n');
    expect(await within(noise.gone, 3_000)).toBeTypeOf('number');
    expect(lines.join('\n')).toContain('sent something other than JSON: \\x1b[2J::error::x\\r');
    expect(lines.some((line) => [...line].some((ch) => ch.charCodeAt(0) < 0x20))).toBe(false);
  });

  it('closes an authenticated connection whose line passes LINE_MAX, and serves the others on', async () => {
    const { server, connect, lines } = await setup(['a']);
    const big = await stranger(socketOf(server.address));
    big.write(JSON.stringify({ op: 'auth', secret: secretOf(server.address) }) + '\n');
    big.write(`{"op":"hello","platform":"${'x'.repeat(LINE_MAX)}"}\n`);
    expect(await within(big.gone, 3_000)).toBeTypeOf('number');
    expect(lines.join('\n')).toMatch(new RegExp(`dropped a connection that sent a line longer than ${LINE_MAX} characters$`, 'm'));
    const room = (await connect('a')).room(FILE, 'cpu');
    await expect(room.turn(async ({ round }) => round)).resolves.toBe(0);
  });

  it('closes one that does not present the secret within authMs, and what it sends does not hold off the stall detector', async () => {
    const { server, connect, lines } = await setup(['a', 'b'], { gatherMs: 300, authMs: 1_500 });
    server.plan([['bench/mem.bench.ts', ['a', 'b']]]);
    // It never ends a line, but sends something every 50 ms, for 2.5 s at most.
    const trickle = await stranger(socketOf(server.address));
    const dripping = setInterval(() => trickle.writable && trickle.write(' '), 50);
    const dry = setTimeout(() => clearInterval(dripping), 2_500);
    cleanups.push(() => (clearInterval(dripping), clearTimeout(dry)));
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    // Each waits for the other in a different room: only the stall detector (gatherMs without progress) starts them.
    const started = Date.now();
    await Promise.all([a.room('bench/mem.bench.ts', 'mem').turn(() => sleep(1)), b.room(FILE, 'cpu').turn(() => sleep(1))]);
    expect(Date.now() - started).toBeLessThan(1_200);
    const closedAfter = await within(trickle.gone, 3_000);
    expect(closedAfter).toBeGreaterThanOrEqual(1_450);
    expect(closedAfter).toBeLessThan(2_500);
    expect(lines.join('\n')).toMatch(/dropped a connection that did not present the turnstile's secret within 1500 ms/);
  }, 10_000);

  it('closes a silent one too, and keeps an authenticated one open past authMs', async () => {
    const { server, connect } = await setup(['a'], { authMs: 300 });
    const silent = await stranger(socketOf(server.address));
    const a = await connect('a');
    expect(await within(silent.gone, 2_000)).toBeTypeOf('number');
    await sleep(300);
    expect(a.closed).toBe(false);
    await expect(a.room(FILE, 'cpu').turn(async ({ round }) => round)).resolves.toBe(0);
  });
});

describe("the turnstile's name", () => {
  it('is not predictable: two addresses of one process and tag differ in name, not only in secret', () => {
    const [one, two] = [turnstileAddress('same'), turnstileAddress('same')];
    expect(socketOf(one)).not.toBe(socketOf(two));
    expect(socketOf(one)).toMatch(/virtbench-turns-same-[0-9a-f]{16}/);
  });

  it('taken by another process before the turnstile starts: it listens on another, and clients reach it there', async () => {
    const taken = `\0virtbench-unit-taken-${process.pid}`;
    const squatter = net.createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => squatter.listen(taken, resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(resolve)));
    const secret = 'f'.repeat(32);
    const { server, connect, lines } = await setup(['a'], { address: `${taken}#${secret}` });
    expect(socketOf(server.address)).toMatch(new RegExp(`virtbench-unit-taken-${process.pid}-[0-9a-f]{16}$`));
    expect(secretOf(server.address)).toBe(secret);
    expect(lines.join('\n')).toMatch(/virtbench-unit-taken-\d+ is taken \(another process listens there\): listening on @?\S+ instead/);
    const room = (await connect('a')).room(FILE, 'cpu');
    await expect(room.turn(async ({ round }) => round)).resolves.toBe(0);
  });
});

describe('LineReader', () => {
  it('cuts chunks into lines, each within the length allowed when it is taken; a longer one, ended or not, throws', () => {
    const reader = new LineReader(4);
    expect([...reader.lines('ab')]).toEqual([]);
    expect([...reader.lines('c\nd')]).toEqual(['abc']);
    // Raised by the first line of a chunk, for the next.
    const taken: string[] = [];
    for (const line of reader.lines('\n123456\n')) {
      taken.push(line);
      reader.maxLength = 10;
    }
    expect(taken).toEqual(['d', '123456']);
    reader.maxLength = 4;
    expect(() => [...reader.lines('12345\n')]).toThrow(TurnstileError);
    expect(() => [...reader.lines('123')]).not.toThrow();
    expect(() => [...reader.lines('45')]).toThrow(/a line longer than 4 characters/);
  });
});
