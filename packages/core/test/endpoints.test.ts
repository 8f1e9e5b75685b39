import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectMetricsPassLint, promtoolAvailable } from '../../../scripts/test/support/promtool.js';
import { createFakeClock, createKeel, type HealthJson, type Keel, type KeelOptions } from '../src/index.js';
import { traffic } from './helpers.js';

const open: { keel: Keel; server?: Server }[] = [];

async function serve(options: KeelOptions = {}) {
  const clock = createFakeClock();
  const keel = createKeel({ runtime: false, clock, ...options });
  const server = createServer((req, res) => {
    if (!keel.handle(req, res)) {
      res.statusCode = 404;
      res.end('app 404');
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  open.push({ keel, server });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { keel, clock, base };
}

afterEach(async () => {
  for (const { keel, server } of open.splice(0)) {
    await keel.close();
    if (server) await new Promise((resolve) => server.close(resolve));
  }
});

describe('endpoints over real HTTP', () => {
  it('answers the four endpoints and leaves other paths to the app', async () => {
    const { base } = await serve();
    const livez = await fetch(`${base}/livez`);
    expect(livez.status).toBe(200);
    expect(livez.headers.get('cache-control')).toBe('no-store');
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const health = await fetch(`${base}/health`);
    expect(health.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await health.json()) as HealthJson;
    expect(body).toMatchObject({ status: 'healthy', score: 10, stable: false });
    expect(body.budgets.map((b) => b.name)).toEqual([
      'availability',
      'api_latency',
      'page_load',
      'error_rate',
      'db_latency',
      'lcp',
      'inp',
      'cls',
    ]);
    expect(body.budgets[1]).toMatchObject({
      name: 'api_latency',
      state: 'no_data',
      value: null,
      target: 200,
      unit: 'ms',
    });
    expect(Array.isArray(body.components)).toBe(true);
    const metrics = await fetch(`${base}/metrics`);
    expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await metrics.text()).toContain('keel_health_score 10');
    const other = await fetch(`${base}/livez/extra`);
    expect(await other.text()).toBe('app 404');
  });

  it('keeps /livez at 200 and turns /readyz to 503 when a critical dependency fails', async () => {
    const { keel, base, clock } = await serve();
    let up = true;
    keel.addCheck({
      name: 'postgres',
      check: () => (up ? true : Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:4202'))),
    });
    await keel.runChecks();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    up = false;
    await keel.runChecks();
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(503);
    // Anyone may probe: the reason names the dependency, never its address.
    expect(await ready.text()).toBe('not ready: dependency postgres: failing\n');
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    clock.advance(10_000);
    const text = await (await fetch(`${base}/health`)).text();
    expect(text).not.toContain('127.0.0.1:4202');
    const health = JSON.parse(text) as HealthJson;
    expect(health.dependencies[0]).toMatchObject({ name: 'postgres', ok: false, error: 'failing' });
    expect(health.readinessReasons).toEqual(['dependency postgres: failing']);
    expect(health.components.find((c) => c.name === 'dependency:postgres')?.detail).toBe('failing');
    expect(health.score).toBeLessThan(8);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain(
      'keel_dependency_up{dependency="postgres"} 0',
    );
    // In code the details are there.
    expect(keel.readiness().reasons).toEqual(['dependency postgres: connect ECONNREFUSED 127.0.0.1:4202']);
  });

  it('shows dependency error details to a caller with the token, and on the admin port', async () => {
    const token = 'a-long-enough-secret-token';
    const { keel, base } = await serve({ endpoints: { token, public: ['livez', 'readyz', 'health'] } });
    keel.addCheck({
      name: 'postgres',
      check: () => Promise.reject(new Error('connect ECONNREFUSED 10.0.0.5:5432')),
    });
    await keel.runChecks();
    const auth = { authorization: `Bearer ${token}` };
    const detail = 'not ready: dependency postgres: connect ECONNREFUSED 10.0.0.5:5432\n';
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('not ready: dependency postgres: failing\n');
    expect(await (await fetch(`${base}/readyz`, { headers: auth })).text()).toBe(detail);
    expect(
      await (
        await fetch(`${base}/readyz`, { headers: { authorization: 'Bearer wrong-but-long-enough' } })
      ).text(),
    ).toBe('not ready: dependency postgres: failing\n');
    const open = (await (await fetch(`${base}/health`)).json()) as HealthJson;
    expect(open.dependencies[0]!.error).toBe('failing');
    const authorised = (await (await fetch(`${base}/health`, { headers: auth })).json()) as HealthJson;
    expect(authorised.dependencies[0]!.error).toBe('connect ECONNREFUSED 10.0.0.5:5432');
    expect(authorised.readinessReasons).toEqual(['dependency postgres: connect ECONNREFUSED 10.0.0.5:5432']);

    const admin = await keel.listen(0, '127.0.0.1');
    expect(await (await fetch(`http://127.0.0.1:${admin.port}/readyz`)).text()).toBe(detail);
  });

  it('shows dependency details as `endpoints.details` says: never, always, or with the token only', async () => {
    const failing = (keel: Keel) => {
      keel.addCheck({
        name: 'redis',
        check: () => Promise.reject(new Error('connect ETIMEDOUT 10.0.0.9:6379')),
      });
      return keel.runChecks();
    };
    const token = 'a-long-enough-secret-token';
    const auth = { authorization: `Bearer ${token}` };
    const hidden = 'not ready: dependency redis: failing\n';
    const shown = 'not ready: dependency redis: connect ETIMEDOUT 10.0.0.9:6379\n';

    const always = await serve({ endpoints: { details: 'always' } });
    await failing(always.keel);
    expect(await (await fetch(`${always.base}/readyz`)).text()).toBe(shown);

    const never = await serve({ endpoints: { details: 'never', token } });
    await failing(never.keel);
    expect(await (await fetch(`${never.base}/readyz`, { headers: auth })).text()).toBe(hidden);
    const neverAdmin = await never.keel.listen(0, '127.0.0.1');
    expect(await (await fetch(`http://127.0.0.1:${neverAdmin.port}/readyz`)).text()).toBe(hidden);

    const tokenOnly = await serve({ endpoints: { details: 'token', token } });
    await failing(tokenOnly.keel);
    const tokenAdmin = await tokenOnly.keel.listen(0, '127.0.0.1');
    expect(await (await fetch(`http://127.0.0.1:${tokenAdmin.port}/readyz`)).text()).toBe(hidden);
    expect(await (await fetch(`http://127.0.0.1:${tokenAdmin.port}/readyz`, { headers: auth })).text()).toBe(
      shown,
    );
    expect(() => createKeel({ endpoints: { details: 'sometimes' as never } })).toThrow(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
  });

  it('times a hanging dependency check out', async () => {
    const { keel, clock } = await serve();
    keel.addCheck({ name: 'hangs', check: () => new Promise(() => {}), timeout: 500 });
    await clock.advanceAsync(600);
    expect(keel.readiness()).toEqual({
      ready: false,
      reasons: ['dependency hangs: dependency check hangs timed out after 500 ms'],
    });
  });

  it('does not count a failing non-critical dependency against readiness', async () => {
    const { keel } = await serve();
    keel.addCheck({ name: 'cache', check: () => false, critical: false });
    await keel.runChecks();
    expect(keel.readiness().ready).toBe(true);
  });

  it('turns /readyz to 503 while shutting down and before a manual startup', async () => {
    const { keel, base } = await serve({ health: { manualStartup: true } });
    expect(await (await fetch(`${base}/readyz`)).text()).toBe('not ready: starting\n');
    keel.markStarted();
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    keel.beginShutdown();
    expect((await fetch(`${base}/readyz`)).status).toBe(503);
    expect((await fetch(`${base}/livez`)).status).toBe(200);
  });

  it('requires the bearer token for /health and /metrics when one is set, not for probes', async () => {
    const token = 'a-long-enough-secret-token';
    const { base } = await serve({ endpoints: { token } });
    expect((await fetch(`${base}/livez`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/health`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(
      200,
    );
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const { base } = await serve();
    const head = await fetch(`${base}/health`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`${base}/livez`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('serves under a prefix and on a separate admin port', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock(), endpoints: { prefix: '/ops' } });
    open.push({ keel });
    const admin = await keel.listen(0, '127.0.0.1');
    const base = `http://127.0.0.1:${admin.port}`;
    expect((await fetch(`${base}/ops/livez`)).status).toBe(200);
    expect((await fetch(`${base}/livez`)).status).toBe(404);
    await keel.close();
    await expect(fetch(`${base}/ops/livez`)).rejects.toThrow();
  });

  it('serves /metrics as exact UTF-8 bytes: non-ASCII labels intact, content-length right, same text as metrics()', async () => {
    const { keel, base } = await serve();
    keel.recordRequest('GET', '/café/:id', 200, 12);
    keel.recordRequest('GET', '/日本/"quoted"\\path', 500, 7);
    for (let i = 0; i < 3000; i++) keel.recordRequest('GET', `/r/${i % 900}`, 200, i % 250);
    const res = await fetch(`${base}/metrics`);
    const bytes = Buffer.from(await res.arrayBuffer());
    expect(Number(res.headers.get('content-length'))).toBe(bytes.length);
    const text = bytes.toString('utf8');
    expect(text).toBe(await keel.metrics());
    expect(text).toContain('http_route="/café/:id"');
    expect(text).toContain('http_route="/日本/\\"quoted\\"\\\\path"');
    expect(text).toMatch(
      /^http_server_request_duration_seconds_count\{http_request_method="GET",http_route="\/café\/:id",http_response_status_code="200"\} 1$/m,
    );
  });

  it.skipIf(!promtoolAvailable('promtool check metrics on /metrics'))(
    'serves metrics a real Prometheus accepts (promtool check metrics)',
    async () => {
      const { keel, base, clock } = await serve();
      keel.registry.setDefaultLabels({});
      traffic(keel, 500, { slowShare: 0.1, errorShare: 0.01 });
      keel.recordRequest('GET', 'a "quoted" \\ route', 200, 3);
      keel.recordQuery('SELECT', 'SELECT users WHERE id = $1', 12);
      keel.tti.record(2500, true, '/home');
      keel.addCheck({ name: 'postgres', check: () => true });
      await keel.runChecks();
      clock.advance(20_000);
      const text = await (await fetch(`${base}/metrics`)).text();
      expectMetricsPassLint(text);
      expect(text).toContain(
        'http_server_request_duration_seconds_bucket{http_request_method="GET",http_route="/api/users/:id",http_response_status_code="200",le="0.2"}',
      );
      expect(text).toContain('keel_budget_state{budget="api_latency",state="breached"} 1');
      expect(text).toMatch(/keel_budget_burn_rate\{budget="error_rate",window="5m"\} \d/);
      expect(text).toContain(
        'db_client_operation_duration_seconds_count{db_operation_name="SELECT",db_query_summary="SELECT users WHERE id = $1"} 1',
      );
    },
  );
});
