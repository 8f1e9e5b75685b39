import { Agent, createServer, request as httpRequest, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { ABORTED_STATUS, createFakeClock, createKeel, Keel, UNMATCHED_ROUTE } from '@keel/core';
import express5 from 'express';
import express4 from 'express4';
import { describe, expect, it, vi } from 'vitest';
import { instrument } from '../src/index.js';
import { type ExpressFactory, get, load, serve, start } from './helpers.js';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function nestedRoutes(make: ExpressFactory) {
  return (app: ReturnType<ExpressFactory>) => {
    const v1 = make.Router();
    v1.get('/users/:id', (req, res) => {
      res.json({ id: req.params.id });
    });
    v1.get('/', (_req, res) => {
      res.send('v1 index');
    });
    const api = make.Router();
    api.use('/v1', v1);
    app.use('/api', api);
    const tenant = make.Router();
    tenant.get('/orders/:order', async (_req, res) => {
      await new Promise((r) => setTimeout(r, 30));
      res.send('order');
    });
    app.use('/t/:tenant', tenant);
    app.get('/', (_req, res) => {
      res.send('home');
    });
  };
}

const routesOf = (keel: Keel) =>
  keel.http.series.map((s) => `${s.labelValues[0]} ${s.labelValues[1]} ${s.labelValues[2]}`).sort();

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as unknown as ExpressFactory],
])('%s', (_name, make) => {
  it('keeps each request apart while slots are reused: status, route and Server-Timing of its own', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      app.get('/status/:code/:ms', async (req, res) => {
        await new Promise((r) => setTimeout(r, Number(req.params.ms)));
        res.status(Number(req.params.code)).send(req.params.code);
      });
      app.get('/other/:n', (_req, res) => {
        res.writeHead(202).end();
      });
    });
    const codes = [200, 201, 404, 500];
    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    // Waves of requests that finish out of order, so a freed slot is taken while others are in flight.
    const answers = await Promise.all(
      Array.from({ length: 80 }, (_, i) =>
        i % 5 === 4
          ? get(port, `/other/${i}`, agent)
          : get(port, `/status/${codes[i % 4]}/${(i * 7) % 23}`, agent),
      ),
    );
    agent.destroy();
    answers.forEach((a, i) => {
      expect(a.status).toBe(i % 5 === 4 ? 202 : codes[i % 4]);
      expect(a.headers['server-timing']).toMatch(/^app;dur=\d/);
    });
    await new Promise((r) => setImmediate(r));
    const counts = Object.fromEntries(
      keel.http.series.map((s) => [
        `${s.labelValues[1]} ${s.labelValues[2]}`,
        s.le.reduce((a, b) => a + b, 0),
      ]),
    );
    expect(counts).toEqual({
      '/other/:n 202': 16,
      '/status/:code/:ms 200': 16,
      '/status/:code/:ms 201': 16,
      '/status/:code/:ms 404': 16,
      '/status/:code/:ms 500': 16,
    });
  });

  it('records routes defined before instrument(app) as well as after', async () => {
    const app = make();
    app.get('/early/:id', (_req, res) => {
      res.send('early');
    });
    const k = instrument(app, { runtime: false, clock: createFakeClock() });
    app.get('/late/:id', (_req, res) => {
      res.send('late');
    });
    const { port } = await serve(app, k.keel);
    expect((await get(port, '/early/1')).status).toBe(200);
    expect((await get(port, '/late/2')).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(routesOf(k.keel)).toEqual(['GET /early/:id 200', 'GET /late/:id 200']);
  });

  it('records the full route template through nested routers and parameterised mounts', async () => {
    const { keel, port } = await start(make, {}, nestedRoutes(make));
    for (const path of [
      '/api/v1/users/1',
      '/api/v1/users/2',
      '/api/v1',
      '/t/acme/orders/9',
      '/t/globex/orders/7',
      '/',
      '/nope',
    ]) {
      await get(port, path);
    }
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual([
      'GET / 200',
      'GET /api/v1 200',
      'GET /api/v1/users/:id 200',
      'GET /t/:tenant/orders/:order 200',
      `GET ${UNMATCHED_ROUTE} 404`,
    ]);
    expect(keel.errors.total()).toBe(0);
    // The async handler's 30 ms are inside the recorded duration.
    const orders = keel.http.series.find((s) => s.labelValues[1] === '/t/:tenant/orders/:order')!;
    expect(orders.sum / 2).toBeGreaterThanOrEqual(25);
  });
});

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as unknown as ExpressFactory],
])('%s error path', (_name, make) => {
  it('keeps the mount prefix when an error leaves the router and an app-level handler answers', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      const tenant = make.Router();
      tenant.get('/orders/:order', () => {
        throw new Error('boom');
      });
      app.use('/t/:tenant', tenant);
      app.use(
        (
          _err: unknown,
          _req: unknown,
          res: { status(n: number): { send(s: string): void } },
          _next: unknown,
        ) => {
          res.status(500).send('handled');
        },
      );
    });
    expect((await get(port, '/t/acme/orders/1')).status).toBe(500);
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual(['GET /t/:tenant/orders/:order 500']);
  });

  it('keeps the full prefix when a router between the route and the app answers the error', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      const v1 = make.Router();
      v1.get('/users/:id', (_req, _res, next) => {
        // Async, as Express 5 sees a rejected handler (Express 4 needs the explicit next).
        setImmediate(() => next(new Error('boom')));
      });
      const api = make.Router();
      api.use('/v1', v1);
      api.use((_err: unknown, _req: unknown, res: ErrorResponse, _next: unknown) => {
        res.status(500).send('handled by /api');
      });
      app.use('/api', api);
    });
    expect((await get(port, '/api/v1/users/1')).body).toBe('handled by /api');
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual(['GET /api/v1/users/:id 500']);
  });

  it('follows an error out of a sub-app mounted with a parameter', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      const admin = make();
      admin.get('/users/:id', (_req, res) => {
        res.send('user');
      });
      admin.get('/fail/:id', (_req, _res, next) => {
        next(new Error('boom'));
      });
      app.use('/org/:org', admin);
      app.use((_err: unknown, _req: unknown, res: ErrorResponse, _next: unknown) => {
        res.status(500).send('handled');
      });
    });
    // The sub-app's own answer shows the way into it; the error after it is followed there.
    expect((await get(port, '/org/acme/users/1')).status).toBe(200);
    expect((await get(port, '/org/acme/fail/1')).status).toBe(500);
    expect((await get(port, '/org/globex/fail/2')).status).toBe(500);
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual(['GET /org/:org/fail/:id 500', 'GET /org/:org/users/:id 200']);
  });
});

