import { Agent } from 'node:http';
import { type Keel, type RuntimeSnapshot, UNMATCHED_ROUTE } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { type Answer, get, sleep, start } from './helpers.js';

/** The count line of the HTTP histogram for one label set, as `/metrics` renders it. */
const countLine = (route: string, status: number, outcome?: string, method = 'GET') =>
  `http_server_request_duration_seconds_count{http_request_method="${method}",http_route="${route}",http_response_status_code="${status}"${outcome ? `,keel_outcome="${outcome}"` : ''}}`;

/** `/metrics` over HTTP, once it holds every line of `expected` (recording happens as responses close). */
async function metricsWith(keel: Keel, port: number, expected: string[]): Promise<string> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const text = (await get(port, keel.paths.metrics)).body;
    if (expected.every((line) => text.includes(`${line} `)) || Date.now() > deadline) return text;
    await sleep(10);
  }
}

const availability = (keel: Keel) => keel.health().budgets.find((b) => b.name === 'availability')!;

/** A runtime sample with the event loop this late (p99), as the sampler would take it. */
const runtime = (delayMs: number): RuntimeSnapshot => ({
  eventLoopDelayP99: delayMs,
  eventLoopDelayMax: delayMs,
  eventLoopUtilization: 1,
  heapUsedBytes: 0,
  heapLimitBytes: 0,
  rssBytes: 0,
  gcPauseTotalMs: 0,
  sampledAt: 0,
});

