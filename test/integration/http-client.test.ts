import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildProgram, workloadSource } from '../../src/workloads/build.js';
import { downloadInParallel, type DownloadPlan } from '../../src/workloads/nginx/http-download.js';
import { PROFILES } from '../../src/workloads/profiles.js';
import { workloads, type ServedContext, type ServedWorkload } from '../../src/workloads/index.js';

/*
 * The nginx benchmark's host-side client (src/workloads/nginx/httpget.c)
 * against a real nginx on 127.0.0.1, set up with the workload's own config,
 * content and start/stop commands, and against raw sockets that misbehave in
 * ways nginx never does.
 */

const quick = PROFILES.quick;
const nginx = workloads.nginx as ServedWorkload;
const FILE_BYTES = quick.nginx.fileMiB * 1024 * 1024;

let root: string;
let cacheDir: string;
let context: ServedContext;
let port: number;
const servers: Server[] = [];
const sockets: Socket[] = [];

/** A port nobody listens on right now (the kernel picks it, then we let go). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: chosen } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return chosen;
}

/** A TCP server on 127.0.0.1 that does `onConnection` with each client; closed in afterAll. */
async function rawServer(onConnection: (socket: Socket) => void): Promise<number> {
  const server = createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    onConnection(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

function plan(overrides: Partial<DownloadPlan> = {}): DownloadPlan {
  return {
    host: '127.0.0.1',
    port,
    path: '/payload.bin',
    expectedBytes: FILE_BYTES,
    parallel: 2,
    seconds: 1,
    maxDownloads: 1_000,
    downloadTimeoutSeconds: 30,
    timeoutMs: 60_000,
    ...overrides,
  };
}

const nginxPid = async () => Number(await readFile(join(context.dir, 'nginx.pid'), 'utf8').catch(() => '0'));

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'virtbench-http-client-'));
  await chmod(root, 0o755); // nginx workers started by root run as nobody
  cacheDir = join(root, 'cache');
  port = await freePort();
  // The served file comes from our payload generator, built as every platform gets it.
  const payload = await buildProgram(workloadSource('nginx/payload'), cacheDir);
  context = { dir: join(root, 'nginx'), listen: `127.0.0.1:${port}`, profile: quick, programs: { payload: payload.path } };
  for (const [file, ...args] of nginx.prepare(context)) await execa(file!, args);
  await writeFile(join(context.dir, nginx.configName), nginx.config(context));
  const [file, ...args] = nginx.start(context);
  await execa(file!, args);
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  if (context) {
    const pid = await nginxPid();
    const [file, ...args] = nginx.stop(context);
    await execa(file!, args, { reject: false });
    // nginx -s quit returns at once; the master leaves when its workers are done.
    for (const until = Date.now() + 10_000; pid && Date.now() < until; await new Promise((r) => setTimeout(r, 50))) {
      try {
        process.kill(pid, 0);
      } catch {
        break;
      }
    }
  }
  if (root) await rm(root, { recursive: true, force: true });
});

describe('the nginx client (httpget), one native process per lane', () => {
  it('downloads the whole file from every lane for about the given seconds and reports mean, count and MB/s', async () => {
    const figure = await downloadInParallel(plan(), { cacheDir });
    expect(figure.unit).toBe('s');
    expect(figure.extra).toMatchObject({ parallel: 2, client: 'httpget' });
    const downloads = Number(figure.extra.downloads);
    expect(downloads).toBeGreaterThanOrEqual(2);
    expect(figure.seconds).toBeGreaterThanOrEqual(1);
    expect(figure.seconds).toBeLessThan(30);
    // Two lanes back to back: the downloads' times add up to at most twice the elapsed time, and each takes some time.
    expect(figure.value).toBeGreaterThan(0);
    expect(figure.value * downloads).toBeLessThanOrEqual(2 * figure.seconds * 1.01);
    expect(figure.value * downloads).toBeGreaterThan(figure.seconds * 0.5);
    const megabytesPerSecond = (downloads * FILE_BYTES) / figure.seconds / 1e6;
    expect(Number(figure.extra.MBps)).toBeCloseTo(megabytesPerSecond, 0);
  });

  it('stops after max-downloads, shared out between the lanes, however many seconds are left', async () => {
    const figure = await downloadInParallel(plan({ seconds: 600, maxDownloads: 3 }), { cacheDir });
    expect(figure.extra.downloads).toBe(3);
    expect(figure.seconds).toBeLessThan(30);
  });

  it('is what the nginx workload measures with, on the host', async () => {
    const figure = await nginx.measure({ listen: context.listen, host: '127.0.0.1', port }, quick, { cacheDir });
    expect(figure.extra).toMatchObject({ parallel: quick.nginx.parallel, client: 'httpget' });
    expect(Number(figure.extra.downloads)).toBeGreaterThanOrEqual(quick.nginx.parallel);
  });

  it('fails on a body of another size than expected', async () => {
    await expect(downloadInParallel(plan({ expectedBytes: FILE_BYTES - 1 }), { cacheDir })).rejects.toMatchObject({
      code: 'VIRTBENCH_WORKLOAD_FAILED',
      message: expect.stringMatching(`Content-Length ${FILE_BYTES}, expected ${FILE_BYTES - 1} bytes`),
    });
  });

  it('fails on HTTP 404', async () => {
    await expect(downloadInParallel(plan({ path: '/missing.bin' }), { cacheDir })).rejects.toMatchObject({
      code: 'VIRTBENCH_WORKLOAD_FAILED',
      message: expect.stringMatching(/GET http:\/\/127\.0\.0\.1:\d+\/missing\.bin answered HTTP 404, expected 200/),
    });
  });

  it('fails when nobody listens on the port', async () => {
    const refused = await freePort();
    await expect(downloadInParallel(plan({ port: refused }), { cacheDir })).rejects.toMatchObject({
      code: 'VIRTBENCH_WORKLOAD_FAILED',
      message: expect.stringMatching(`connect to 127.0.0.1 port ${refused} failed: Connection refused`),
    });
  });

  it('fails when the server closes the connection before the whole body (no Content-Length to go by)', async () => {
    const short = await rawServer((socket) => {
      socket.once('data', () => socket.end('HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n' + 'x'.repeat(1000)));
    });
    await expect(downloadInParallel(plan({ port: short, expectedBytes: 4096 }), { cacheDir })).rejects.toMatchObject({
      message: expect.stringMatching(/short body: 1000 of 4096 bytes/),
    });
  });

  it('fails after the per-download timeout when the server never answers', async () => {
    const silent = await rawServer(() => {});
    const started = Date.now();
    await expect(downloadInParallel(plan({ port: silent, downloadTimeoutSeconds: 1 }), { cacheDir })).rejects.toMatchObject({
      message: expect.stringMatching(/timed out waiting for the response \(no data for 1 s/),
    });
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('an aborted run does not start the client', async () => {
    await expect(downloadInParallel(plan(), { cacheDir, signal: AbortSignal.abort() })).rejects.toThrow(/abort/i);
  });
});
