import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type EmbeddedPostgres, startEmbeddedPostgres } from '@keel/dev-postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectMetricsPassLint, promtoolAvailable } from '../../../scripts/test/support/promtool.js';
import { type Started, startStudioApi } from './support/processes.js';

// One PostgreSQL for every start, given as DATABASE_URL: an app killed with SIGKILL cannot
// stop an embedded server of its own, which would leave its files behind.
let database: EmbeddedPostgres;
beforeAll(async () => {
  database = await startEmbeddedPostgres({ prefix: 'studio-test-pg-' });
}, 60_000);
afterAll(() => database?.stop());

// The real example app (node --import tsx, PostgreSQL, the monitor), driven through every
// feature, then its /metrics checked by Prometheus's own linter.

let app: (Started & { base: string }) | undefined;
afterEach(() => {
  if (app && app.child.exitCode === null) app.kill('SIGKILL');
  app = undefined;
});

/** Polls `check` until it returns true or `ms` pass; returns whether it did. */
async function until(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 250));
  }
  return false;
}

describe('studio-api /metrics', () => {
  it.skipIf(!promtoolAvailable('promtool check metrics on the example'))(
    'passes `promtool check metrics` with nothing to say, after traffic that touches every feature',
    async () => {
      app = await startStudioApi({
        // Short windows and a quick monitor, so a breach is judged and acted on within seconds.
        KEEL_INTERVAL_MS: '1000',
        KEEL_WINDOW_MS: '10000',
        KEEL_MIN_SAMPLES: '5',
        KEEL_HYSTERESIS: '1',
        KEEL_MONITOR_VALIDATE_MS: '5000',
        KEEL_MONITOR_DIR: mkdtempSync(join(tmpdir(), 'studio-metrics-')),
        DATABASE_URL: database.url,
      });
      const { base } = app;
      const status = async (path: string, init?: RequestInit) => (await fetch(`${base}${path}`, init)).status;

      // Routes, a 404 on a route and one on no route, a 5xx, a 400.
      expect(await status('/')).toBe(200);
      expect(await status('/api/users/1')).toBe(200);
      expect(await status('/api/users/9')).toBe(404);
      expect(await status('/no/such/path')).toBe(404);
      expect(await status('/demo/error')).toBe(500);
      expect(await status('/demo/slow?ms=nope')).toBe(400);
      // The response cache: a miss, then hits.
      for (let i = 0; i < 5; i++) expect(await status('/api/users')).toBe(200);
      // The database: a lookup, and a query cancelled at the request deadline.
      expect(await status('/api/db/users/1')).toBe(200);
      expect(await status('/demo/slow-query?ms=2000')).toBe(504);
      // The vitals page and a beacon from it.
      expect(await status('/vitals-demo')).toBe(200);
      const beacon = JSON.stringify({
        page: '/vitals-demo',
        metrics: [
          { name: 'TTFB', value: 40 },
          { name: 'FCP', value: 300 },
          { name: 'LCP', value: 900 },
          { name: 'INP', value: 80 },
          { name: 'CLS', value: 0.02 },
          { name: 'TTI', value: 1200 },
        ],
      });
      const headers = { 'content-type': 'text/plain;charset=UTF-8', origin: base };
      expect(await status('/keel/vitals', { method: 'POST', headers, body: beacon })).toBe(204);
      // The probes and the report.
      expect(await status('/readyz')).toBe(200);
      expect(await status('/health')).toBe(200);

      // Shedding: slow requests breach api_latency; the monitor sheds the slow route.
      const shed = await until(async () => {
        await Promise.all(Array.from({ length: 10 }, () => fetch(`${base}/demo/slow?ms=300`)));
        return (await status('/demo/slow?ms=1')) === 503;
      }, 60_000);
      expect(shed, `the monitor did not shed load:\n${app.output()}`).toBe(true);

      const text = await (await fetch(`${base}/metrics`)).text();
      console.log(
        `/metrics: ${text.split('\n').filter((l) => l && !l.startsWith('#')).length} samples, ` +
          `${text.split('\n').filter((l) => l.startsWith('# TYPE')).length} families`,
      );
      // What the traffic touched is there, so the lint judged every kind of series.
      for (const expected of [
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="__unmatched__",http_response_status_code="404"}',
        'http_server_request_duration_seconds_count{http_request_method="GET",http_route="/demo/error",http_response_status_code="500"}',
        'db_client_operation_duration_seconds_count{db_operation_name="SELECT"',
        'web_vitals_tti_seconds_count{page_group="/vitals-demo"} 1',
        'keel_cache_requests_total{cache=',
        'keel_web_vitals_beacons_total{outcome="accepted"} 1',
        'keel_dependency_up{dependency="postgres"} 1',
        'keel_health_component_score{component=',
      ]) {
        expect(text).toContain(expected);
      }
      expect(text).toMatch(/^keel_http_requests_shed_total [1-9]\d*$/m);
      expectMetricsPassLint(text);
    },
    120_000,
  );
});