describe('requests Keel answers itself', () => {
  it('records shed requests under their route template, with status 503 and keel_outcome="shed"', async () => {
    const { keel, clock, port } = await start({}, async (app) => {
      app.get('/work/:id', async () => 'work');
      app.get('/pay', { config: { keel: { critical: true } } }, async () => 'paid');
      await app.register(
        async (tenant) => {
          tenant.get('/orders/:order', async () => 'order');
        },
        { prefix: '/t/:tenant' },
      );
    });
    for (let i = 0; i < 4; i++) expect((await get(port, `/work/${i}`)).status).toBe(200);
    clock.advance(10_000);
    expect(availability(keel).value).toBe(100);

    keel.shedder.force('test');
    const answers: Answer[] = [];
    for (let i = 0; i < 4; i++) answers.push(await get(port, `/work/${i}`));
    answers.push(await get(port, '/work/9', undefined, 'HEAD'));
    answers.push(await get(port, '/t/acme/orders/1'));
    answers.push(await get(port, '/t/globex/orders/2'));
    answers.push(await get(port, '/no/such/route'));
    expect(answers.map((a) => a.status)).toEqual(Array(8).fill(503));
    expect(answers.every((a) => a.headers['retry-after'] === '5')).toBe(true);
    // Probes and critical routes are still served, and the probes still not recorded.
    expect((await get(port, '/pay')).status).toBe(200);
    expect((await get(port, keel.paths.livez)).status).toBe(200);
    expect(keel.shedder.shed).toBe(8);

    const metrics = await metricsWith(keel, port, [countLine('/pay', 200)]);
    expect(metrics).toContain(`${countLine('/work/:id', 200)} 4\n`);
    expect(metrics).toContain(`${countLine('/work/:id', 503, 'shed')} 4\n`);
    expect(metrics).toContain(`${countLine('/work/:id', 503, 'shed', 'HEAD')} 1\n`);
    expect(metrics).toContain(`${countLine('/t/:tenant/orders/:order', 503, 'shed')} 2\n`);
    expect(metrics).toContain(`${countLine(UNMATCHED_ROUTE, 503, 'shed')} 1\n`);
    expect(metrics).toContain(`${countLine('/pay', 200)} 1\n`);
    expect(metrics).not.toContain('http_route="/livez"');

    // 8 of 13 answers were 503s: availability falls with them, far past its error budget.
    clock.advance(10_000);
    const after = availability(keel);
    expect(after.value).toBeCloseTo((5 / 13) * 100, 5);
    expect(after.errorBudgetUsed).toBeGreaterThan(1);
  });

  it('sheds only the routes it was told to, and keeps serving and measuring the others', async () => {
    const { keel, port } = await start({}, async (app) => {
      app.get('/reports/:id', async () => 'report');
      await app.register(
        async (api) => {
          api.get('/users/:id', async () => {
            await sleep(2);
            return 'user';
          });
        },
        { prefix: '/api' },
      );
    });
    keel.shedder.force('slow route', ['/reports/:id']);

    const agent = new Agent({ keepAlive: true, maxSockets: 16 });
    const users: Answer[] = [];
    const reports: Answer[] = [];
    // Both routes hammered at once, 16 requests in flight at a time.
    await Promise.all(
      Array.from({ length: 16 }, async (_, worker) => {
        for (let i = 0; i < 10; i++) {
          if (worker % 2 === 0) users.push(await get(port, `/api/users/${worker * 10 + i}`, agent));
          else reports.push(await get(port, `/reports/${i}`, agent));
        }
      }),
    );
    agent.destroy();
    expect(users.map((a) => a.status)).toEqual(Array(80).fill(200));
    expect(reports.map((a) => a.status)).toEqual(Array(80).fill(503));
    expect(reports.every((a) => a.headers['retry-after'] === '5')).toBe(true);
    expect(keel.shedder.shed).toBe(80);

    const metrics = await metricsWith(keel, port, [countLine('/api/users/:id', 200)]);
    expect(metrics).toContain(`${countLine('/api/users/:id', 200)} 80\n`);
    expect(metrics).toContain(`${countLine('/reports/:id', 503, 'shed')} 80\n`);
    expect(metrics).not.toContain('http_route="/api/users/:id",http_response_status_code="503"');

    // Runtime pressure sheds every route, whatever a force scoped; so does a force without routes.
    keel.shedder.update(runtime(5000));
    expect((await get(port, '/api/users/1')).status).toBe(503);
    expect((await get(port, keel.paths.livez)).status).toBe(200);
    keel.shedder.force(undefined);
    keel.shedder.update(runtime(0));
    expect((await get(port, '/api/users/1')).status).toBe(200);
    keel.shedder.force('everything');
    expect((await get(port, '/api/users/1')).status).toBe(503);
  });

  it('records a 5xx answered after an open circuit refused a call as keel_outcome="circuit_open"', async () => {
    const { keel, port } = await start({}, (app) => {
      // What @keel/pg does when its breaker is open: fail the query fast and mark the request.
      const query = async () => {
        await new Promise((r) => setImmediate(r));
        app.keel.context.refuse('circuit_open');
        throw new Error('circuit open');
      };
      app.get('/db/:id', async (_request, reply) => {
        try {
          return await query();
        } catch {
          return reply.code(503).send('database unavailable');
        }
      });
      // The app fell back to something else: its answer is its own.
      app.get('/fallback/:id', async () => {
        await query().catch(() => undefined);
        return 'from the cache';
      });
      app.get('/broken/:id', async (_request, reply) => reply.code(500).send('bug'));
    });
    // As @keel/pg does at setup: the refusal is carried by the request's context.
    keel.context.use();
    expect((await get(port, '/db/1')).status).toBe(503);
    expect((await get(port, '/db/2')).status).toBe(503);
    expect((await get(port, '/fallback/1')).status).toBe(200);
    expect((await get(port, '/broken/1')).status).toBe(500);

    const metrics = await metricsWith(keel, port, [countLine('/broken/:id', 500)]);
    expect(metrics).toContain(`${countLine('/db/:id', 503, 'circuit_open')} 2\n`);
    expect(metrics).toContain(`${countLine('/fallback/:id', 200)} 1\n`);
    expect(metrics).toContain(`${countLine('/broken/:id', 500)} 1\n`);
    expect(metrics).not.toMatch(/http_route="\/(fallback|broken)\/:id"[^}]*keel_outcome/);
  });

  it('serves new requests normally during the pre-stop delay, and records them as the app answered them', async () => {
    const { app, keel, clock, port } = await start({ shutdown: { preStopDelay: 5000 } }, (app) => {
      app.get('/work/:id', async () => 'work');
    });
    let metrics = '';
    keel.onShutdown(async () => {
      metrics = await keel.metrics();
    }, 'reads');
    const done = app.keelShutdown();
    expect((await get(port, keel.paths.readyz)).status).toBe(503);
    // The pre-stop delay runs on Keel's (fake) clock: requests keep coming until load balancers notice.
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => get(port, `/work/${i}`, agent)));
    agent.destroy();
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    expect(answers.map((a) => a.body)).toEqual(Array(20).fill('work'));
    expect(keel.shedder.shed).toBe(0);
    clock.advance(5000);
    expect((await done).drained).toBe(true);
    expect(metrics).toContain(`${countLine('/work/:id', 200)} 20\n`);
    expect(metrics).not.toContain('keel_outcome=');
  });

  it('records a request cut off at the drain timeout as 503 with keel_outcome="cut_off", before the cleanups run', async () => {
    const { app, keel, port } = await start(
      { clock: undefined, shutdown: { preStopDelay: 0, drainTimeout: 100 } },
      (app) => {
        app.get('/stuck/:n', (_request, _reply) => {
          reached(); // and never answers
        });
      },
    );
    let metrics = '';
    keel.onShutdown(async () => {
      metrics = await keel.metrics();
    }, 'reads');
    let reached!: () => void;
    const inHandler = new Promise<void>((r) => (reached = r));
    const cut = get(port, '/stuck/1').catch((error: Error) => error);
    await inHandler;
    expect(await app.keelShutdown()).toMatchObject({ drained: false, forced: 1 });
    expect(await cut).toBeInstanceOf(Error);
    // The server gave no answer: a server error (not a client that left, 499), recorded before the cleanups ran.
    expect(metrics).toContain(`${countLine('/stuck/:n', 503, 'cut_off')} 1\n`);
  });
});
