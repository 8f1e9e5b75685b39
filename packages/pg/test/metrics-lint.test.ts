import { createKeel, type Keel, KeelError } from '@keel/core';
import { createPool, type KeelPool } from '@keel/pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { expectMetricsPassLint, promtoolAvailable } from '../../../scripts/test/support/promtool.js';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

// Issue 15, item 10: `promtool check metrics` prints nothing for the pool's metrics,
// read from a registry after traffic that moves every one of them.

let db: TestDatabase;
let keel: Keel;
const pools: KeelPool[] = [];

beforeAll(async () => {
  db = await createTestDatabase('metrics_lint');
  keel = createKeel({ service: 'pg-metrics-lint', runtime: false });
});

afterAll(async () => {
  for (const pool of pools) await pool.end();
  await keel?.close();
  await db?.close();
});

const settle = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e: unknown) => (e instanceof KeelError ? e.code : e),
  );

async function traffic(): Promise<void> {
  const main = createPool(keel, {
    pg: { ...db.config, max: 1 },
    healthCheck: { intervalMs: 60_000 },
    slowQuery: { thresholdMs: 20 },
    heldClientMs: 100,
    queryTimeoutMs: 300,
    saturationMs: 5,
    onEvent: () => {},
  });
  // A second pool on a port nothing listens on: connection errors and an open circuit.
  const down = createPool(keel, {
    name: 'down',
    pg: { host: '127.0.0.1', port: 9, connectionTimeoutMillis: 500 },
    healthCheck: false,
    breaker: { consecutiveFailures: 2 },
    onEvent: () => {},
  });
  pools.push(main, down);
  await main.query('SELECT 1');
  await main.query('SELECT pg_sleep(0.03)'); // slow
  await settle(keel.context.run(100, () => main.query('SELECT pg_sleep(1)'))); // cancelled by PostgreSQL
  await settle(main.query('SELECT pg_sleep(2)')); // no answer by queryTimeoutMs: cancel request
  const held = await main.connect(); // held past heldClientMs, and a waiter saturates and times out
  await held.query('BEGIN');
  await settle(keel.context.run(50, () => main.query('SELECT 1')));
  await new Promise((r) => setTimeout(r, 150));
  held.release(); // dirty: rolled back
  for (let i = 0; i < 3; i++) await settle(down.query('SELECT 1'));
  await keel.runChecks();
  await vi.waitFor(() => {
    const c = main.counters;
    expect([
      c.slowQueries,
      c.deadlineCancels,
      c.clientTimeouts,
      c.heldClients,
      c.dirtyReleases,
    ]).not.toContain(0);
    expect(c.acquireTimeouts).toBeGreaterThan(0);
    expect(down.counters.connectionErrors).toBeGreaterThan(0);
    expect(down.breaker!.state).toBe('open');
  });
}

describe('pool metrics under traffic', () => {
  it.skipIf(!promtoolAvailable('promtool check metrics on the pool'))(
    'pass promtool check metrics with nothing printed',
    async () => {
      await traffic();
      const text = await keel.metrics();
      for (const name of [
        'db_client_connections_usage',
        'db_client_connection_max',
        'db_client_connection_pending_requests',
        'db_client_connection_wait_time_seconds',
        'db_client_connection_timeouts_total',
        'keel_db_client_timeouts_total',
        'keel_db_deadline_cancels_total',
      ])
        expect(text).toContain(`# TYPE ${name} `);
      expectMetricsPassLint(text);
      console.log(
        `promtool check metrics on ${text.split('\n').filter((l) => l.startsWith('db_') || l.startsWith('keel_db_')).length} pool series: exit 0, nothing said`,
      );
    },
  );
});
