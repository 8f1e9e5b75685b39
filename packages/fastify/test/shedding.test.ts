import { UNMATCHED_ROUTE } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { get, recordedByRoute, start } from './helpers.js';

describe('load shedding', () => {
  it('answers 503 + Retry-After while shedding, except critical routes and the probes', async () => {
    const { keel, port } = await start({ shedding: { retryAfter: 7 } }, (app) => {
      app.get('/work', async () => 'work');
      app.get('/pay', { config: { keel: { critical: true } } }, async () => 'paid');
    });
    expect((await get(port, '/work')).status).toBe(200);

    keel.shedder.force('test');
    const shed = await get(port, '/work');
    expect(shed.status).toBe(503);
    expect(shed.headers['retry-after']).toBe('7');
    expect(shed.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(shed.body)).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect((await get(port, '/no/route')).status).toBe(503);
    expect((await get(port, '/pay')).status).toBe(200);
    expect((await get(port, keel.paths.livez)).status).toBe(200);
    expect((await get(port, keel.paths.readyz)).status).toBe(200);
    expect((await get(port, keel.paths.metrics)).status).toBe(200);
    expect(keel.shedder.shed).toBe(2);

    keel.shedder.force(undefined);
    expect((await get(port, '/work')).status).toBe(200);

    // Shed requests are recorded under their route as Keel's answers (keel_outcome "shed"; see self-answers.test.ts).
    expect(recordedByRoute(keel)).toEqual([
      { method: 'GET', route: UNMATCHED_ROUTE, status: 503, count: 1 },
      { method: 'GET', route: '/pay', status: 200, count: 1 },
      { method: 'GET', route: '/work', status: 200, count: 2 },
      { method: 'GET', route: '/work', status: 503, count: 1 },
    ]);
    expect(await keel.metrics()).toMatch(/^keel_http_requests_shed_total 2$/m);
  });
});
