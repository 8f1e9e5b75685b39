import { Agent, request } from 'node:http';
import { createGzip, gunzipSync } from 'node:zlib';
import { createFakeClock, type FakeClock } from '@keel/core';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { instrument, type KeelExpress } from '../src/index.js';
import { get, serve } from './helpers.js';

async function start(
  routes: (app: express.Express, k: KeelExpress, clock: FakeClock) => void,
  onError?: (error: unknown, where: string) => void,
) {
  const app = express();
  const clock = createFakeClock();
  const k = instrument(app, { runtime: false, clock, onError });
  routes(app, k, clock);
  const { port } = await serve(app, k.keel);
  return { k, clock, port };
}

/**
 * What `compression` does, reduced: mounted before the routes, it wraps
 * `write`/`end` and sets `Content-Encoding` as the head goes out, below
 * whatever a route's middleware wraps later.
 */
function gzipAll(): express.RequestHandler {
  return (_req, res, next) => {
    const write = res.write.bind(res) as (chunk: unknown) => boolean;
    const end = res.end.bind(res) as () => void;
    let gzip: ReturnType<typeof createGzip> | undefined;
    const start = () => {
      if (gzip) return gzip;
      res.setHeader('content-encoding', 'gzip');
      res.removeHeader('content-length');
      res.vary('accept-encoding');
      gzip = createGzip();
      gzip.on('data', (chunk) => write(chunk));
      gzip.on('end', () => end());
      return gzip;
    };
    res.write = ((chunk: unknown) => start().write(chunk as Buffer)) as typeof res.write;
    res.end = ((chunk?: unknown) => {
      if (chunk !== undefined && typeof chunk !== 'function') start().end(chunk as Buffer);
      else start().end();
      return res;
    }) as typeof res.end;
    next();
  };
}

/** A GET that asks for gzip and returns the body unzipped. */
function getGzip(port: number, path: string) {
  return new Promise<{ headers: Record<string, unknown>; body: string }>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, headers: { 'accept-encoding': 'gzip' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const raw = Buffer.concat(chunks);
        const body = res.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
        resolve({ headers: res.headers, body: body.toString() });
      });
    })
      .on('error', reject)
      .end();
  });
}

