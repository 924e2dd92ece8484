import net from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import {
  TurnstileError,
  externalTurnstile,
  startTurnstile,
  turnstileAddress,
  turnstileFile,
  useSharedTurnstile,
  type TurnstileClient,
} from '../../src/turnstile/index.js';
import { connectTurnstile } from '../../src/turnstile/client.js';
import { VirtbenchError } from '../../src/errors.js';
import { connectTurnstileControl } from '../../src/turnstile/shared.js';
import { arrangeTogether, notRunPlatforms } from '../../src/runtime/turn-reporter.js';
import { roundOrder } from '../../src/turnstile/round-order.js';
import type { TestProject, TestSpecification } from 'vitest/node';
import { turnstileSetups } from '../turnstile-setup.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The first seed whose round 0 puts these platforms in this order (round 1 then in the reverse). */
function seedOrdering(...platforms: string[]): number {
  let seed = 0;
  while (roundOrder(platforms, seed, 0).join() !== platforms.join()) seed++;
  return seed;
}
/** Round 0 in alphabetical order, whoever takes part (the order of two platforms does not depend on the others): tests can say who goes first. */
const ALPHABETICAL = seedOrdering('a', 'b', 'c', 'd');

const { setup, cleanups } = turnstileSetups('unit', { roundSeed: ALPHABETICAL });

/** Each client takes `runs` turns of `ms` in one room, then waits at the end barrier; returns the log of turns. */
async function takeTurns(clients: TurnstileClient[], runs: number | Record<string, number>, file: string, ms = 2, log: string[] = []) {
  await Promise.all(
    clients.map(async (client) => {
      const room = client.room(file, 'cpu');
      const n = typeof runs === 'number' ? runs : (runs[client.platform] ?? 0);
      for (let i = 0; i < n; i++) {
        await room.turn(async ({ round }) => {
          log.push(`${client.platform}${round}`);
          await sleep(ms);
        });
      }
      await room.done();
      log.push(`${client.platform} done`);
    }),
  );
  return log;
}

