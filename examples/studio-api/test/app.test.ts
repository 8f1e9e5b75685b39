import { ABORTED_STATUS, UNMATCHED_ROUTE } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { parseDelay } from '../src/app.js';
import { serveApp } from './serve.js';

interface BudgetJson {
  name: string;
  state: string;
  value: number | null;
}

interface HealthJson {
  score: number;
  status: string;
  budgets: BudgetJson[];
  dependencies: { name: string; ok: boolean }[];
}

const t = serveApp();

const get = (path: string) => fetch(`${t.base}${path}`);

async function health(): Promise<HealthJson> {
  const res = await get('/health');
  expect(res.status).toBe(200);
  return (await res.json()) as HealthJson;
}

function budget(report: HealthJson, name: string): BudgetJson {
  const found = report.budgets.find((b) => b.name === name);
  if (!found) throw new Error(`no budget ${name} in /health`);
  return found;
}

/** Two evaluations: the default hysteresis adopts a new state on the second. */
function evaluateTwice(): void {
  t.clock.advance(10_000);
  t.clock.advance(10_000);
}

/** The `http_route` label of every series of the HTTP signal. */
const routes = () => t.keel.http.series.map((s) => s.labelValues[1]);

describe('studio-api', () => {
  it('serves the probes from core', async () => {
    const livez = await get('/livez');
    expect(livez.status).toBe(200);
    expect(await livez.text()).toBe('ok\n');
    const readyz = await get('/readyz');
    expect(readyz.status).toBe(200);
    expect(await readyz.text()).toBe('ready\n');
  });

  it('does not record its own endpoints', async () => {
    for (const path of ['/livez', '/readyz', '/health', '/metrics', '/keel'])
      expect((await get(path)).status).toBe(200);
    expect(t.keel.http.series).toHaveLength(0);
  });

  it('lists its routes and the endpoints at /', async () => {
    const res = await get('/');
    expect(res.status).toBe(200);
    const body = (await res.json()) as { routes: string[]; endpoints: Record<string, string> };
    expect(body.routes).toContain('GET /api/users/:id');
    expect(body.endpoints).toEqual({
      livez: '/livez',
      readyz: '/readyz',
      health: '/health',
      metrics: '/metrics',
      dashboard: '/keel',
    });
  });

  it('records a user lookup under its route template', async () => {
    const res = await get('/api/users/1');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ id: 1, name: 'Ada Lovelace' });
    expect((await get('/api/users/2')).status).toBe(200);
    expect((await get('/api/users')).status).toBe(200);

    const users = t.keel.http.series.filter((s) => s.labelValues[1] === '/api/users/:id');
    expect(users).toHaveLength(1);
    expect(users[0]!.labelValues).toEqual(['GET', '/api/users/:id', '200', '']);
    expect(routes()).toContain('/api/users');
    expect(routes().some((r) => r?.includes('/api/users/1'))).toBe(false);

    const metrics = await (await get('/metrics')).text();
    expect(metrics).toContain('http_route="/api/users/:id"');
  });

  it('records an unknown user under the route template too', async () => {
    const res = await get('/api/users/999');
    expect(res.status).toBe(404);
    expect(t.keel.http.series.map((s) => s.labelValues)).toEqual([['GET', '/api/users/:id', '404', '']]);
  });

  it('gives unmatched paths a single series', async () => {
    const responses = await Promise.all(
      Array.from({ length: 50 }, () => get(`/scan/${Math.random().toString(36).slice(2)}`)),
    );
    expect(responses.every((r) => r.status === 404)).toBe(true);
    expect(t.keel.http.series.filter((s) => s.labelValues[1] === UNMATCHED_ROUTE)).toHaveLength(1);
    expect(t.keel.http.series).toHaveLength(1);
    expect(t.keel.http.overflowed).toBe(0);
  });

  it('rejects an invalid delay with 400', async () => {
    for (const ms of ['abc', '-1', '1.5', '30001', '1e3', '']) {
      const res = await get(`/demo/slow?ms=${ms}`);
      expect(res.status, `ms=${ms}`).toBe(400);
    }
    expect((await get('/demo/slow?ms=1&ms=2')).status).toBe(400);
    expect(parseDelay('30000')).toBe(30_000);
    expect(parseDelay('0')).toBe(0);
  });

  it('records a request the client gave up on as aborted, not as a server error', async () => {
    const controller = new AbortController();
    const pending = fetch(`${t.base}/demo/slow?ms=5000`, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow();
    for (let i = 0; i < 100 && t.keel.http.series.length === 0; i++)
      await new Promise((r) => setTimeout(r, 10));
    expect(t.keel.http.series.map((s) => s.labelValues)).toEqual([
      ['GET', '/demo/slow', String(ABORTED_STATUS), ''],
    ]);
  });

  it('shows api_latency breached in /health after slow requests', async () => {
    const before = await health();
    expect(budget(before, 'api_latency').state).toBe('no_data');
    expect(before.score).toBeGreaterThanOrEqual(9);

    const started = performance.now();
    const responses = await Promise.all(Array.from({ length: 15 }, () => get('/demo/slow?ms=300')));
    expect(responses.every((r) => r.status === 200)).toBe(true);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);

    evaluateTwice();
    const after = await health();
    const latency = budget(after, 'api_latency');
    expect(latency.state).toBe('breached');
    expect(latency.value).toBeGreaterThanOrEqual(290);
    expect(budget(after, 'error_rate').state).toBe('ok');
    expect(after.score).toBeLessThan(8);
    // The fake clock jumped past the check's timeout while its promise was pending; run it for real.
    await t.keel.runChecks();
    expect((await health()).dependencies).toMatchObject([{ name: 'downstream', ok: true }]);
    expect(routes()).toEqual(['/demo/slow']);
  });

  it('shows error_rate breached in /health after failing requests', async () => {
    const responses = await Promise.all(Array.from({ length: 15 }, () => get('/demo/error')));
    expect(responses.every((r) => r.status === 500)).toBe(true);
    expect(await responses[0]!.json()).toMatchObject({ error: expect.stringContaining('always fails') });

    evaluateTwice();
    const after = await health();
    expect(budget(after, 'error_rate')).toMatchObject({ state: 'breached', value: 100 });
    expect(budget(after, 'api_latency').state).toBe('ok');
    expect(after.score).toBeLessThan(8);
    expect(t.keel.http.series.map((s) => s.labelValues)).toEqual([['GET', '/demo/error', '500', '']]);
  });

  it('turns /readyz to 503 on shutdown while /livez stays 200', async () => {
    t.keel.beginShutdown();
    expect((await get('/readyz')).status).toBe(503);
    expect((await get('/livez')).status).toBe(200);
  });
});
