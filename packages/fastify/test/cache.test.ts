import { describe, expect, it } from 'vitest';
import { build, get, recorded, sleep, start } from './helpers.js';

describe('route cache', () => {
  it('answers from the cache until ttl, with ETag, Cache-Control and X-Cache', async () => {
    let calls = 0;
    const { app, keel, clock } = await build({}, (app) => {
      app.get('/users/:id', { config: { keel: { cache: { ttl: 1000 } } } }, async (request) => ({
        id: (request.params as { id: string }).id,
        call: ++calls,
      }));
    });
    const first = await app.inject('/users/1');
    expect(first.statusCode).toBe(200);
    expect(first.json()).toEqual({ id: '1', call: 1 });
    expect(first.headers['x-cache']).toBe('MISS');
    expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(first.headers.etag).toMatch(/^"[\w-]{27}"$/);
    // Cache-Control only on the hits: a later onSend hook (a session's) could add Set-Cookie to this one.
    expect(first.headers['cache-control']).toBeUndefined();

    const second = await app.inject('/users/1');
    expect(second.json()).toEqual({ id: '1', call: 1 });
    expect(second.headers).toMatchObject({
      'x-cache': 'HIT',
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'public, max-age=1',
      etag: expect.stringMatching(/^"[\w-]{27}"$/),
    });
    expect((await app.inject('/users/2')).json()).toEqual({ id: '2', call: 2 });

    clock.advance(1000);
    expect((await app.inject('/users/1')).json()).toEqual({ id: '1', call: 3 });
    expect(keel.caches.map((c) => c.name)).toEqual(['http_users_id']);
    expect(keel.caches[0]!.stats()).toMatchObject({ hits: 1, misses: 3 });
  });

  it('runs the handler once for 100 concurrent identical misses', async () => {
    let calls = 0;
    // The handler answers once all 100 requests are in, so every one of them is a miss however slow the machine.
    let arrived = 0;
    let allIn!: () => void;
    const everyoneIn = new Promise<void>((resolve) => (allIn = resolve));
    const { port, keel } = await start({}, (app) => {
      app.addHook('onRequest', async () => {
        if (++arrived === 100) allIn();
      });
      app.get('/report', { config: { keel: { cache: {} } } }, async () => {
        calls++;
        await everyoneIn;
        return { report: 'big' };
      });
    });
    const answers = await Promise.all(
      Array.from({ length: 100 }, () =>
        fetch(`http://127.0.0.1:${port}/report`).then(async (r) => ({
          cache: r.headers.get('x-cache'),
          body: await r.json(),
        })),
      ),
    );
    expect(answers).toEqual(Array(100).fill({ cache: 'MISS', body: { report: 'big' } }));
    expect(calls).toBe(1);
    expect(recorded(keel)).toEqual([{ method: 'GET', route: '/report', status: 200, count: 100 }]);
  });

  it('serves a stale answer while one background replay refreshes it; the replay is not recorded', async () => {
    let version = 0;
    const { app, keel, clock } = await build({}, (app) => {
      app.register(
        async (api) => {
          api.get(
            '/price',
            { config: { keel: { cache: { ttl: 1000, staleWhileRevalidate: 5000 } } } },
            async () => ({
              version: ++version,
            }),
          );
        },
        { prefix: '/api' },
      );
    });
    expect((await app.inject('/api/price')).json()).toEqual({ version: 1 });
    clock.advance(1500);
    const stale = await app.inject('/api/price');
    expect(stale.json()).toEqual({ version: 1 });
    expect(stale.headers['x-cache']).toBe('HIT');
    await sleep(20); // the replay runs in the background
    expect(version).toBe(2);
    expect((await app.inject('/api/price')).json()).toEqual({ version: 2 });
    expect(recorded(keel)).toEqual([{ method: 'GET', route: '/api/price', status: 200, count: 3 }]);
    expect(keel.caches[0]!.name).toBe('http_api_price');
  });

  it('keeps serving stale when a refresh gets an answer it cannot store, and reports the status it got', async () => {
    const reported: string[] = [];
    let status = 200;
    const { app, clock } = await build(
      { onError: (error, where) => reported.push(`${where}: ${(error as Error).message}`) },
      (app) => {
        app.get(
          '/prices',
          { config: { keel: { cache: { ttl: 1000, staleWhileRevalidate: 5000 } } } },
          async (_r, reply) => reply.code(status).send({ status }),
        );
      },
    );
    expect((await app.inject('/prices')).json()).toEqual({ status: 200 });
    status = 503;
    clock.advance(1500);
    expect((await app.inject('/prices')).json()).toEqual({ status: 200 });
    await sleep(20); // the replay runs in the background
    expect(reported).toEqual([
      'cache-refresh:http_prices: cache "http_prices": refreshing a stale entry failed: the app answered 503, not 200',
    ]);
    expect((await app.inject('/prices')).json()).toEqual({ status: 200 });
  });

  it('marks a refresh X-Cache: REFRESH, so a hook that defers to Keel lets it be stored', async () => {
    let version = 1;
    const reported: unknown[] = [];
    const { app, clock } = await build({ onError: (error) => reported.push(error) }, (app) => {
      // An app-wide default: no-cache on answers that state no policy, unless Keel's cache handles them.
      app.addHook('onSend', async (_request, reply, payload) => {
        if (!reply.hasHeader('cache-control') && !reply.hasHeader('x-cache'))
          reply.header('cache-control', 'no-cache');
        return payload;
      });
      app.get(
        '/menu',
        { config: { keel: { cache: { ttl: 1000, staleWhileRevalidate: 5000 } } } },
        async () => ({
          version,
        }),
      );
    });
    expect((await app.inject('/menu')).json()).toEqual({ version: 1 });
    version = 2;
    clock.advance(1500);
    expect((await app.inject('/menu')).json()).toEqual({ version: 1 });
    await sleep(20); // the replay runs in the background
    expect((await app.inject('/menu')).json()).toEqual({ version: 2 });
    expect(reported).toEqual([]);
  });

  it('answers 304 to a matching If-None-Match, and HEAD from the GET entry', async () => {
    const { app, keel } = await build({}, (app) => {
      app.get('/doc', { config: { keel: { cache: {} } } }, async () => 'a document');
    });
    const first = await app.inject('/doc');
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]{27}"$/);
    expect((await app.inject('/doc')).headers.etag).toBe(etag);
    const again = await app.inject({ url: '/doc', headers: { 'if-none-match': `W/${etag}` } });
    expect(again.statusCode).toBe(304);
    expect(again.body).toBe('');
    const head = await app.inject({ method: 'HEAD', url: '/doc' });
    expect(head.statusCode).toBe(200);
    expect(head.headers['x-cache']).toBe('HIT');
    expect(head.headers['content-length']).toBe(String(Buffer.byteLength('a document')));
    expect(head.body).toBe('');
    expect(recorded(keel).map((s) => [s.method, s.status, s.count])).toEqual([
      ['GET', 200, 2],
      ['GET', 304, 1],
      ['HEAD', 200, 1],
    ]);
  });

  it('keys on the vary headers and says so in Vary', async () => {
    let calls = 0;
    const { app } = await build({}, (app) => {
      app.get('/hello', { config: { keel: { cache: { vary: ['Accept-Language'] } } } }, async (request) => {
        calls++;
        return request.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello';
      });
    });
    const fr = { 'accept-language': 'fr' };
    expect((await app.inject({ url: '/hello', headers: fr })).body).toBe('bonjour');
    expect((await app.inject({ url: '/hello', headers: { 'accept-language': 'en' } })).body).toBe('hello');
    const hit = await app.inject({ url: '/hello', headers: fr });
    expect(hit.body).toBe('bonjour');
    expect(hit.headers.vary).toBe('accept-language');
    expect(calls).toBe(2);
  });

  it('stores only shareable 200 answers, and skips requests with Authorization', async () => {
    const calls: Record<string, number> = {};
    const { app } = await build({}, (app) => {
      app.get('/item/:id', { config: { keel: { cache: {} } } }, async (request, reply) => {
        const { id } = request.params as { id: string };
        calls[id] = (calls[id] ?? 0) + 1;
        if (id === 'missing') return reply.code(404).send({ error: 'not found' });
        if (id === 'cookie') reply.header('set-cookie', 'session=1');
        if (id === 'private') reply.header('cache-control', 'private, max-age=60');
        if (id === 'broken') throw new Error('broken');
        return { id };
      });
    });
    for (const id of ['missing', 'cookie', 'private', 'broken']) {
      const statuses = [];
      for (let i = 0; i < 2; i++) statuses.push((await app.inject(`/item/${id}`)).statusCode);
      expect(statuses).toEqual(id === 'missing' ? [404, 404] : id === 'broken' ? [500, 500] : [200, 200]);
      expect(calls[id]).toBe(2);
    }
    for (let i = 0; i < 2; i++) {
      const answer = await app.inject({ url: '/item/me', headers: { authorization: 'Bearer x' } });
      expect(answer.headers['x-cache']).toBeUndefined();
    }
    expect(calls.me).toBe(2);
  });

  it('works with callback-style handlers, and a burst on an uncacheable answer runs each handler', async () => {
    let misses = 0;
    const { app } = await build({}, (app) => {
      app.get('/cb', { config: { keel: { cache: {} } } }, (_request, reply) => {
        setTimeout(() => reply.send('called back'), 5);
      });
      app.get('/gone', { config: { keel: { cache: {} } } }, async (_request, reply) => {
        misses++;
        await sleep(20);
        return reply.code(410).send('gone');
      });
    });
    expect((await app.inject('/cb')).headers['x-cache']).toBe('MISS');
    const hit = await app.inject('/cb');
    expect([hit.body, hit.headers['x-cache']]).toEqual(['called back', 'HIT']);

    const burst = await Promise.all(Array.from({ length: 5 }, () => app.inject('/gone')));
    expect(burst.map((r) => r.statusCode)).toEqual(Array(5).fill(410));
    expect(misses).toBe(5);
  });

  it('answers as Fastify does when a cached handler resolves undefined or throws a non-Error', async () => {
    const calls = { empty: 0, teapot: 0 };
    const { port } = await start({}, (app) => {
      app.get('/empty', { config: { keel: { cache: {} } } }, async (_request, reply) => {
        calls.empty++;
        // Fastify sends an async handler's `undefined` as an empty answer.
        reply.code(204);
      });
      app.get('/teapot', { config: { keel: { cache: {} } } }, async () => {
        calls.teapot++;
        // Fastify's error handler answers a thrown object with its statusCode.
        throw { statusCode: 418, message: 'short and stout' };
      });
      app.get('/sync-throw', { config: { keel: { cache: {} } } }, () => {
        throw Object.assign(new Error('sync'), { statusCode: 409 });
      });
      app.get('/sync-value', { config: { keel: { cache: {} } } }, () => ({ sync: true }));
    });
    const timeout = sleep(2000).then(() => 'no answer');
    for (let i = 0; i < 2; i++) {
      const empty = await Promise.race([get(port, '/empty'), timeout]);
      expect(empty).toMatchObject({ status: 204, body: '' });
      const teapot = await get(port, '/teapot');
      expect(teapot.status).toBe(418);
      expect(JSON.parse(teapot.body)).toMatchObject({ message: 'short and stout' });
      expect((await get(port, '/sync-throw')).status).toBe(409);
    }
    // Neither answer was a 200 to keep.
    expect(calls).toEqual({ empty: 2, teapot: 2 });
    const value = await get(port, '/sync-value');
    expect([value.body, value.headers['x-cache']]).toEqual(['{"sync":true}', 'MISS']);
    expect((await get(port, '/sync-value')).headers['x-cache']).toBe('HIT');
  });

  it('keeps routes that share one config.keel object apart, constrained routes on one URL included', async () => {
    const cached = { keel: { cache: { ttl: 60_000 } } };
    const { port, keel } = await start({}, (app) => {
      app.get('/a', { config: cached }, async () => 'a');
      app.get('/b', { config: cached }, async () => 'b');
      app.get('/v', { constraints: { version: '1.0.0' }, config: cached }, async () => 'v1');
      app.get('/v', { constraints: { version: '2.0.0' }, config: cached }, async () => 'v2');
    });
    const version = (v: string) => ({ 'accept-version': v });
    for (let i = 0; i < 2; i++) {
      expect((await get(port, '/a')).body).toBe('a');
      expect((await get(port, '/b')).body).toBe('b');
      expect((await get(port, '/v', undefined, 'GET', version('1.x'))).body).toBe('v1');
      expect((await get(port, '/v', undefined, 'GET', version('2.x'))).body).toBe('v2');
    }
    const head = await get(port, '/v', undefined, 'HEAD', version('2.x'));
    expect([head.status, head.headers['x-cache'], head.headers['content-length']]).toEqual([200, 'HIT', '2']);
    expect(keel.caches.map((c) => c.name).sort()).toEqual([
      'http_a',
      'http_b',
      'http_v_1.0.0',
      'http_v_2.0.0',
    ]);
    expect(keel.caches.map((c) => c.stats().hits)).toEqual([1, 1, 1, 2]);
  });

  it('refreshes a host- or version-constrained route in the background', async () => {
    const versions = { host: 0, version: 0 };
    const swr = { keel: { cache: { ttl: 1000, staleWhileRevalidate: 10_000 } } };
    const { port, keel, clock } = await start({}, (app) => {
      app.get('/h', { constraints: { host: 'shop.example' }, config: swr }, async (request) => ({
        host: request.host,
        n: ++versions.host,
      }));
      app.get('/v', { constraints: { version: '2.0.0' }, config: swr }, async () => ({
        n: ++versions.version,
      }));
    });
    const host = { host: 'shop.example' };
    const version = { 'accept-version': '2.x' };
    expect(JSON.parse((await get(port, '/h', undefined, 'GET', host)).body)).toEqual({
      host: 'shop.example',
      n: 1,
    });
    expect(JSON.parse((await get(port, '/v', undefined, 'GET', version)).body)).toEqual({ n: 1 });
    clock.advance(1500);
    // Stale: served at once while the replay refreshes it, reaching the same route.
    expect(JSON.parse((await get(port, '/h', undefined, 'GET', host)).body).n).toBe(1);
    expect(JSON.parse((await get(port, '/v', undefined, 'GET', version)).body).n).toBe(1);
    await sleep(30);
    expect(JSON.parse((await get(port, '/h', undefined, 'GET', host)).body)).toEqual({
      host: 'shop.example',
      n: 2,
    });
    expect(JSON.parse((await get(port, '/v', undefined, 'GET', version)).body)).toEqual({ n: 2 });
    expect([...keel.errors.counts.keys()]).toEqual([]);
  });

  it('adds cache time to Server-Timing and counts reads in /metrics', async () => {
    const { port, keel } = await start({}, (app) => {
      app.get('/list', { config: { keel: { cache: { name: 'list' } } } }, async () => [1, 2, 3]);
    });
    await get(port, '/list');
    const hit = await get(port, '/list');
    expect(hit.headers['server-timing']).toMatch(/^app;dur=\d+\.\d, cache;dur=\d+\.\d;desc="1 hit, 0 miss"$/);
    expect(await keel.metrics()).toContain('keel_cache_requests_total{cache="list",result="hit"} 1');
  });
});
