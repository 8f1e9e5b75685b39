import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHashedName } from '../src/audit/api-checks.js';
import { assetsInHtml, parseRoute } from '../src/audit/discovery.js';
import { bucketQuantile, poolNumbers } from '../src/audit/pool-metrics.js';
import { keel, project } from './helpers.js';

describe('keel audit: arguments', () => {
  it.each([
    [[], /say which app to audit/],
    [['not a url'], /not a URL/],
    [['ftp://example.com'], /must be http or https/],
    [['http://127.0.0.1:1', '--db', 'mysql://x'], /--db must be a postgres/],
    [['http://127.0.0.1:1', '--instances', '0'], /--instances must be an integer/],
    [['http://127.0.0.1:1', '--out', 'x'], /writes no files/],
  ])('refuses %j with exit 2', async (args, message) => {
    const { code, stderr, stdout } = await keel(['audit', ...args, '--json'], project({}));
    expect(code).toBe(2);
    expect(stderr).toMatch(message);
    expect(JSON.parse(stdout)).toMatchObject({ exitCode: 2, error: { code: 'KEEL_USAGE' } });
  });
});

describe('keel audit: the pieces', () => {
  it('recognises content-hashed file names', () => {
    for (const name of [
      '/app.TSRRVQXB.js',
      '/hero-700.4480d1864a.webp',
      '/main.3f9a2c1b.css',
      '/a/chunk-Bx9k2LmQ.js',
    ])
      expect(isHashedName(name), name).toBe(true);
    for (const name of ['/app.js', '/keel-web-vitals.js', '/styles.css', '/hero.png', '/bundle.min.js'])
      expect(isHashedName(name), name).toBe(false);
  });

  it('reads routes as listed: a method, a path, documented query parameters dropped', () => {
    expect(parseRoute('GET /api/gallery?limit=N&offset=N')).toEqual({ method: 'GET', path: '/api/gallery' });
    expect(parseRoute('/health')).toEqual({ method: 'GET', path: '/health' });
    expect(parseRoute('POST /api/users')).toEqual({ method: 'POST', path: '/api/users' });
  });

  it('finds the same-origin static files of a page, srcset included', () => {
    const html = `<link rel="stylesheet" href="/static/a.css"><script src="/static/app.js"></script>
      <img src="/i/hero-400.webp" srcset="/i/hero-400.webp 400w, /i/hero-800.webp 800w">
      <a href="/about">about</a><img src="https://cdn.example.com/x.png">`;
    expect(assetsInHtml(html, 'http://localhost:3000/app').sort()).toEqual([
      'http://localhost:3000/i/hero-400.webp',
      'http://localhost:3000/i/hero-800.webp',
      'http://localhost:3000/static/a.css',
      'http://localhost:3000/static/app.js',
    ]);
  });

  it("reads @keel/pg's pool metrics from Prometheus text, summed over pools", () => {
    const text = [
      '# TYPE db_client_connection_max gauge',
      'db_client_connection_max{db_client_connection_pool_name="main"} 10',
      'db_client_connection_max{db_client_connection_pool_name="reports"} 5',
      'db_client_connection_wait_time_seconds_bucket{db_client_connection_pool_name="main",le="0.001"} 90',
      'db_client_connection_wait_time_seconds_bucket{db_client_connection_pool_name="main",le="0.005"} 96',
      'db_client_connection_wait_time_seconds_bucket{db_client_connection_pool_name="main",le="+Inf"} 100',
      'db_client_connection_wait_time_seconds_sum{db_client_connection_pool_name="main"} 0.2',
      'db_client_connection_wait_time_seconds_count{db_client_connection_pool_name="main"} 100',
      'keel_db_pool_saturation_total{db_client_connection_pool_name="main"} 3',
      'db_client_connection_timeouts_total{db_client_connection_pool_name="main"} 0',
    ].join('\n');
    const pool = poolNumbers(text)!;
    expect(pool).toMatchObject({ max: 15, pools: 2, acquires: 100, saturated: 3, timeouts: 0 });
    // 95 of 100 acquires are within the 5 ms bucket: p95 is bounded by 5 ms.
    expect(bucketQuantile(pool, 0.95)).toBe(0.005);
    expect(bucketQuantile(pool, 0.5)).toBe(0.001);
    expect(poolNumbers('http_requests_total 3\n')).toBeNull();
  });
});

describe('keel audit: an app without Keel, a config or a page', () => {
  let server: Server;
  let base: string;
  const big = JSON.stringify({
    items: Array.from({ length: 200 }, (_, i) => ({ id: i, name: `item ${i}` })),
  });
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/items') {
        // Compressed when asked, validators and a policy, but Vary forgotten.
        const gzip = /gzip/.test(String(req.headers['accept-encoding']));
        if (req.headers['if-none-match'] === '"v1"') {
          res.writeHead(304, { etag: '"v1"' }).end();
          return;
        }
        res.writeHead(200, {
          'content-type': 'application/json',
          etag: '"v1"',
          'cache-control': 'public, max-age=60',
          ...(gzip ? { 'content-encoding': 'gzip' } : {}),
        });
        res.end(gzip ? gzipSync(big) : big);
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('checks the routes it is given against the default budgets, and says what it could not do', async () => {
    const { code, stdout, stderr } = await keel(
      ['audit', base, '--routes', 'GET /items', '--json'],
      project({}),
    );
    const out = JSON.parse(stdout);
    expect(out.config).toBeNull();
    expect(out.result.budgets).toEqual({ tti: 3000, lcp: 2500, dbLatency: 100 });
    const findings = out.result.findings as { check: string; status: string; measured: string }[];
    const status = Object.fromEntries(findings.map((f) => [f.check, f.status]));
    expect(status).toEqual({
      'api.compression': 'pass',
      'api.response-size': 'pass',
      'api.conditional-get': 'pass',
      'api.cache-control': 'pass',
      'api.keep-alive': 'pass',
      'api.vary': 'fail',
    });
    expect(findings.find((f) => f.check === 'api.vary')!.measured).toBe(
      'gzip chosen by Accept-Encoding without Vary: Accept-Encoding',
    );
    expect(out.result.parts.frontend).toEqual({
      ran: false,
      skipped: 'no HTML page to audit (pass --pages)',
    });
    expect(out.result.parts.database.skipped).toMatch(/exports no @keel\/pg pool metrics/);
    // A failing check outranks an incomplete run.
    expect(code).toBe(1);
    expect(out.incomplete).toEqual(['frontend: no HTML page to audit (pass --pages)']);
    expect(stderr).toContain('keel audit: /items (1/1)');
  });

  it('exits 3 when the app cannot be reached: nothing could be checked', async () => {
    server.closeAllConnections();
    const closed = `http://127.0.0.1:1`;
    const { code, stdout } = await keel(['audit', closed, '--json'], project({}));
    const out = JSON.parse(stdout);
    expect(code).toBe(3);
    expect(out.incomplete[0]).toMatch(/^frontend: cannot reach http:\/\/127\.0\.0\.1:1\/: /);
    expect(out.result.findings).toEqual([]);
  });
});
