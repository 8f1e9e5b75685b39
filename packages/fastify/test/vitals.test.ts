import { describe, expect, it } from 'vitest';
import { start } from './helpers.js';

const beacon = JSON.stringify({ page: '/home', metrics: [{ name: 'TTI', value: 1500 }] });

describe('web-vitals collector', () => {
  it('takes beacons at /keel/vitals before Fastify parses the body, and records no request for them', async () => {
    const { keel, port } = await start({}, (app) => app.post('/echo', async (req) => req.body));
    const base = `http://127.0.0.1:${port}`;
    const res = await fetch(`${base}/keel/vitals`, {
      method: 'POST',
      body: beacon,
      headers: { 'content-type': 'text/plain;charset=UTF-8', 'sec-fetch-site': 'same-origin' },
    });
    expect(res.status).toBe(204);
    expect(keel.tti.seriesCount).toBe(1);
    expect(keel.vitals!.stats().accepted).toBe(1);
    // Fastify's own 1 MiB body limit is not what bounds beacons: the collector's 16 KiB is.
    const big = await fetch(`${base}/keel/vitals`, {
      method: 'POST',
      body: 'x'.repeat(20_000),
      headers: { 'content-type': 'application/json', 'sec-fetch-site': 'same-origin' },
    });
    expect(big.status).toBe(413);
    const bad = await fetch(`${base}/keel/vitals`, {
      method: 'POST',
      body: '{',
      headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'same-origin' },
    });
    expect(bad.status).toBe(400);
    expect(keel.http.seriesCount).toBe(0);
    // The app's own routes still parse bodies as usual.
    const echo = await fetch(`${base}/echo`, {
      method: 'POST',
      body: '{"a":1}',
      headers: { 'content-type': 'application/json' },
    });
    expect(await echo.json()).toEqual({ a: 1 });
  });

  it('mounts at the configured path, or not at all', async () => {
    const custom = await start({ vitals: { path: '/rum' } });
    const post = (port: number, path: string) =>
      fetch(`http://127.0.0.1:${port}${path}`, {
        method: 'POST',
        body: beacon,
        headers: { 'content-type': 'text/plain', 'sec-fetch-site': 'same-origin' },
      });
    expect((await post(custom.port, '/rum')).status).toBe(204);
    expect((await post(custom.port, '/keel/vitals')).status).toBe(404);
    const off = await start({ mountVitals: false });
    expect((await post(off.port, '/keel/vitals')).status).toBe(404);
    const disabled = await start({ vitals: false });
    expect((await post(disabled.port, '/keel/vitals')).status).toBe(404);
  });
});
