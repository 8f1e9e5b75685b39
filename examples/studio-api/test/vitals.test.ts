import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { serveApp } from './serve.js';

const t = serveApp();

describe('studio-api web vitals demo', () => {
  it('serves a page that loads @keel/web-vitals and web-vitals from the app itself', async () => {
    const page = await fetch(`${t.base}/vitals-demo`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain("import { collectVitals } from '/assets/keel-web-vitals.js'");
    expect(html).toContain('"web-vitals": "/assets/web-vitals.js"');
    // The browser files are the built packages, as an installed app would have them.
    const built = new URL('../../../packages/web-vitals/dist/index.js', import.meta.url);
    if (!existsSync(built)) return;
    for (const [path, marker] of [
      ['/assets/keel-web-vitals.js', 'collectVitals'],
      ['/assets/web-vitals.js', 'largest-contentful-paint'],
    ]) {
      const res = await fetch(`${t.base}${path}`);
      expect(res.status, path).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/javascript/);
      expect(await res.text()).toContain(marker);
    }
  });

  it('takes the page beacons at /keel/vitals: slow TTIs breach page_load in /health', async () => {
    /** A beacon as the demo page's browser sends it, from `client` (a loopback address: one user each). */
    const beacon = (client: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request(
          `${t.base}/keel/vitals`,
          {
            method: 'POST',
            localAddress: client,
            headers: { 'content-type': 'text/plain;charset=UTF-8', origin: t.base },
          },
          (res) => {
            res.resume();
            resolve(res.statusCode!);
          },
        );
        req.on('error', reject);
        req.end(JSON.stringify({ page: '/vitals-demo', metrics: [{ name: 'TTI', value: 4500 }] }));
      });
    // Four users, three page views each: each user weighs at most 3 beacons per window.
    for (const client of ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']) {
      for (let i = 0; i < 3; i++) expect(await beacon(client)).toBe(204);
    }
    // Not from a page of the app (no Origin, no Referer): refused.
    const forged = await fetch(`${t.base}/keel/vitals`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain;charset=UTF-8' },
      body: JSON.stringify({ page: '/vitals-demo', metrics: [{ name: 'TTI', value: 60_000 }] }),
    });
    expect(forged.status).toBe(403);
    t.clock.advance(10_000);
    t.clock.advance(10_000);
    const health = (await (await fetch(`${t.base}/health`)).json()) as {
      budgets: { name: string; state: string; target: number; samples: number }[];
    };
    expect(health.budgets.find((b) => b.name === 'page_load')).toMatchObject({
      state: 'breached',
      target: 3000,
      samples: 12,
    });
  });
});
