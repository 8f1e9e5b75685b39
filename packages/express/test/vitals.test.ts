import { createFakeClock } from '@keel/core';
import express from 'express';
import { describe, expect, it } from 'vitest';
import { instrument, type KeelExpressOptions } from '../src/index.js';
import { serve } from './helpers.js';

async function start(options: KeelExpressOptions = {}, before?: (app: express.Express) => void) {
  const app = express();
  before?.(app);
  const { keel } = instrument(app, { runtime: false, clock: createFakeClock(), ...options });
  app.post('/echo', express.json(), (req, res) => {
    res.json(req.body);
  });
  const { port } = await serve(app, keel);
  return { keel, base: `http://127.0.0.1:${port}` };
}

const beacon = JSON.stringify({ page: '/home', metrics: [{ name: 'LCP', value: 1500 }] });
// As a browser on one of the app's pages sends it: same origin.
const post = (url: string, body = beacon, type = 'text/plain;charset=UTF-8') =>
  fetch(url, { method: 'POST', body, headers: { 'content-type': type, 'sec-fetch-site': 'same-origin' } });

describe('web-vitals collector', () => {
  it('takes beacons at /keel/vitals without recording them as requests', async () => {
    const { keel, base } = await start();
    expect((await post(`${base}/keel/vitals`)).status).toBe(204);
    expect(keel.signal('web_vitals.lcp').seriesCount).toBe(1);
    expect((await post(`${base}/keel/vitals`, '{"page":1}')).status).toBe(422);
    expect((await fetch(`${base}/keel/vitals`)).status).toBe(405);
    expect(keel.http.seriesCount).toBe(0);
    const echo = await post(`${base}/echo`, '{"a":1}', 'application/json');
    expect(await echo.json()).toEqual({ a: 1 });
  });

  it('works behind a body parser mounted before it', async () => {
    const { keel, base } = await start({}, (app) => {
      app.use(express.text({ type: 'text/plain' }));
      app.use(express.json());
    });
    expect((await post(`${base}/keel/vitals`)).status).toBe(204);
    expect((await post(`${base}/keel/vitals`, beacon, 'application/json')).status).toBe(204);
    expect(
      (
        await post(
          `${base}/keel/vitals`,
          '{"page":"/","metrics":[{"name":"LCP","value":-1}]}',
          'application/json',
        )
      ).status,
    ).toBe(422);
    expect(keel.vitals!.stats()).toMatchObject({ accepted: 2 });
  });

  it('mounts at the configured path, or not at all', async () => {
    const custom = await start({ vitals: { path: '/rum' } });
    expect((await post(`${custom.base}/rum`)).status).toBe(204);
    expect((await post(`${custom.base}/keel/vitals`)).status).toBe(404);
    const off = await start({ mountVitals: false });
    expect((await post(`${off.base}/keel/vitals`)).status).toBe(404);
  });
});
