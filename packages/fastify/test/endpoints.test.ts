import { PROMETHEUS_CONTENT_TYPE, UNMATCHED_ROUTE } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { expectEndpointsGuarded } from '../../../scripts/test/support/endpoint-token.js';
import { get, recorded, start } from './helpers.js';

describe('endpoints', () => {
  it("serves core's answers byte for byte: status, content type, body", async () => {
    const { keel, port } = await start({}, (app) => {
      app.get('/users/:id', async () => 'user');
    });
    await get(port, '/users/1');

    const livez = await get(port, '/livez');
    expect(livez).toMatchObject({ status: 200, body: 'ok\n' });
    expect(livez.headers['content-type']).toBe('text/plain; charset=utf-8');
    expect(livez.headers['cache-control']).toBe('no-store');

    const health = await get(port, '/health');
    expect(health.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(health.body)).toMatchObject({ service: 'app', status: expect.any(String) });

    const metrics = await get(port, '/metrics');
    expect(metrics.headers['content-type']).toBe(PROMETHEUS_CONTENT_TYPE);
    expect(metrics.body).toContain('http_route="/users/:id"');
    expect(metrics.headers['content-length']).toBe(String(Buffer.byteLength(metrics.body)));

    const head = await get(port, '/readyz', undefined, 'HEAD');
    expect(head).toMatchObject({ status: 200, body: '' });
    expect(keel.paths.readyz).toBe('/readyz');
  });

  it('mounts the /keel dashboard: the page for a browser, the data behind the token, beacons still at /keel/vitals', async () => {
    const { keel, port } = await start({ endpoints: { token: 'a-long-enough-secret' } });
    const page = await get(port, '/keel');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.body).toContain('<title>Keel</title>');
    const refused = await fetch(`http://127.0.0.1:${port}/keel`, { headers: { accept: 'application/json' } });
    expect(refused.status).toBe(401);
    const data = await fetch(`http://127.0.0.1:${port}/keel`, {
      headers: { accept: 'application/json', authorization: 'Bearer a-long-enough-secret' },
    });
    expect(((await data.json()) as { health: { service: string } }).health.service).toBe('app');
    const beacon = await fetch(`http://127.0.0.1:${port}${keel.vitals!.path}`, { method: 'OPTIONS' });
    expect(beacon.status).not.toBe(404);
    expect(keel.http.seriesCount).toBe(0);
  });

  it('keeps /health, /metrics, the dashboard data and the optimiser behind endpoints.token; probes and the page stay open', async () => {
    const { keel, port } = await start({ endpoints: { token: 'a-long-enough-secret' } });
    await expectEndpointsGuarded(port, 'a-long-enough-secret');
    // Keel's own endpoints, answered or refused, are never recorded as the app's requests.
    expect(keel.http.seriesCount).toBe(0);
  });

  it('follows endpoints.prefix and endpoints.token, with HEAD even when Fastify does not expose it', async () => {
    const { port } = await start(
      { endpoints: { prefix: '/ops', token: 'a-long-enough-secret' } },
      undefined,
      { exposeHeadRoutes: false },
    );
    expect((await get(port, '/ops/livez')).status).toBe(200);
    expect((await get(port, '/ops/livez', undefined, 'HEAD')).status).toBe(200);
    expect((await get(port, '/livez')).status).toBe(404);
    expect((await get(port, '/ops/metrics')).status).toBe(401);
    const withToken = await fetch(`http://127.0.0.1:${port}/ops/metrics`, {
      headers: { authorization: 'Bearer a-long-enough-secret' },
    });
    expect(withToken.status).toBe(200);
  });

  it('mounts nothing with mountEndpoints: false (serve them on an admin port instead)', async () => {
    const { keel, port } = await start({ mountEndpoints: false }, (app) => {
      app.get('/livez', async () => 'my own liveness');
    });
    const own = await get(port, '/livez');
    expect(own).toMatchObject({ status: 200, body: 'my own liveness' });
    expect((await get(port, '/metrics')).status).toBe(404);
    // Without the plugin's endpoints, these are ordinary routes and 404s.
    expect(
      recorded(keel)
        .map((s) => s.route)
        .sort(),
    ).toEqual(['/livez', UNMATCHED_ROUTE]);

    const admin = await keel.listen(0, '127.0.0.1');
    expect((await get(admin.port, '/metrics')).status).toBe(200);
  });
});