type ErrorResponse = { status(n: number): { send(s: string): void } };

describe.each([
  ['Express 5', express5],
  ['Express 4', express4 as unknown as ExpressFactory],
])('%s mount parameters', (_name, make) => {
  const ok = (_req: unknown, res: { send(s: string): void }) => {
    res.send('ok');
  };

  it('puts the patterns back for routers mounted at the root and for sub-apps', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      // The common layout: an API router mounted without a path, tenants below it.
      const tenant = make.Router();
      tenant.get('/orders/:order', ok);
      const api = make.Router();
      api.use('/t/:tenant', tenant);
      app.use(api);
      // A whole Express app mounted under a parameter.
      const admin = make();
      admin.get('/users/:id', ok);
      app.use('/org/:org', admin);
    });
    for (const path of ['/t/acme/orders/1', '/t/globex/orders/2', '/org/acme/users/1', '/org/globex/users/2'])
      expect((await get(port, path)).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual(['GET /org/:org/users/:id 200', 'GET /t/:tenant/orders/:order 200']);
  });

  it('puts the patterns back for encoded values and values that repeat a static part of the path', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      const items = make.Router();
      items.get('/items/:item', ok);
      app.use('/v/:version', items);
    });
    for (const path of ['/v/v%201/items/1', '/v/caf%C3%A9/items/1', '/v/v/items/1', '/v/items/items/1'])
      expect((await get(port, path)).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual(['GET /v/:version/items/:item 200']);
    expect(keel.errors.total()).toBe(0);
  });

  it('keeps the patterns past the prefixes it caches, for each way to a route', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      const orders = make.Router();
      orders.get('/orders/:order', ok);
      app.use('/t/:tenant', orders);
      app.use('/org/:org/shop', orders);
    });
    const agent = new Agent({ keepAlive: true });
    for (let i = 0; i < 100; i++) await get(port, `/t/tenant-${i}/orders/${i}`, agent);
    for (let i = 0; i < 5; i++) await get(port, `/org/org-${i}/shop/orders/${i}`, agent);
    for (let i = 100; i < 110; i++) await get(port, `/t/tenant-${i}/orders/${i}`, agent);
    agent.destroy();
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual([
      'GET /org/:org/shop/orders/:order 200',
      'GET /t/:tenant/orders/:order 200',
    ]);
  });

  it('puts the mount prefix before every path of a route with several', async () => {
    const { keel, port } = await start(make, {}, (app) => {
      const r = make.Router();
      r.get(['/a/:x', '/b'], ok);
      app.use('/api', r);
    });
    expect((await get(port, '/api/a/1')).status).toBe(200);
    expect((await get(port, '/api/b')).status).toBe(200);
    await new Promise((r) => setImmediate(r));
    expect(routesOf(keel)).toEqual(['GET /api/a/:x,/api/b 200']);
  });
});

