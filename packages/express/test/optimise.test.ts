import { createFakeClock, createKeel, type OptimiseReport } from '@keel/core';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { expectEndpointsGuarded } from '../../../scripts/test/support/endpoint-token.js';
import { instrument } from '../src/index.js';
import { get, serve } from './helpers.js';

describe('the optimiser on Express', () => {
  it('keeps /health, /metrics, the dashboard data and the optimiser behind endpoints.token; probes and the page stay open', async () => {
    const keel = createKeel({ runtime: false, endpoints: { token: 'a-long-enough-secret' } });
    const app = express();
    instrument(app, { keel });
    const { port } = await serve(app, keel);
    await expectEndpointsGuarded(port, 'a-long-enough-secret');
    // Keel's own endpoints, answered or refused, are never recorded as the app's requests.
    expect(keel.http.seriesCount).toBe(0);
  });

  it("hands each request's context to a capture and samples its URL and ETag for the traffic profile", async () => {
    const clock = createFakeClock();
    const keel = createKeel({ runtime: false, clock, optimise: { profileMs: 0 } });
    // What @keel/pg does at setup (contexts propagate) and per query (tallied into the request's profile).
    keel.context.use();
    const app = express();
    instrument(app, { keel });
    app.get('/items/:id', (req, res) => {
      keel.context.current()?.profile?.query('select * from items where id = ?', 5);
      res.json({ id: req.params.id });
    });
    const { port } = await serve(app, keel);

    const done = keel.optimise({ windowMs: 5000 });
    for (let i = 0; i < 30; i++) {
      const answer = await get(port, `/items/${i % 3}?sort=asc&email=ada%40example.com`);
      expect(answer.status).toBe(200);
    }
    await clock.advanceAsync(5000);
    const report: OptimiseReport = await done;
    const route = report.routes.find((r) => r.route === '/items/:id')!;
    expect(route).toMatchObject({ method: 'GET', requests: 30, profiled: 30, queriesPerRequest: 1 });
    expect(route.split!.dbMs).toBe(5);
    // Express's ETags repeat for each URL: caching the route is suggested.
    const cache = report.bottlenecks.find((b) => b.kind === 'cache')!;
    expect(cache).toMatchObject({ route: 'GET /items/:id', effort: 'cache' });

    const profile = keel.optimiser!.trafficProfile()!;
    const items = profile.routes.find((r) => r.route === '/items/:id')!;
    expect(items.droppedKeys).toEqual(['email']);
    expect(new Set(items.paths)).toEqual(
      new Set(['/items/0?sort=asc', '/items/1?sort=asc', '/items/2?sort=asc']),
    );
  });

  it('serves the optimiser endpoints through keel.handle', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    const app = express();
    instrument(app, { keel });
    const { port } = await serve(app, keel);
    const answer = await get(port, '/keel/optimise');
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ status: { state: 'idle' }, report: null });
    expect((await get(port, '/keel/traffic')).status).toBe(200);
  });
});
