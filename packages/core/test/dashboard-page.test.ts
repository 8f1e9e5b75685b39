import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, brotliDecompressSync, constants } from 'node:zlib';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script, without declarations
import { buildDashboardPage } from '../scripts/build-dashboard.mjs';
import { DASHBOARD_PAGE, DASHBOARD_PAGE_CSP } from '../src/dashboard/dashboard-page.js';
import { HealthHistory } from '../src/dashboard/health-history.js';
import type { DashboardData } from '../src/index.js';
import { testKeel, traffic } from './helpers.js';

/** The ceiling for the whole page, uPlot included. */
const LIMIT = 60 * 1024;

describe('the dashboard page', () => {
  it(`is one self-contained document of at most ${LIMIT} B brotli, uPlot and its licence included`, () => {
    const size = brotliCompressSync(Buffer.from(DASHBOARD_PAGE), {
      params: { [constants.BROTLI_PARAM_QUALITY]: 11 },
    }).length;
    console.log(
      `dashboard page: ${Buffer.byteLength(DASHBOARD_PAGE)} B, ${size} B brotli (limit ${LIMIT} B)`,
    );
    expect(size).toBeLessThanOrEqual(LIMIT);
    expect(DASHBOARD_PAGE).toContain('uPlot 1.6.32');
    expect(DASHBOARD_PAGE).toContain('Permission is hereby granted');
    // Nothing is loaded from elsewhere: no src/href to another origin, no @import, no font files.
    expect(DASHBOARD_PAGE).not.toMatch(/\b(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(DASHBOARD_PAGE).not.toMatch(/@import|@font-face|url\(\s*["']?(https?:)?\/\//i);
    expect(DASHBOARD_PAGE_CSP).toContain("default-src 'none'");
    expect(DASHBOARD_PAGE_CSP).toContain("connect-src 'self'");
  });

  it('is the build of dashboard/ as committed (run `node scripts/build-dashboard.mjs` after an edit)', async () => {
    const committed = readFileSync(
      fileURLToPath(new URL('../src/dashboard/dashboard-page.ts', import.meta.url)),
      'utf8',
    );
    expect(await buildDashboardPage()).toBe(committed);
  });

  it('is served compressed once, as br or gzip, with its CSP; the data without a token is refused', async () => {
    const { keel } = testKeel({ endpoints: { token: 'a-token-of-16-chars-or-more' } });
    const admin = await keel.listen(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${admin.port}`;
      const br = await fetch(`${base}/keel`, { headers: { 'accept-encoding': 'br' } });
      expect(br.headers.get('content-encoding')).toBe('br');
      expect(await br.text()).toBe(DASHBOARD_PAGE);
      const raw = await new Promise<Buffer>((resolve, reject) => {
        import('node:http').then(({ get }) =>
          get(`${base}/keel`, { headers: { 'accept-encoding': 'br' } }, (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve(Buffer.concat(chunks)));
          }).on('error', reject),
        );
      });
      expect(brotliDecompressSync(raw).toString()).toBe(DASHBOARD_PAGE);
      const gz = await fetch(`${base}/keel`, { headers: { 'accept-encoding': 'gzip' } });
      expect(gz.headers.get('content-encoding')).toBe('gzip');
      expect(gz.headers.get('content-security-policy')).toBe(DASHBOARD_PAGE_CSP);
      const data = await fetch(`${base}/keel`, { headers: { accept: 'application/json' } });
      expect(data.status).toBe(401);
      const post = await fetch(`${base}/keel`, { method: 'POST' });
      expect(post.status).toBe(405);
    } finally {
      await keel.close();
    }
  });
});

describe('the dashboard history', () => {
  it('keeps one point per evaluation in fixed memory: an hour, at most 360 points', () => {
    const { keel, step } = testKeel({
      window: { interval: 1000, length: 60_000 },
      minSamples: 1,
      hysteresis: 1,
    });
    const history = new HealthHistory(
      keel.config.budgets.map((b) => b.name),
      keel.config.interval,
    );
    expect(history.points).toBe(360);
    expect(new HealthHistory([], 10_000).points).toBe(360);
    expect(new HealthHistory([], 60_000).points).toBe(60);
    keel.on('evaluation', (r) => history.push(r));
    for (let i = 0; i < 400; i++) {
      traffic(keel, 5, { fastMs: 10 + (i % 50) });
      step();
    }
    const json = history.json();
    expect(json.at).toHaveLength(360);
    expect(json.at[359]).toBe(keel.health().evaluatedAt);
    expect(json.at[359]! - json.at[0]!).toBe(359 * 1000);
    expect(json.score.at(-1)).toBe(keel.health().score);
    const api = keel.health().budgets.find((b) => b.name === 'api_latency')!;
    expect(json.budgets.api_latency!.value.at(-1)).toBe(Math.round(api.value! * 1000) / 1000);
    expect(json.budgets.api_latency!.state.at(-1)).toBe(api.state);
    expect(json.budgets.page_load!.value.at(-1)).toBeNull();
  });

  it('is what /keel serves as data, with /health as it is', async () => {
    const { keel, step } = testKeel({ window: { interval: 1000, length: 60_000 }, minSamples: 1 });
    traffic(keel, 20);
    step(3);
    const admin = await keel.listen(0, '127.0.0.1');
    try {
      const base = `http://127.0.0.1:${admin.port}`;
      const data = (await (
        await fetch(`${base}/keel`, { headers: { accept: 'application/json' } })
      ).json()) as DashboardData;
      const health = (await (await fetch(`${base}/health`)).json()) as { evaluatedAt: string };
      expect(data.health).toEqual(health);
      expect(data.interval).toBe(1000);
      // The evaluation made at start, then one per interval.
      expect(data.history.at).toHaveLength(4);
      expect(data.history.at.at(-1)).toBe(Date.parse(health.evaluatedAt));
    } finally {
      await keel.close();
    }
  });
});
