import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ABORTED_STATUS, createFakeClock, UNMATCHED_ROUTE } from '@keel/core';
import Fastify, { type FastifyInstance } from 'fastify';
import { describe, expect, it } from 'vitest';
import { keelFastify } from '../src/index.js';
import { build, get, recorded, recordedByRoute, sleep, start } from './helpers.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

/**
 * Heap in use once garbage is collectable. A tight loop of `app.inject` keeps
 * ~9 KB per request reachable until timers have run (plain Fastify does it
 * too), so wait a timer tick before collecting.
 */
async function settledHeap(): Promise<number> {
  await sleep(300);
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function nested(app: FastifyInstance) {
  await app.register(
    async (api) => {
      await api.register(
        async (v1) => {
          v1.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
          v1.post('/users', async (_request, reply) => reply.code(201).send({ created: true }));
          v1.get('/', async () => 'v1 index');
        },
        { prefix: '/v1' },
      );
    },
    { prefix: '/api' },
  );
  app.get('/boom', async () => {
    throw new Error('handler failed');
  });
}

describe('recording', () => {
  it('records the route template, with register prefixes, method, status and duration', async () => {
    const { keel, port } = await start({}, nested);
    for (const id of ['1', '2', '3']) expect((await get(port, `/api/v1/users/${id}`)).status).toBe(200);
    expect((await get(port, '/api/v1/users', undefined, 'POST')).status).toBe(201);
    expect((await get(port, '/api/v1')).status).toBe(200);
    expect((await get(port, '/boom')).status).toBe(500);
    expect((await get(port, '/no/such/path')).status).toBe(404);

    expect(recordedByRoute(keel)).toEqual([
      { method: 'GET', route: UNMATCHED_ROUTE, status: 404, count: 1 },
      { method: 'GET', route: '/api/v1', status: 200, count: 1 },
      { method: 'POST', route: '/api/v1/users', status: 201, count: 1 },
      { method: 'GET', route: '/api/v1/users/:id', status: 200, count: 3 },
      { method: 'GET', route: '/boom', status: 500, count: 1 },
    ]);
    // Durations come from Fastify's reply.elapsedTime: real, positive numbers.
    expect(keel.http.series.every((s) => s.sum > 0)).toBe(true);
  });

  it('records routes added right after an app.register() that was not awaited, with their config.keel', async () => {
    const reported: string[] = [];
    const app = Fastify();
    // Not awaited: the plugin runs at ready(), after these routes were added, so its onRoute hook never saw them.
    app.register(keelFastify, {
      runtime: false,
      clock: createFakeClock(),
      onError: (error, where) => reported.push(`${where}: ${error.message}`),
    });
    app.get('/users/:id', async () => 'user');
    app.get('/pay', { config: { keel: { critical: true } } }, async () => 'paid');
    app.get('/report', { config: { keel: { deadline: 900 } } }, async () => app.keel.context.remainingMs());
    app.get('/catalog', { config: { keel: { cache: {} } } }, async () => 'catalog');
    app.register(async (api) => api.get('/', async () => 'index'), { prefix: '/api' });
    try {
      await app.listen({ port: 0, host: '127.0.0.1' });
      const port = (app.server.address() as AddressInfo).port;
      const { keel } = app;
      for (const path of [
        '/users/1',
        '/users/2',
        '/report',
        '/catalog',
        '/catalog',
        '/api',
        '/api/',
        '/nope',
      ])
        await get(port, path);
      expect((await get(port, '/report')).body).toBe('900');
      keel.shedder.force('test');
      expect((await get(port, '/pay')).status).toBe(200);
      expect((await get(port, '/users/3')).status).toBe(503);
      keel.shedder.force(undefined);

      expect(recordedByRoute(keel)).toEqual([
        { method: 'GET', route: UNMATCHED_ROUTE, status: 404, count: 1 },
        { method: 'GET', route: '/api', status: 200, count: 2 },
        { method: 'GET', route: '/catalog', status: 200, count: 2 },
        { method: 'GET', route: '/pay', status: 200, count: 1 },
        { method: 'GET', route: '/report', status: 200, count: 2 },
        { method: 'GET', route: '/users/:id', status: 200, count: 2 },
        { method: 'GET', route: '/users/:id', status: 503, count: 1 },
      ]);
      // A cache cannot be put on a route already added: said once, and the route answers uncached.
      expect(reported).toEqual([expect.stringContaining('GET /catalog was added before the plugin ran')]);
    } finally {
      await app.close();
    }
  });

  it("does not record Keel's own endpoints", async () => {
    const { keel, port } = await start({}, nested);
    for (const path of Object.values(keel.paths)) expect((await get(port, path)).status).toBe(200);
    expect((await get(port, keel.paths.livez, undefined, 'HEAD')).status).toBe(200);
    expect(recorded(keel)).toEqual([]);
  });

  it('keeps 10^5 random unmatched paths in one series and one group', async () => {
    const { app, keel } = await build({}, nested);
    await app.inject({ url: '/api/v1/users/1' });
    const baseline = { series: keel.http.seriesCount, groups: keel.http.groups.size };

    const warmup = async (n: number, seed: string) => {
      for (let i = 0; i < n; i++) {
        const res = await app.inject({ url: `/${seed}/${i}/${Math.random().toString(36).slice(2)}` });
        if (res.statusCode !== 404) throw new Error(`expected 404, got ${res.statusCode}`);
      }
    };
    await warmup(2_000, 'warm');
    const heapBefore = await settledHeap();
    await warmup(100_000, 'flood');
    const heapAfter = await settledHeap();

    // One more series (GET, __unmatched__, 404) and one more group (the route), no matter how many paths.
    expect(keel.http.seriesCount).toBe(baseline.series + 1);
    expect(keel.http.groups.size).toBe(baseline.groups + 1);
    expect(keel.http.overflowed).toBe(0);
    expect(recorded(keel).find((s) => s.route === UNMATCHED_ROUTE)?.count).toBe(102_000);
    // Flat: nothing per path is retained (a leak of even 100 bytes per path would be 10 MB).
    expect(heapAfter - heapBefore).toBeLessThan(5 * 1024 * 1024);
  }, 120_000);

  it('records a request the client aborted once, as 499', async () => {
    let reached: () => void;
    const handlerStarted = new Promise<void>((r) => (reached = r));
    let finished: () => void;
    const handlerDone = new Promise<void>((r) => (finished = r));
    const { keel, port } = await start({}, (app) => {
      app.get('/slow', async () => {
        reached();
        await sleep(200);
        finished();
        return 'too late';
      });
    });
    const req = request({ host: '127.0.0.1', port, path: '/slow' });
    req.on('error', () => {});
    req.end();
    await handlerStarted;
    req.destroy();
    await handlerDone;
    await sleep(50);

    expect(recorded(keel)).toEqual([{ method: 'GET', route: '/slow', status: ABORTED_STATUS, count: 1 }]);
  });

  it('adds Server-Timing to answers, errors and 404s included, but not to endpoints', async () => {
    const { port, keel } = await start({}, nested);
    for (const path of ['/api/v1/users/1', '/boom', '/nope']) {
      expect((await get(port, path)).headers['server-timing']).toMatch(/^app;dur=\d+\.\d$/);
    }
    expect((await get(port, keel.paths.health)).headers['server-timing']).toBeUndefined();
  });

  it("appends to the app's own Server-Timing, whether set on the reply or on the raw response", async () => {
    const { port } = await start({}, (app) => {
      app.get('/reply', async (_request, reply) => {
        reply.header('server-timing', 'render;dur=3');
        return 'ok';
      });
      app.get('/raw', (_request, reply) => {
        reply.hijack();
        reply.raw.setHeader('server-timing', 'render;dur=4');
        reply.raw.end('ok');
      });
    });
    expect((await get(port, '/reply')).headers['server-timing']).toMatch(/^render;dur=3, app;dur=\d+\.\d$/);
    expect((await get(port, '/raw')).headers['server-timing']).toMatch(/^render;dur=4, app;dur=\d+\.\d$/);
  });

  it('adds Server-Timing to HEAD, 204, flushed and streamed answers, bodies intact', async () => {
    const { port } = await start({}, (app) => {
      app.get('/users/:id', async (request) => ({ id: (request.params as { id: string }).id }));
      app.get('/empty', async (_request, reply) => reply.code(204).send());
      app.get('/stream', async (_request, reply) => reply.type('text/plain').send(Readable.from(['a', 'b'])));
      app.get('/flushed', (_request, reply) => {
        reply.hijack();
        reply.raw.flushHeaders();
        reply.raw.end('x');
      });
    });
    const timing = /^app;dur=\d+\.\d$/;
    const head = await get(port, '/users/1', undefined, 'HEAD');
    expect([head.status, head.body]).toEqual([200, '']);
    expect(head.headers['server-timing']).toMatch(timing);
    const empty = await get(port, '/empty');
    expect([empty.status, empty.body]).toEqual([204, '']);
    expect(empty.headers['server-timing']).toMatch(timing);
    const stream = await get(port, '/stream');
    expect([stream.status, stream.body, stream.headers['transfer-encoding']]).toEqual([200, 'ab', 'chunked']);
    expect(stream.headers['server-timing']).toMatch(timing);
    const flushed = await get(port, '/flushed');
    expect([flushed.status, flushed.body]).toEqual([200, 'x']);
    expect(flushed.headers['server-timing']).toMatch(timing);
    expect((await get(port, '/users/2')).body).toBe('{"id":"2"}');
  });

  it('adds Server-Timing under app.inject() too, after the value the app set', async () => {
    // inject's response wraps writeHead and copies the headers as Node builds the head.
    const { app } = await build({}, (app) => {
      app.get('/plain', async () => 'ok');
      app.get('/own', async (_request, reply) => {
        reply.header('server-timing', 'render;dur=3');
        return 'ok';
      });
    });
    expect((await app.inject('/plain')).headers['server-timing']).toMatch(/^app;dur=\d+\.\d$/);
    expect((await app.inject('/own')).headers['server-timing']).toMatch(/^render;dur=3, app;dur=\d+\.\d$/);
  });

  it('adds no Server-Timing with serverTiming: false', async () => {
    const { port } = await start({ serverTiming: false }, nested);
    expect((await get(port, '/api/v1/users/1')).headers['server-timing']).toBeUndefined();
  });
});
