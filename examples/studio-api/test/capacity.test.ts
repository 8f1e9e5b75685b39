import { mkdtempSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DashboardData } from '@keel/core';
import { findPostgres } from '@keel/dev-postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { freshDatabase, type Started, startStudioApi, waitFor } from './support/processes.js';

// The capacity model on the example as `pnpm start` runs it: real requests over HTTP, the
// process's own CPU and event-loop readings, the cost from KEEL_COST_* overrides.
const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

interface CapacityJson {
  requests: number;
  rps: number;
  cpuMsPerRequest: number;
  busyMsPerRequest: number;
  rpsPerInstance: number;
  limitedBy: string;
  headroomRps: number;
  instances: number;
  instancesNeeded: number;
  targetUtilization: number;
  routes: { route: string; requests: number }[];
  cost: { currency: string; monthlyNow: number; monthlyNeeded: number };
  advice: string;
}

function get(agent: Agent, url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    })
      .on('error', reject)
      .end();
  });
}

describe('studio-api capacity and cost, measured', () => {
  it('serves N requests, measures what each costs, and states instances and price', async () => {
    const server = await findPostgres({ prefix: 'keel-capacity-pg-' });
    cleanups.push(() => server.stop());
    const db = await freshDatabase(server.url, `keel_capacity_${process.pid}`);
    cleanups.push(() => db.drop());

    const app: Started & { base: string } = await startStudioApi({
      DATABASE_URL: db.url,
      KEEL_INTERVAL_MS: '1000',
      KEEL_WINDOW_MS: '20000',
      KEEL_MIN_SAMPLES: '20',
      KEEL_COST_INSTANCE_HOURLY: '0.1',
      KEEL_COST_CURRENCY: 'EUR',
      KEEL_INSTANCES: '3',
      KEEL_MONITOR_DIR: mkdtempSync(join(tmpdir(), 'keel-capacity-monitor-')),
      KEEL_MONITOR_DRY_RUN: '1',
    });
    cleanups.push(() => app.stop());
    const dashboard = await waitFor(
      'the dashboard URL',
      async () => /dashboard: (http:\/\/\S+)/.exec(app.output())?.[1],
    );

    const agent = new Agent({ keepAlive: true, maxSockets: 8 });
    cleanups.push(() => agent.destroy());
    let sent = 0;
    const until = Date.now() + 3000;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (Date.now() < until) {
          expect(await get(agent, `${app.base}/api/users/${(sent % 3) + 1}`)).toBe(200);
          sent++;
        }
      }),
    );

    // Every request lands in the model within an interval or two of the last one.
    const capacity = await waitFor('the capacity model to count every request', async () => {
      const health = (await (await fetch(`${app.base}/health`)).json()) as { capacity: CapacityJson };
      return health.capacity.requests === sent ? health.capacity : undefined;
    });
    console.log(
      `capacity after ${sent} requests: ${capacity.rps} req/s, ${capacity.cpuMsPerRequest} ms CPU and ` +
        `${capacity.busyMsPerRequest} ms event loop per request -> ${capacity.rpsPerInstance} req/s per ` +
        `instance at ${capacity.targetUtilization * 100} % (${capacity.limitedBy}), ` +
        `${capacity.instancesNeeded} of ${capacity.instances} instances needed; ${capacity.advice}`,
    );
    expect(capacity.routes).toEqual([
      { route: '/api/users/:id', requests: sent, rps: expect.any(Number), share: 1 },
    ]);
    expect(capacity.cpuMsPerRequest).toBeGreaterThan(0);
    expect(capacity.busyMsPerRequest).toBeGreaterThan(0);
    // The arithmetic on the measured numbers: target × 1000 ms over the scarcer of loop and CPU time.
    const byLoop = (capacity.targetUtilization * 1000) / capacity.busyMsPerRequest;
    const byCpu = (capacity.targetUtilization * 1000) / capacity.cpuMsPerRequest;
    // /health rounds to 0.001 req/s and 1 ns per request: equal to well within 0.1 %.
    expect(Math.abs(capacity.rpsPerInstance - Math.min(byLoop, byCpu))).toBeLessThan(
      Math.min(byLoop, byCpu) * 1e-3,
    );
    expect(capacity.limitedBy).toBe(byLoop <= byCpu ? 'event_loop' : 'cpu');
    expect(capacity.headroomRps).toBeCloseTo(capacity.rpsPerInstance - capacity.rps, 2);
    const fleet = (capacity.rps * 3) / capacity.rpsPerInstance;
    expect(capacity.instancesNeeded).toBeGreaterThanOrEqual(Math.max(1, Math.ceil(fleet - 0.01)));
    expect(capacity.instancesNeeded).toBeLessThanOrEqual(Math.max(1, Math.ceil(fleet + 0.01)));
    expect(capacity.cost.monthlyNow).toBe(219);
    expect(capacity.cost.monthlyNeeded).toBeCloseTo(capacity.instancesNeeded * 73, 6);

    // The dashboard on the loopback admin port serves the same section.
    const page = await fetch(dashboard);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const data = (await (
      await fetch(dashboard, { headers: { accept: 'application/json' } })
    ).json()) as DashboardData;
    expect((data.health.capacity as CapacityJson).requests).toBe(sent);
  }, 120_000);
});