describe('turnstile', () => {
  it('gives every platform one turn per round, in the order the seed gives that round', async () => {
    const { server, connect, file } = await setup(['a', 'b', 'c'], { roundSeed: 2024 });
    expect(server.roundOrder).toEqual({ kind: 'random', seed: 2024 });
    // c comes last: the room waits for it before the first turn.
    const a = await connect('a');
    const b = await connect('b');
    const late = sleep(50).then(() => connect('c'));
    const rounds = 8;
    const log = await takeTurns([a, b, await late], rounds, file, 1);
    const expected = Array.from({ length: rounds }, (_, r) => roundOrder(['a', 'b', 'c'], 2024, r).map((p) => `${p}${r}`)).flat();
    expect(log.slice(0, 3 * rounds)).toEqual(expected);
    // Not a rotation, where a, b and c only ever followed each other as a>b, b>c and c>a within a round.
    const followed = new Set(log.slice(0, 3 * rounds).flatMap((turn, i) => (i % 3 === 0 ? [] : [`${log[i - 1]![0]}>${turn[0]}`])));
    expect(followed.size).toBeGreaterThan(3);
  });

  it('draws its seed from VIRTBENCH_ROUND_SEED, else at random', async () => {
    const { server } = await setup(['a'], { roundSeed: undefined });
    expect(server.roundOrder).toEqual({ kind: 'random', seed: expect.any(Number) });
    vi.stubEnv('VIRTBENCH_ROUND_SEED', '31337');
    try {
      expect((await setup(['a'], { roundSeed: undefined })).server.roundOrder).toEqual({ kind: 'random', seed: 31337 });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('runs a single platform as a plain sequence, without waiting', async () => {
    const { connect, file } = await setup(['a'], { gatherMs: 60_000 });
    const started = Date.now();
    expect(await takeTurns([await connect('a')], 3, file)).toEqual(['a0', 'a1', 'a2', 'a done']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('does not wait for a platform that skips the benchmark, but that one waits at the end barrier', async () => {
    const { connect, file } = await setup(['a', 'b', 'c'], { gatherMs: 60_000 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(connect));
    const log: string[] = [];
    const skipper = (async () => {
      const room = c!.room(file, 'cpu');
      room.skip();
      await room.done();
      log.push('c done');
    })();
    await takeTurns([a!, b!], 2, file, 20, log);
    await skipper;
    expect(log.indexOf('c done')).toBeGreaterThan(log.indexOf('a1'));
    expect(log.filter((l) => /\d$/.test(l))).toEqual(['a0', 'b0', 'b1', 'a1']);
  });

  it('does not wait for an unavailable platform nor for one whose bench file ended', async () => {
    const { server, connect, file } = await setup(['a', 'b', 'c'], { gatherMs: 60_000 });
    server.unavailable('b');
    server.moduleEnded('c', file);
    const started = Date.now();
    expect(await takeTurns([await connect('a')], 2, file)).toEqual(['a0', 'a1', 'a done']);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('gives up on a platform that never comes after gatherMs, saying so', async () => {
    const { connect, file, lines } = await setup(['a', 'b'], { gatherMs: 150 });
    const started = Date.now();
    expect(await takeTurns([await connect('a')], 2, file)).toEqual(['a0', 'a1', 'a done']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(lines.join('\n')).toMatch(/cpu: started without b, who did not come in time/);
  });

  it('waits for a platform still preparing, and for one that is on an earlier benchmark', async () => {
    const { server, connect, file } = await setup(['a', 'b'], { gatherMs: 100 });
    server.plan([['bench/mem.bench.ts', ['a', 'b']]]);
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    // b is still on cpu (far longer than gatherMs) when a reaches mem.
    const bCpu = b!.room(file, 'cpu');
    const bCpuDone = (async () => {
      await bCpu.exclusive(() => sleep(300));
      await bCpu.turn(() => sleep(10));
      await bCpu.done();
    })();
    a!.room(file, 'cpu').skip();
    const aMem = a!.room('bench/mem.bench.ts', 'mem');
    const order: string[] = [];
    const aTurn = aMem.turn(async () => void order.push('a mem'));
    await bCpuDone;
    const bMem = b!.room('bench/mem.bench.ts', 'mem');
    await bMem.exclusive(async () => void order.push('b prepared mem'));
    await Promise.all([aTurn, bMem.turn(async () => void order.push('b mem'))]);
    expect(order).toEqual(['b prepared mem', 'a mem', 'b mem']);
  });

  it('starts waiting rooms when nothing has moved for gatherMs (no deadlock between two rooms)', async () => {
    const { server, connect, file, lines } = await setup(['a', 'b'], { gatherMs: 100 });
    server.plan([['bench/mem.bench.ts', ['a', 'b']]]);
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    // Each waits for the other in a different room, and nothing else runs.
    const started = Date.now();
    await Promise.all([a!.room('bench/mem.bench.ts', 'mem').turn(() => sleep(1)), b!.room(file, 'cpu').turn(() => sleep(1))]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
    expect(lines.join('\n')).toMatch(/started without/);
  });

  it('grants exclusive steps before turns, in the order asked', async () => {
    const { connect, file } = await setup(['a', 'b', 'c']);
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(connect));
    const rooms = [a!, b!, c!].map((client) => client.room(file, 'cpu'));
    const order: string[] = [];
    let steps!: Promise<unknown>;
    await Promise.all([
      rooms[0]!.turn(async () => {
        order.push('a turn');
        // While a's sample runs: c, then b ask for exclusive steps.
        steps = Promise.all([
          rooms[2]!.exclusive(async () => void order.push('c prepare')),
          sleep(5).then(() => rooms[1]!.exclusive(async () => void order.push('b prepare'))),
        ]);
        await sleep(30);
      }),
      rooms[1]!.turn(async () => void order.push('b turn')),
      rooms[2]!.turn(async () => void order.push('c turn')),
    ]);
    await steps;
    expect(order).toEqual(['a turn', 'c prepare', 'b prepare', 'b turn', 'c turn']);
  });

  it('runs exclusive steps of different platforms together, up to stepsAtOnce, and never during a turn', async () => {
    for (const stepsAtOnce of [1, 2]) {
      const { connect, file } = await setup(['a', 'b', 'c', 'd'], { stepsAtOnce, settleMs: 10 });
      const [a, b, c, d] = await Promise.all(['a', 'b', 'c', 'd'].map(connect));
      const rooms = [a!, b!, c!, d!].map((client) => client.room(file, 'cpu'));
      let running = 0;
      let most = 0;
      let duringTurn = false;
      const step = () => async () => {
        running++;
        most = Math.max(most, running);
        await sleep(40);
        running--;
      };
      let steps!: Promise<unknown>;
      await Promise.all([
        rooms[0]!.turn(async () => {
          // While a's sample runs, b, c and d ask for steps: none may start before it ends.
          steps = Promise.all([1, 2, 3].map((i) => rooms[i]!.exclusive(step())));
          await sleep(30);
          duringTurn = most > 0;
        }),
        ...[1, 2, 3].map((i) => rooms[i]!.turn(async () => {})),
      ]);
      await steps;
      expect(duringTurn).toBe(false);
      expect(most).toBe(stepsAtOnce);
    }
  });

  it('releases the turn when a sample throws', async () => {
    const { connect, file } = await setup(['a', 'b']);
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const ra = a!.room(file, 'cpu');
    const rb = b!.room(file, 'cpu');
    const failing = ra.turn(async () => {
      throw new Error('the workload broke');
    });
    const next = rb.turn(async ({ round }) => `b got round ${round}`);
    await expect(failing).rejects.toThrow('the workload broke');
    expect(await next).toBe('b got round 0');
  });

  it('releases everything a worker held when it disconnects', async () => {
    const { connect, file } = await setup(['a', 'b']);
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const ra = a!.room(file, 'cpu');
    const rb = b!.room(file, 'cpu');
    // a dies in the middle of its sample: the turn is never given back by a.
    const dying = ra.turn(() => {
      setTimeout(() => a!.close(), 10);
      return new Promise<void>(() => {});
    });
    const bTurns = (async () => {
      for (let i = 0; i < 2; i++) await rb.turn(() => sleep(1));
      await rb.done();
      return 'b finished';
    })();
    expect(await bTurns).toBe('b finished');
    await expect(ra.turn(async () => {})).rejects.toThrow(TurnstileError);
    void dying;
  });

  it('ends the end barrier when the last member disconnects', async () => {
    const { connect, file } = await setup(['a', 'b']);
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const ra = a!.room(file, 'cpu');
    const rb = b!.room(file, 'cpu');
    await Promise.all([ra.turn(() => sleep(1)), rb.turn(() => sleep(1))]);
    const aDone = ra.done();
    await sleep(20);
    b!.close();
    await expect(aDone).resolves.toBeUndefined();
  });

  it('starts a turn only once the other workers are quiet (asked for their next turn, or settleMs passed)', async () => {
    const { connect, file } = await setup(['a', 'b'], { settleMs: 150 });
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const ra = a!.room(file, 'cpu');
    const rb = b!.room(file, 'cpu');
    const events: string[] = [];
    const stamp = (what: string) => events.push(what);
    await Promise.all([
      (async () => {
        for (let i = 0; i < 2; i++) {
          await ra.turn(async ({ round: r }) => stamp(`a${r} start`));
          // a is still recording its sample: nobody else's may start meanwhile.
          stamp('a busy');
          await sleep(60);
          stamp('a quiet');
        }
        await ra.done();
      })(),
      (async () => {
        for (let i = 0; i < 2; i++) await rb.turn(async ({ round: r }) => stamp(`b${r} start`));
        await rb.done();
      })(),
    ]);
    // Each of b's samples after a's turn starts after a went quiet, not while a was busy.
    for (const [i, event] of events.entries()) {
      if (event.startsWith('b') && events.slice(0, i).includes('a busy')) {
        expect(events.lastIndexOf('a busy', i)).toBeLessThan(events.lastIndexOf('a quiet', i));
      }
    }
    expect(events.filter((e) => e.endsWith('start'))).toEqual(['a0 start', 'b0 start', 'b1 start', 'a1 start']);

    // A worker that never asks again is waited for settleMs at most.
    const { connect: connect2, file: file2 } = await setup(['c', 'd'], { settleMs: 100 });
    const [c, d] = await Promise.all([connect2('c'), connect2('d')]);
    const rc = c!.room(file2, 'cpu');
    const rd = d!.room(file2, 'cpu');
    const started = Date.now();
    await Promise.all([rc.turn(async () => {}), rd.turn(async () => {})]);
    await rd.turn(async () => {}); // round 1: d first (the reverse of round 0), while c dawdles forever
    expect(Date.now() - started).toBeGreaterThanOrEqual(90);
  });

  it('holds done() until every platform has finished the benchmark', async () => {
    const { connect, file } = await setup(['a', 'b']);
    const log = await takeTurns([await connect('a'), await connect('b')], { a: 1, b: 3 }, file);
    expect(log.slice(0, 4)).toEqual(['a0', 'b0', 'b1', 'b2']);
    expect(log.slice(4).sort()).toEqual(['a done', 'b done']);
  });

  it('lets the platforms finish a file in the order of the plan: each after those before it ended the file, or left, or finishOrderMs', async () => {
    const { server, connect, file } = await setup(['a', 'b', 'c'], { finishOrderMs: 400 });
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map(connect));
    const finished: string[] = [];
    const finish = (client: TurnstileClient) =>
      client
        .room(file, 'cpu')
        .finishFile()
        .then(() => void finished.push(client.platform));
    // c and b ask first; nothing moves until a (planned first) has ended the file.
    const cDone = finish(c!);
    const bDone = finish(b!);
    await sleep(100);
    expect(finished).toEqual([]);
    await finish(a!);
    server.moduleEnded('a', file);
    await bDone;
    expect(finished).toEqual(['a', 'b']);
    // b's worker is gone (crashed): c does not wait for it.
    b!.close();
    await cDone;
    expect(finished).toEqual(['a', 'b', 'c']);

    // A platform before it that neither ends the file nor goes is waited for finishOrderMs, no longer.
    const other = 'bench/mem.bench.ts';
    server.plan([[other, ['a', 'c']]]);
    const started = Date.now();
    await c!.room(other, 'cpu').finishFile();
    expect(Date.now() - started).toBeGreaterThanOrEqual(350);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('goes on without a member that does not ask for its next turn within barrierMs', async () => {
    const { connect, file, lines } = await setup(['a', 'b'], { barrierMs: 100, settleMs: 50 });
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const ra = a!.room(file, 'cpu');
    const rb = b!.room(file, 'cpu');
    const order: string[] = [];
    await Promise.all([
      (async () => {
        await ra.turn(async ({ round: r }) => void order.push(`a${r}`));
        await sleep(400); // a dawdles between its samples
        await ra.turn(async ({ round: r }) => void order.push(`a${r}`));
      })(),
      (async () => {
        for (let i = 0; i < 3; i++) await rb.turn(async ({ round: r }) => void order.push(`b${r}`));
      })(),
    ]);
    expect(order.slice(0, 3)).toEqual(['a0', 'b0', 'b1']);
    expect(lines.join('\n')).toMatch(/round 1 went on without a/);
  });

  it('rejects a wait that is aborted, naming the cause, and loses no turn', async () => {
    const { connect, file } = await setup(['a', 'b']);
    const [a, b] = await Promise.all([connect('a'), connect('b')]);
    const ra = a!.room(file, 'cpu');
    const rb = b!.room(file, 'cpu');
    const controller = new AbortController();
    let release!: () => void;
    const held = ra.turn(() => new Promise<void>((resolve) => (release = resolve)));
    const aborted = rb.turn(async () => 'should not run', controller.signal);
    await sleep(20);
    controller.abort(new Error('test timed out'));
    await expect(aborted).rejects.toThrow(/aborted while waiting for a turn in .*cpu/);
    release();
    await held;
    await expect(rb.turn(async ({ round }) => round)).resolves.toBe(0);
  });

  it('names the address when the turnstile cannot be reached', async () => {
    const failed = connectTurnstile(turnstileAddress('nobody-listens'), 'a');
    await expect(failed).rejects.toThrow(/cannot reach the virtbench turnstile of the main process at @virtbench-turns-nobody-listens/);
    await expect(failed).rejects.toBeInstanceOf(VirtbenchError);
    await expect(failed).rejects.toMatchObject({ name: 'TurnstileError', code: 'VIRTBENCH_TURNSTILE_FAILED' });
  });

  it('is shared by every globalSetup of a run and closed after the last', async () => {
    const first = await useSharedTurnstile();
    const second = await useSharedTurnstile();
    expect(second.server).toBe(first.server);
    await first.release();
    const client = await connectTurnstile(first.server.address, 'a');
    client.close();
    await second.release();
    await expect(connectTurnstile(first.server.address, 'a')).rejects.toThrow(TurnstileError);
  });
});

describe('arrangeTogether (the sequencer of a run with several platforms)', () => {
  const project = (platform: string | undefined, session: Record<string, unknown> = {}) =>
    ({
      config: { benchmark: { enabled: true }, provide: platform ? { virtbench: { platform, ...session } } : {}, maxWorkers: 1 },
    }) as unknown as TestProject;
  const spec = (p: TestProject, moduleId: string) => ({ project: p, moduleId }) as TestSpecification;
  const show = (specs: TestSpecification[]) =>
    specs.map((s) => `${(s.project.config.provide as { virtbench?: { platform: string } }).virtbench?.platform ?? 'other'}:${s.moduleId}`);

  it('orders the platforms file by file, plans the turnstile, and gives each available platform one worker', async () => {
    const [native, docker, qemu, unit] = [
      project('native'),
      project('docker'),
      project('qemu', { skipReason: 'no KVM here' }),
      project(undefined),
    ];
    const shared = await useSharedTurnstile();
    cleanups.push(() => shared.release());
    shared.server.unavailable('qemu');
    const sorted = [
      spec(unit!, 'u.test.ts'),
      spec(docker!, 'mem'),
      spec(docker!, 'cpu'),
      spec(native!, 'mem'),
      spec(native!, 'cpu'),
      spec(qemu!, 'only-qemu'),
      spec(qemu!, 'mem'),
      spec(qemu!, 'cpu'),
    ];
    // qemu cannot run here: it gets no worker for the files the others run (the reporter lists its
    // benchmarks as skipped, with the reason); a file only it has still passes, last.
    expect(show(arrangeTogether(sorted, ['native', 'docker', 'qemu'], [native!, docker!, qemu!]))).toEqual([
      'other:u.test.ts',
      'native:cpu',
      'docker:cpu',
      'native:mem',
      'docker:mem',
      'qemu:only-qemu',
    ]);
    expect([...notRunPlatforms()]).toEqual([['qemu', 'no KVM here']]);
    // qemu cannot run here: its files pass at once and need no worker of their own.
    expect([native, docker, qemu].map((p) => p!.config.maxWorkers)).toEqual([2, 2, 2]);
    // The plan: a room of cpu waits for native and docker only.
    const [a, b] = await Promise.all([
      connectTurnstile(shared.server.address, 'native'),
      connectTurnstile(shared.server.address, 'docker'),
    ]);
    cleanups.push(
      () => a!.close(),
      () => b!.close(),
    );
    const started = Date.now();
    let waited = 0;
    const late = sleep(100).then(() => b!.room('cpu', 'cpu').turn(() => sleep(1)));
    await a!.room('cpu', 'cpu').turn(async () => void (waited = Date.now() - started));
    await late;
    expect(waited).toBeGreaterThanOrEqual(90);
    // In an IDE run every test shows its own outcome: nothing is left out.
    const ideQemu = project('qemu', { ide: true });
    const ideSpecs = [spec(native!, 'cpu'), spec(ideQemu, 'cpu')];
    expect(show(arrangeTogether(ideSpecs, ['native', 'qemu'], [native!, ideQemu]))).toEqual(['native:cpu', 'qemu:cpu']);
    expect(notRunPlatforms().size).toBe(0);
  });
});

describe('a turnstile shared by two runs (virtbench ab)', () => {
  it('takes the platforms of both runs, named <platform>@<tag>, in rooms named by the path from each root', async () => {
    const server = await startTurnstile({
      address: turnstileAddress(`unit-shared-${process.pid}`),
      gatherMs: 5_000,
      planners: 2,
      roundSeed: seedOrdering('native@base', 'native@head'),
    });
    cleanups.push(() => server.close());
    const place = (tag: string, root: string) => ({ address: server.address, tag, root });
    const baseControl = await connectTurnstileControl(place('base', '/wt/base'));
    const headControl = await connectTurnstileControl(place('head', '/wt/head'));
    cleanups.push(
      () => baseControl.close(),
      () => headControl.close(),
    );
    baseControl.plan([['/wt/base/bench/cpu.bench.ts', ['native']]]);
    await sleep(50);

    const base = await connectTurnstile(server.address, 'native@base');
    cleanups.push(() => base.close());
    const events: string[] = [];
    const take = async (client: TurnstileClient, test: string, n: number) => {
      const room = client.room('bench/cpu.bench.ts', test);
      for (let i = 0; i < n; i++) await room.turn(async ({ round: r }) => void events.push(`${client.platform} ${test} ${r}`));
      await room.done();
    };
    // The base's run is ready first, before the head's run has even planned: the room waits for that plan
    // (two planners expected), then for the head's platform it names.
    const baseCpu = take(base, 'cpu', 2);
    await sleep(300);
    expect(events).toEqual([]);
    expect(headControl.roundOrder).toBeUndefined();
    headControl.plan([['/wt/head/bench/cpu.bench.ts', ['native']]]);
    await sleep(300);
    expect(events).toEqual([]);
    // Each run learns the order of the rounds it took part in, for its results.json.
    expect(baseControl.roundOrder).toEqual(server.roundOrder);
    expect(headControl.roundOrder).toEqual(server.roundOrder);
    const head = await connectTurnstile(server.address, 'native@head');
    cleanups.push(() => head.close());
    await Promise.all([baseCpu, take(head, 'cpu', 2)]);
    expect(events).toEqual(['native@base cpu 0', 'native@head cpu 0', 'native@head cpu 1', 'native@base cpu 1']);

    // The head's run ended (its control connection closed): nobody waits for its platform any more.
    await headControl.close();
    await sleep(50);
    const started = Date.now();
    await take(base, 'mem', 1);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it('records no round order from the turnstile of an older virtbench, which does not say (it rotated)', async () => {
    const address = turnstileAddress(`unit-older-${process.pid}`);
    const older = net.createServer((socket) => socket.resume());
    await new Promise<void>((resolve) => older.listen(address.slice(0, address.lastIndexOf('#')), resolve));
    cleanups.push(() => new Promise((resolve) => older.close(resolve)));
    const control = await connectTurnstileControl({ address, tag: 'base', root: '/wt/base' });
    cleanups.push(() => control.close());
    control.plan([['/wt/base/bench/cpu.bench.ts', ['native']]]);
    await sleep(100);
    expect(control.roundOrder).toBeUndefined();
  });

  /** The socket part of an address and its secret ("<socket>#<secret>"), as a client of this virtbench sees them. */
  const parts = (address: string) => ({
    socket: address.slice(0, address.lastIndexOf('#')),
    secret: address.slice(address.lastIndexOf('#') + 1),
  });

  it("serves only connections that present the address's secret: another local user can connect, not take part", async () => {
    const { server, connect, file, lines } = await setup(['a']);
    expect(parts(server.address).secret).toMatch(/^[0-9a-f]{32}$/);
    for (const first of [
      { op: 'hello', platform: 'a' },
      { op: 'auth', secret: '0'.repeat(32) },
      { op: 'plan', files: [] },
    ]) {
      const stranger = net.createConnection(parts(server.address).socket);
      await new Promise((resolve) => stranger.once('connect', resolve));
      stranger.write(JSON.stringify(first) + '\n');
      await new Promise((resolve) => stranger.once('close', resolve));
    }
    expect(lines.filter((l) => /refused a connection that did not present the turnstile's secret/.test(l))).toHaveLength(3);
    const log = await takeTurns([await connect('a')], 1, file);
    expect(log).toEqual(['a0', 'a done']);
  });

  it('drops a connection that sends a malformed plan, and keeps serving the others', async () => {
    const { server, connect, file, lines } = await setup(['a']);
    const rogue = net.createConnection(parts(server.address).socket);
    await new Promise((resolve) => rogue.once('connect', resolve));
    rogue.write(JSON.stringify({ op: 'auth', secret: parts(server.address).secret }) + '\n');
    rogue.write(JSON.stringify({ op: 'plan', files: 42 }) + '\n');
    await new Promise((resolve) => rogue.once('close', resolve));
    expect(lines.join('\n')).toMatch(/dropped a connection that sent a malformed plan message/);
    const log = await takeTurns([await connect('a')], 1, file);
    expect(log).toEqual(['a0', 'a done']);
  });

  it('is named by VIRTBENCH_TURNSTILE ("@" for an abstract name) and VIRTBENCH_TURNSTILE_TAG, a bad tag refused with the fix', () => {
    expect(externalTurnstile({}, '/p')).toBeUndefined();
    expect(externalTurnstile({ VIRTBENCH_TURNSTILE: '@virtbench-turns-ab-1', VIRTBENCH_TURNSTILE_TAG: 'head' }, '/p')).toEqual({
      address: '\0virtbench-turns-ab-1',
      tag: 'head',
      root: '/p',
    });
    expect(() => externalTurnstile({ VIRTBENCH_TURNSTILE: '/tmp/t.sock' }, '/p')).toThrow(
      /VIRTBENCH_TURNSTILE_TAG must name this run.*fix:/,
    );
    expect(() => externalTurnstile({ VIRTBENCH_TURNSTILE: '/tmp/t.sock', VIRTBENCH_TURNSTILE_TAG: 'a b' }, '/p')).toThrow(/got "a b"/);
  });

  it('a run that cannot reach the turnstile its environment names says so, with the fix', async () => {
    await expect(
      connectTurnstileControl({ address: turnstileAddress(`unit-nobody-${process.pid}`), tag: 'base', root: '/' }),
    ).rejects.toThrow(
      /cannot reach the turnstile at @virtbench-turns-unit-nobody-\d+-[0-9a-f]{16} that VIRTBENCH_TURNSTILE names.*fix: unset VIRTBENCH_TURNSTILE/,
    );
  });
});

describe('turnstileFile', () => {
  it("names a bench file by its path from the project's root, and a shipped one by its path from node_modules", () => {
    expect(turnstileFile('/wt/base/bench/cpu.bench.ts', {})).toBe('/wt/base/bench/cpu.bench.ts');
    expect(turnstileFile('/wt/base/bench/cpu.bench.ts', { root: '/wt/base' })).toBe('bench/cpu.bench.ts');
    // The base's worktree links the head's node_modules: both sides meet in the same room.
    const room = 'node_modules/virtbench/dist/workloads/cpu/cpu.bench.js';
    expect(turnstileFile(`/repo/${room}`, { root: '/wt/base' })).toBe(room);
    expect(turnstileFile(`/repo/${room}`, { root: '/repo' })).toBe(room);
  });
});

describe('rounds until decided at the turnstile', () => {
  const untilDecided = {
    plan: { within: 0.05, minRounds: 3, maxRounds: 6 },
    comparisons: [
      { platform: 'b', against: 'a' },
      { platform: 'c', against: 'a' },
    ],
    budgetMs: 600_000,
  };

  /** Each client samples its figures in turn, asks for more after each, and stops when told: returns the rounds each took and why it stopped. */
  async function sampleUntilTold(
    clients: TurnstileClient[],
    figures: Record<string, (round: number) => number>,
    file: string,
    recordMs: Record<string, number> = {},
  ) {
    const taken: Record<string, [number, string | undefined]> = {};
    await Promise.all(
      clients.map(async (client) => {
        const room = client.room(file, 'cpu');
        for (let rounds = 1; ; rounds++) {
          const round = await room.turn(async ({ round }) => round);
          await sleep(recordMs[client.platform] ?? 0);
          const answer = await room.more(round, figures[client.platform]!(round));
          if (!answer.more) {
            taken[client.platform] = [rounds, answer.stop];
            break;
          }
        }
        await room.done();
      }),
    );
    return taken;
  }

  it('stops a decided pair after the minimum, keeps the baseline for the open one, and stops that one at maxRounds', async () => {
    const { connect, file, lines } = await setup(['a', 'b', 'c'], { untilDecided });
    const clients = await Promise.all(['a', 'b', 'c'].map((p) => connect(p)));
    const taken = await sampleUntilTold(clients, { a: () => 100, b: () => 90, c: (round) => (round % 2 ? 104 : 97) }, file);
    expect(taken).toEqual({ a: [6, 'max-rounds'], b: [3, 'decided'], c: [6, 'max-rounds'] });
    expect(lines.some((l) => /b stops after 3 rounds \(decided: b\/a ±0\.0 %\)/.test(l))).toBe(true);
  });

  it("waits at a round's end for the figure of a platform slow to hand it in, and never for the round it has not started", async () => {
    const { connect, file, lines } = await setup(['a', 'b'], { untilDecided, barrierMs: 3_000 });
    const clients = await Promise.all(['a', 'b'].map((p) => connect(p)));
    const started = Date.now();
    // b records its sample for 150 ms after its turn: a's answer must wait for b's figure of the same round.
    const taken = await sampleUntilTold(clients, { a: () => 100, b: () => 90 }, file, { b: 150 });
    expect(taken).toEqual({ a: [3, 'decided'], b: [3, 'decided'] });
    expect(lines.filter((l) => /went on without/.test(l))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('spends the budget: out of time, an open pair stops after the minimum with "budget"', async () => {
    const { connect, file } = await setup(['a', 'c'], { untilDecided: { ...untilDecided, budgetMs: 0 } });
    const clients = await Promise.all(['a', 'c'].map((p) => connect(p)));
    const taken = await sampleUntilTold(clients, { a: () => 100, c: (round) => (round % 2 ? 104 : 97) }, file);
    expect(taken).toEqual({ a: [3, 'budget'], c: [3, 'budget'] });
  });

  it('without the rule, every answer is "more": each platform keeps its own count', async () => {
    const { connect, file } = await setup(['a']);
    const room = (await connect('a')).room(file, 'cpu');
    const round = await room.turn(async ({ round }) => round);
    await expect(room.more(round, 1)).resolves.toEqual({ more: true });
  });

  it("hands a turn the other platforms' CPU sources, once each, not its own, and only well-formed ones", async () => {
    const { connect, file } = await setup(['a', 'b']);
    const [a, b] = await Promise.all(['a', 'b'].map((p) => connect(p)));
    // pid 7 is an engine daemon both name: it serves a's samples, so it is no cost of b's there.
    a!.sources([
      { kind: 'process', pid: 123 },
      { kind: 'process', pid: 7 },
    ]);
    b!.sources([
      { kind: 'cgroup', path: '/sys/fs/cgroup/system.slice/x.scope' },
      { kind: 'process', pid: 7 },
      { kind: 'cgroup', path: '/etc/../sys/fs/cgroup' },
      { kind: 'process', pid: -1 },
    ] as never);
    const [ofA, ofB] = await Promise.all([
      a!.room(file, 'cpu').turn(async ({ others }) => others),
      b!.room(file, 'cpu').turn(async ({ others }) => others),
    ]);
    expect(ofA).toEqual([{ kind: 'cgroup', path: '/sys/fs/cgroup/system.slice/x.scope' }]);
    expect(ofB).toEqual([{ kind: 'process', pid: 123 }]);
    expect(ofA).not.toContainEqual({ kind: 'process', pid: 7 });
  });
});
