import { existsSync } from 'node:fs';
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
    for (let i = 0; i < 12; i++) {
      const res = await fetch(`${t.base}/keel/vitals`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain;charset=UTF-8' },
        body: JSON.stringify({ page: '/vitals-demo', metrics: [{ name: 'TTI', value: 4500 }] }),
      });
      expect(res.status).toBe(204);
    }
    t.clock.advance(10_000);
    t.clock.advance(10_000);
    const health = (await (await fetch(`${t.base}/health`)).json()) as {
      budgets: { name: string; state: string; target: number }[];
    };
    expect(health.budgets.find((b) => b.name === 'page_load')).toMatchObject({
      state: 'breached',
      target: 3000,
    });
  });
});