describe('@keel/express', () => {
  it('serves the endpoints and does not count probe or scrape traffic', async () => {
    const { keel, port } = await start(express5);
    expect((await get(port, '/livez')).status).toBe(200);
    expect((await get(port, '/readyz')).status).toBe(200);
    expect(JSON.parse((await get(port, '/health')).body).status).toBe('healthy');
    expect((await get(port, '/metrics')).body).toContain('keel_health_score');
    expect(keel.http.seriesCount).toBe(0);
  });

  it('serves the /keel dashboard page and its data (Accept: application/json), not counted either', async () => {
    const { keel, port } = await start(express5);
    const page = await get(port, '/keel');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<title>Keel</title>');
    const data = await fetch(`http://127.0.0.1:${port}/keel`, { headers: { accept: 'application/json' } });
    expect(((await data.json()) as { health: { status: string } }).health.status).toBe('healthy');
    expect(keel.http.seriesCount).toBe(0);
  });

  it('keeps series and memory flat under 10^5 distinct random unmatched paths', async () => {
    const { keel, port } = await start(express5);
    const agent = new Agent({ keepAlive: true, maxSockets: 64 });
    const random = (i: number) => `/${i.toString(36)}/${Math.random().toString(36).slice(2)}`;
    await load(20_000, 64, (i) => get(port, random(i), agent));
    gc();
    const heapAfterWarmup = process.memoryUsage().heapUsed;
    await load(80_000, 64, (i) => get(port, random(i + 20_000), agent));
    await new Promise((r) => setImmediate(r));
    gc();
    const growth = process.memoryUsage().heapUsed - heapAfterWarmup;
    agent.destroy();
    expect(keel.http.seriesCount).toBe(1);
    expect(keel.http.series[0]!.labelValues).toEqual(['GET', UNMATCHED_ROUTE, '404', '']);
    expect(keel.http.series[0]!.le.reduce((a, b) => a + b, 0)).toBe(100_000);
    // 80,000 more requests may not leave more than a few MB behind (a series each would be hundreds of MB).
    expect(growth).toBeLessThan(8 * 1024 * 1024);
  }, 120_000);

  it('sheds load with 503 + Retry-After, except probes and critical routes, and records what it shed', async () => {
    const { keel, port } = await start(express5, { critical: ['/pay'] }, (app) => {
      app.get('/work', (_req, res) => {
        res.send('work');
      });
      app.get('/pay/now', (_req, res) => {
        res.send('paid');
      });
      app.get('/payroll', (_req, res) => {
        res.send('payroll');
      });
    });
    keel.shedder.force('test');
    const shed = await get(port, '/work');
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('5');
    expect((await get(port, '/pay/now')).status).toBe(200);
    // A prefix covers the paths below it, not every path that starts with its letters.
    expect((await get(port, '/payroll')).status).toBe(503);
    expect((await get(port, '/livez')).status).toBe(200);
    expect(keel.shedder.shed).toBe(2);
    // Recorded as Keel's answer (keel_outcome "shed"): see self-answers.test.ts.
    expect(routesOf(keel)).toEqual(['GET /pay/now 200', 'GET /payroll 503', 'GET /work 503']);
    keel.shedder.force(undefined);
    expect((await get(port, '/work')).status).toBe(200);
  });

  it('matches a critical pattern with the g flag on every request, not every other one', async () => {
    const { keel, port } = await start(express5, { critical: [/^\/pay\//g] }, (app) => {
      app.get('/pay/now', (_req, res) => {
        res.send('paid');
      });
    });
    keel.shedder.force('test');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await get(port, '/pay/now')).status);
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(keel.shedder.shed).toBe(0);
  });

  it('drops no request when shut down under load, and closes the server', async () => {
    const { k, port, server } = await start(
      express5,
      { shutdown: { preStopDelay: 50 }, clock: undefined },
      (app) => {
        app.get('/slow', async (_req, res) => {
          if (++inHandler === 50) allIn();
          await new Promise((r) => setTimeout(r, 200));
          res.send('done');
        });
      },
    );
    let inHandler = 0;
    let allIn!: () => void;
    const fifty = new Promise<void>((r) => (allIn = r));
    const agent = new Agent({ keepAlive: true });
    const answers = Array.from({ length: 50 }, () => get(port, '/slow', agent));
    // Every request in flight when the shutdown starts.
    await fifty;
    const report = k.shutdown();
    expect((await get(port, '/readyz')).status).toBe(503);
    const results = await Promise.all(answers);
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect((await report).drained).toBe(true);
    expect(server.listening).toBe(false);
    expect(k.keel.closed).toBe(true);
    agent.destroy();
  });

  it('never fails a request because a user callback inside Keel throws', async () => {
    const { keel, clock, port } = await start(
      express5,
      {
        critical: () => {
          throw new Error('bad predicate');
        },
        onError: () => {
          throw new Error('bad error handler');
        },
      },
      (app) => {
        app.get('/ok', (_req, res) => {
          res.send('ok');
        });
      },
    );
    keel.on('evaluation', () => {
      throw new Error('bad listener');
    });
    keel.shedder.force('test');
    expect((await get(port, '/ok')).status).toBe(200);
    expect((await get(port, '/ok')).status).toBe(200);
    expect(keel.errors.counts.get('express:critical')).toBe(2);
    keel.shedder.force(undefined);
    clock.advance(10_000);
    expect((await get(port, '/ok')).status).toBe(200);
  });

  it('adds Server-Timing with app and db time, and carries the deadline', async () => {
    let remaining: number | undefined;
    const { k, keel, port, clock } = await start(express5, {}, (app) => {
      app.get('/report', async (_req, res) => {
        await new Promise((r) => setImmediate(r));
        clock.advance(40);
        remaining = keel.context.remainingMs();
        keel.context.addDbTime(12.5);
        res.send('ok');
      });
    });
    // As an app does whose own code reads the context (the pg pool does this itself).
    keel.context.use();
    const answer = await get(port, '/report');
    expect(answer.headers['server-timing']).toMatch(/^app;dur=\d+\.\d, db;dur=12\.5;desc="1 queries"$/);
    expect(remaining).toBe(160);
    void k;
  });

  it("appends to the app's own Server-Timing, set with res.set or passed to writeHead", async () => {
    const { port } = await start(express5, {}, (app) => {
      app.get('/set', (_req, res) => {
        res.set('server-timing', 'render;dur=3').send('ok');
      });
      app.get('/head', (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain', 'server-timing': 'render;dur=4' });
        res.end('ok');
      });
    });
    expect((await get(port, '/set')).headers['server-timing']).toMatch(/^render;dur=3, app;dur=\d+\.\d$/);
    expect((await get(port, '/head')).headers['server-timing']).toMatch(/^render;dur=4, app;dur=\d+\.\d$/);
  });

  it('adds Server-Timing to HEAD, 204, flushed and streamed answers, bodies intact', async () => {
    const { port } = await start(express5, {}, (app) => {
      app.get('/users/:id', (req, res) => {
        res.json({ id: req.params.id });
      });
      app.get('/empty', (_req, res) => {
        res.status(204).end();
      });
      app.get('/stream', (_req, res) => {
        res.flushHeaders();
        res.write('a');
        setTimeout(() => res.end('b'), 10);
      });
    });
    const timing = /^app;dur=\d+\.\d$/;
    const head = await get(port, '/users/1', undefined, 'HEAD');
    expect([head.status, head.body, head.headers['content-type']]).toEqual([
      200,
      '',
      'application/json; charset=utf-8',
    ]);
    expect(head.headers['server-timing']).toMatch(timing);
    const empty = await get(port, '/empty');
    expect([empty.status, empty.body]).toEqual([204, '']);
    expect(empty.headers['server-timing']).toMatch(timing);
    const stream = await get(port, '/stream');
    expect([stream.status, stream.body, stream.headers['transfer-encoding']]).toEqual([200, 'ab', 'chunked']);
    expect(stream.headers['server-timing']).toMatch(timing);
    expect((await get(port, '/users/2')).body).toBe('{"id":"2"}');
  });

  it('chains a writeHead already on the response, and records the status as Node sent it', async () => {
    const app = express4();
    const k = instrument(app as never, { runtime: false, clock: createFakeClock() });
    app.get('/legacy', (_req, res) => {
      // Express 4 still takes a string status (deprecated); Node sends it as a number.
      (res.status as (code: unknown) => typeof res)('201').send('ok');
    });
    // What a parent app's on-headers (compression, sessions) leaves on the response before this app sees it.
    const server = createServer((req, res: ServerResponse) => {
      const before = res.writeHead;
      res.writeHead = function (this: ServerResponse, ...args: unknown[]) {
        this.setHeader('x-outer', 'ran');
        return (before as (...a: unknown[]) => ServerResponse).apply(this, args);
      } as ServerResponse['writeHead'];
      (app as unknown as (a: typeof req, b: typeof res) => void)(req, res);
    });
    const { port } = await serve({ listen: (p: number, h: string) => server.listen(p, h) }, k.keel);
    const answer = await get(port, '/legacy');
    expect(answer.status).toBe(201);
    expect(answer.headers['x-outer']).toBe('ran');
    expect(answer.headers['server-timing']).toMatch(/^app;dur=\d+\.\d$/);
    await new Promise((r) => setTimeout(r, 20));
    expect(routesOf(k.keel)).toEqual(['GET /legacy 201']);
  });

  it('records the method a method-override middleware routed by', async () => {
    const { keel, port } = await start(express5, {}, (app) => {
      app.use((req, _res, next) => {
        const override = req.headers['x-http-method-override'];
        if (typeof override === 'string') req.method = override;
        next();
      });
      app.delete('/items/:id', (_req, res) => {
        res.send('gone');
      });
    });
    const { request } = await import('node:http');
    await new Promise<void>((resolve, reject) => {
      request(
        {
          host: '127.0.0.1',
          port,
          path: '/items/7',
          method: 'POST',
          headers: { 'x-http-method-override': 'DELETE' },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve());
        },
      )
        .on('error', reject)
        .end();
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(routesOf(keel)).toEqual(['DELETE /items/:id 200']);
  });

  it('takes a per-route deadline', async () => {
    let remaining: number | undefined;
    const app = express5();
    const k = instrument(app, { runtime: false, clock: createFakeClock() });
    k.keel.context.use();
    app.get('/export', k.deadline(5000), (_req, res) => {
      remaining = k.keel.context.remainingMs();
      res.send('ok');
    });
    const { port } = await serve(app, k.keel);
    await get(port, '/export');
    expect(remaining).toBe(5000);
  });

  it('records a request the client aborted as 499, not as a server error', async () => {
    const { keel, port } = await start(express5, {}, (app) => {
      app.get('/slow', async (_req, res) => {
        await new Promise((r) => setTimeout(r, 200));
        res.send('late');
      });
    });
    await new Promise<void>((resolve) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: '/slow' });
      req.on('error', () => resolve());
      req.end();
      setTimeout(() => req.destroy(), 50);
    });
    await new Promise((r) => setTimeout(r, 250));
    expect(routesOf(keel)).toEqual([`GET /slow ${ABORTED_STATUS}`]);
  });

  it('rejects bad options at setup', () => {
    expect(() => instrument(express5(), { critical: [42 as never] })).toThrowError(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
    expect(() => instrument(express5(), { keel: {} as never })).toThrowError(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
  });

  it('names a mistyped option after instrument and says what to write instead, before making an instance', () => {
    const close = vi.spyOn(Keel.prototype, 'close');
    try {
      for (const [options, names, replacement] of [
        [{ mountEndpoint: false }, '`mountEndpoint`', '`mountEndpoints`'],
        [{ critcal: ['/pay'] }, '`critcal`', '`critical`'],
        [{ budget: {} }, '`budget`', '`budgets`'], // renamed in core: core names the replacement
        [{ frobnicate: 1 }, '`frobnicate`', 'mountEndpoints'], // no near key: the adapter's own are listed
      ] as const) {
        expect(() => instrument(express5(), options as never)).toThrowError(
          expect.objectContaining({
            code: 'KEEL_INVALID_OPTION',
            message: expect.stringMatching(new RegExp(`${names}.*${replacement.replace(/[`]/g, '.')}`)),
          }),
        );
      }
      // Refused before createKeel: no instance was made and left ticking.
      expect(close).not.toHaveBeenCalled();
    } finally {
      close.mockRestore();
    }
    expect(() => instrument(express5(), { mountEndpoint: false } as never)).toThrowError(/^instrument: /);
  });

  it('refuses k.deadline() at setup when context: false would drop it, saying what to change', async () => {
    const { k, port } = await start(express5, { context: false }, (app) => {
      app.get('/plain', (_req, res) => res.json({ left: k.keel.context.remainingMs() ?? null }));
    });
    expect(() => k.deadline(1000)).toThrowError(
      expect.objectContaining({
        code: 'KEEL_INVALID_OPTION',
        message: expect.stringContaining('`context: false`'),
      }),
    );
    // The reason it must fail: without contexts no handler can read a deadline.
    expect(JSON.parse((await get(port, '/plain')).body)).toEqual({ left: null });
  });

  it('refuses core options given alongside an existing `keel` instead of dropping them', async () => {
    const keel = createKeel({ runtime: false });
    expect(() => instrument(express5(), { keel, service: 'orders' })).toThrowError(
      expect.objectContaining({
        code: 'KEEL_INVALID_OPTION',
        message: expect.stringContaining('`service` cannot be combined with `keel`'),
      }),
    );
    await keel.close();
  });

  it('refuses an unknown shutdown option, naming it, and keeps its own `signals` out of graceful shutdown', async () => {
    expect(() => instrument(express5(), { shutdown: { drainTimout: 100 } as never })).toThrowError(
      expect.objectContaining({
        code: 'KEEL_INVALID_OPTION',
        message: expect.stringContaining('`shutdown.drainTimout`'),
      }),
    );
    expect(() => instrument(express5(), { shutdown: null as never })).toThrowError(
      expect.objectContaining({
        code: 'KEEL_INVALID_OPTION',
        message: expect.stringContaining('`shutdown`'),
      }),
    );
    expect(() => instrument(express5(), { shutdown: { signals: 'yes' } as never })).toThrowError(
      expect.objectContaining({
        code: 'KEEL_INVALID_OPTION',
        message: expect.stringContaining('`shutdown.signals`'),
      }),
    );
    // `signals` is the adapter's: graceful shutdown, which refuses keys it does not know, never sees it.
    const before = process.listenerCount('SIGTERM');
    const k = instrument(express5(), { shutdown: { signals: true, preStopDelay: 0 }, runtime: false });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    // Not left behind in the test worker: the handler would exit it.
    for (const signal of ['SIGTERM', 'SIGINT'] as const)
      process.off(signal, process.listeners(signal).at(-1)!);
    await k.shutdown();
  });

  it('closes the instance it made when `critical` is refused, and names the option', async () => {
    const close = vi.spyOn(Keel.prototype, 'close');
    try {
      expect(() => instrument(express5(), { critical: 42 as never, runtime: false })).toThrowError(
        expect.objectContaining({
          code: 'KEEL_INVALID_OPTION',
          message: expect.stringContaining('`critical`'),
        }),
      );
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });

  it('uses an existing Keel', async () => {
    const keel = createKeel({ runtime: false });
    const k = instrument(express5(), { keel });
    expect(k.keel).toBe(keel);
    await keel.close();
  });
});