describe('response cache', () => {
  it('stores answers that a compression middleware mounted before it encodes, and serves them encoded', async () => {
    let calls = 0;
    const big = 'x'.repeat(4096);
    const { port } = await start((app, k) => {
      app.use(gzipAll());
      app.get('/big', k.cache({ ttl: 60_000 }), (_req, res) => {
        calls++;
        res.type('text/plain').send(big);
      });
      app.get('/streamed', k.cache({ ttl: 60_000 }), (_req, res) => {
        calls++;
        res.type('text/plain');
        res.write(big);
        res.end('!');
      });
    });
    const first = await getGzip(port, '/big');
    const hit = await getGzip(port, '/big');
    expect([first.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect([first.body, hit.body]).toEqual([big, big]);
    expect(hit.headers['content-encoding']).toBe('gzip');
    expect(calls).toBe(1);
    expect((await getGzip(port, '/streamed')).body).toBe(`${big}!`);
    const streamedHit = await getGzip(port, '/streamed');
    expect([streamedHit.headers['x-cache'], streamedHit.body]).toEqual(['HIT', `${big}!`]);
    expect(calls).toBe(2);
  });

  it('does not store an answer whose body reaches it already encoded', async () => {
    let calls = 0;
    const { port } = await start((app, k) => {
      // Mounted after the cache, compression hands it the encoded bytes: those cannot be replayed as they are.
      app.get('/late', k.cache({ ttl: 60_000 }), gzipAll(), (_req, res) => {
        calls++;
        res.type('text/plain').send('y'.repeat(4096));
      });
    });
    expect((await getGzip(port, '/late')).body).toBe('y'.repeat(4096));
    expect((await getGzip(port, '/late')).headers['x-cache']).toBe('MISS');
    expect(calls).toBe(2);
  });

  it('runs the handler once for 100 concurrent identical misses', async () => {
    let calls = 0;
    // The handler answers once all 100 requests are in, so every one of them is a miss however slow the machine.
    let arrived = 0;
    let allIn!: () => void;
    const everyoneIn = new Promise<void>((resolve) => (allIn = resolve));
    const { port, k } = await start((app, k) => {
      app.use((_req, _res, next) => {
        if (++arrived === 100) allIn();
        next();
      });
      app.get('/catalog', k.cache({ name: 'catalog', ttl: 60_000 }), async (_req, res) => {
        calls++;
        await everyoneIn;
        res.json({ items: [1, 2, 3], call: calls });
      });
    });
    const agent = new Agent({ keepAlive: true });
    const answers = await Promise.all(Array.from({ length: 100 }, () => get(port, '/catalog', agent)));
    agent.destroy();
    expect(calls).toBe(1);
    expect(new Set(answers.map((a) => a.body))).toEqual(new Set(['{"items":[1,2,3],"call":1}']));
    expect(answers.filter((a) => a.headers['x-cache'] === 'MISS')).toHaveLength(100);
    expect(
      answers.every(
        (a) => a.status === 200 && a.headers['content-type']?.toString().startsWith('application/json'),
      ),
    ).toBe(true);
    const hit = await get(port, '/catalog');
    expect(hit.headers['x-cache']).toBe('HIT');
    expect(hit.headers['cache-control']).toBe('public, max-age=60');
    expect(calls).toBe(1);
    expect(k.keel.caches[0]!.stats()).toMatchObject({ name: 'catalog', misses: 100, hits: 1 });
  });

  it('serves stale while revalidating, and refreshes once', async () => {
    let version = 1;
    let calls = 0;
    const { port, clock } = await start((app, k) => {
      app.get('/news', k.cache({ ttl: 1000, staleWhileRevalidate: 60_000 }), (_req, res) => {
        calls++;
        res.send(`news v${version}`);
      });
    });
    expect((await get(port, '/news')).body).toBe('news v1');
    version = 2;
    clock.advance(2000);
    const stale = await get(port, '/news');
    expect(stale.body).toBe('news v1');
    expect(stale.headers['x-cache']).toBe('HIT');
    // A burst while the refresh runs: each gets v1 or (once refreshed) v2, and the handler runs once more in all.
    const burst = await Promise.all(Array.from({ length: 20 }, () => get(port, '/news')));
    expect(burst.map((a) => a.body).filter((b) => b !== 'news v1' && b !== 'news v2')).toEqual([]);
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(2);
    expect((await get(port, '/news')).body).toBe('news v2');
    expect(calls).toBe(2);
  });

  it('keeps serving stale when a refresh gets an answer it cannot store, and reports the status it got', async () => {
    const reported: string[] = [];
    let status = 200;
    const { port, clock } = await start(
      (app, k) => {
        app.get('/prices', k.cache({ ttl: 1000, staleWhileRevalidate: 60_000 }), (_req, res) => {
          res.status(status).send(`prices at ${status}`);
        });
      },
      (error, where) => reported.push(`${where}: ${(error as Error).message}`),
    );
    expect((await get(port, '/prices')).body).toBe('prices at 200');
    status = 503;
    clock.advance(2000);
    expect((await get(port, '/prices')).body).toBe('prices at 200');
    await new Promise((r) => setTimeout(r, 50));
    expect(reported).toEqual([
      'cache-refresh:http_1: cache "http_1": refreshing a stale entry failed: the app answered 503, not 200',
    ]);
    expect((await get(port, '/prices')).body).toBe('prices at 200');
  });

  it('marks a refresh X-Cache: REFRESH, so a policy middleware that defers to Keel lets it be stored', async () => {
    let version = 1;
    const reported: unknown[] = [];
    const { port, clock } = await start(
      (app, k) => {
        // An app-wide default: no-cache on GET answers that state no policy, unless Keel's cache handles them.
        app.use((_req, res, next) => {
          const writeHead = res.writeHead;
          res.writeHead = function (this: typeof res, ...args: Parameters<typeof writeHead>) {
            if (!this.hasHeader('cache-control') && !this.hasHeader('x-cache'))
              this.setHeader('Cache-Control', 'no-cache');
            return writeHead.apply(this, args);
          } as typeof writeHead;
          next();
        });
        app.get('/menu', k.cache({ ttl: 1000, staleWhileRevalidate: 60_000 }), (_req, res) => {
          res.send(`menu v${version}`);
        });
      },
      (error) => reported.push(error),
    );
    expect((await get(port, '/menu')).body).toBe('menu v1');
    version = 2;
    clock.advance(2000);
    expect((await get(port, '/menu')).body).toBe('menu v1');
    await new Promise((r) => setTimeout(r, 50));
    expect((await get(port, '/menu')).body).toBe('menu v2');
    expect(reported).toEqual([]);
  });

  it('runs a background refresh in a request context of its own, with its route deadline', async () => {
    const seen: (number | undefined)[] = [];
    let version = 0;
    const { port, clock, k } = await start((app, k) => {
      app.get(
        '/report',
        k.cache({ ttl: 1000, staleWhileRevalidate: 60_000 }),
        k.deadline(5000),
        (_req, res) => {
          seen.push(k.keel.context.remainingMs());
          k.keel.context.addDbTime(40);
          res.send(`report v${++version}`);
        },
      );
    });
    expect((await get(port, '/report')).body).toBe('report v1');
    clock.advance(2000);
    const stale = await get(port, '/report');
    expect(stale.body).toBe('report v1');
    await new Promise((r) => setTimeout(r, 50));
    expect((await get(port, '/report')).body).toBe('report v2');
    // The refresh has the route's deadline, not what is left of the stale read that started it.
    expect(seen).toEqual([5000, 5000]);
    // And its database time is its own, not the stale read's.
    expect(stale.headers['server-timing']).not.toContain('db;');
    expect(k.keel.errors.total()).toBe(0);
  });

  it('names each cache in /metrics: http_1, http_2 in the order k.cache() is called, or its `name`', async () => {
    const { port } = await start((app, k) => {
      app.get('/a', k.cache(), (_req, res) => res.send('a'));
      app.get('/b', k.cache({ name: 'catalog' }), (_req, res) => res.send('b'));
      app.get('/c', k.cache(), (_req, res) => res.send('c'));
    });
    for (const path of ['/a', '/b', '/c', '/a']) await get(port, path);
    const metrics = (await get(port, '/metrics')).body;
    expect(metrics).toContain('keel_cache_requests_total{cache="http_1",result="hit"} 1');
    expect(metrics).toContain('keel_cache_requests_total{cache="catalog",result="miss"} 1');
    expect(metrics).toContain('keel_cache_requests_total{cache="http_3",result="miss"} 1');
  });

  it('keeps an answer fresh for a minute when no ttl is given, then runs the handler again', async () => {
    let runs = 0;
    const { port, clock } = await start((app, k) => {
      app.get('/a', k.cache(), (_req, res) => res.send(`run ${++runs}`));
    });
    expect((await get(port, '/a')).body).toBe('run 1');
    await clock.advanceAsync(59_999);
    expect((await get(port, '/a')).headers['x-cache']).toBe('HIT');
    await clock.advanceAsync(2);
    expect(await get(port, '/a')).toMatchObject({ body: 'run 2', headers: { 'x-cache': 'MISS' } });
  });

  it('answers 304 to a matching If-None-Match', async () => {
    const { port } = await start((app, k) => {
      app.get('/logo', k.cache(), (_req, res) => {
        res.type('text/plain').send('logo bytes');
      });
    });
    const first = await get(port, '/logo');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^(W\/)?"/);
    const { request } = await import('node:http');
    const status = await new Promise<number>((resolve) => {
      request({ host: '127.0.0.1', port, path: '/logo', headers: { 'if-none-match': etag } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).end();
    });
    expect(status).toBe(304);
  });

  it('labels the first miss with the ETag and Vary of the hits that follow', async () => {
    const { port } = await start((app, k) => {
      // Without Express's own ETag, the one on the first answer can only come from the cache.
      app.set('etag', false);
      app.get('/menu', k.cache({ ttl: 60_000, vary: ['accept-language'] }), (_req, res) => {
        res.json({ dishes: 3 });
      });
    });
    const first = await get(port, '/menu');
    const hit = await get(port, '/menu');
    expect([first.headers['x-cache'], hit.headers['x-cache']]).toEqual(['MISS', 'HIT']);
    expect(first.headers.etag).toMatch(/^"[\w-]{27}"$/);
    for (const name of ['etag', 'vary']) expect(first.headers[name]).toBe(hit.headers[name]);
    expect(first.headers.vary).toBe('accept-language');
    // Cache-Control only on the hits: a session could still add Set-Cookie to the first as its head goes out.
    expect(first.headers['cache-control']).toBeUndefined();
    expect(hit.headers['cache-control']).toBe('public, max-age=60');
  });

  it('does not store an answer that gets Set-Cookie as its head is written', async () => {
    let calls = 0;
    const { port } = await start((app, k) => {
      app.get('/profile', k.cache({ ttl: 60_000 }), (_req, res) => {
        calls++;
        // As express-session's on-headers listener does: a cookie added inside writeHead, after res.end().
        const writeHead = res.writeHead;
        res.writeHead = function (this: typeof res, ...args: unknown[]) {
          this.setHeader('set-cookie', 'sid=abc');
          return (writeHead as (...a: unknown[]) => typeof res).apply(this, args);
        } as typeof res.writeHead;
        res.send('profile');
      });
    });
    const first = await get(port, '/profile');
    expect(first.headers['set-cookie']).toEqual(['sid=abc']);
    expect(first.headers['cache-control']).toBeUndefined();
    expect((await get(port, '/profile')).headers['x-cache']).toBe('MISS');
    expect(calls).toBe(2);
  });

  it('keys by the vary headers and stores only cacheable answers', async () => {
    let calls = 0;
    const { port } = await start((app, k) => {
      app.get('/hello', k.cache({ vary: ['accept-language'] }), (req, res) => {
        calls++;
        res.send(req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello');
      });
      app.get('/me', k.cache(), (_req, res) => {
        calls++;
        res.cookie('session', 'abc').send('private');
      });
    });
    const { request } = await import('node:http');
    const ask = (lang: string) =>
      new Promise<string>((resolve) => {
        request({ host: '127.0.0.1', port, path: '/hello', headers: { 'accept-language': lang } }, (res) => {
          let body = '';
          res.on('data', (c) => (body += c));
          res.on('end', () => resolve(body));
        }).end();
      });
    expect(await ask('fr')).toBe('bonjour');
    expect(await ask('en')).toBe('hello');
    expect(await ask('fr')).toBe('bonjour');
    expect(calls).toBe(2);
    await get(port, '/me');
    await get(port, '/me');
    expect(calls).toBe(4);
  });

  it('never serves an answer that varies on a header outside the key to other values of it', async () => {
    let calls = 0;
    const { k, port } = await start((app, k) => {
      // The handler negotiates the language itself and says so in Vary, but the cache was not told.
      app.get('/greeting', k.cache(), (req, res) => {
        calls++;
        res.vary('accept-language').send(req.headers['accept-language'] === 'fr' ? 'bonjour' : 'hello');
      });
    });
    const ask = (lang: string) =>
      new Promise<{ body: string; vary: unknown }>((resolve) => {
        request(
          { host: '127.0.0.1', port, path: '/greeting', headers: { 'accept-language': lang } },
          (res) => {
            let body = '';
            res.on('data', (c) => (body += c));
            res.on('end', () => resolve({ body, vary: res.headers.vary }));
          },
        ).end();
      });
    expect((await ask('fr')).body).toBe('bonjour');
    const en = await ask('en');
    expect(en.body).toBe('hello');
    expect(String(en.vary).toLowerCase()).toBe('accept-language');
    expect(calls).toBe(2);
    expect(k.keel.errors.counts.get('@keel/express:vary')).toBe(2);
  });
});
