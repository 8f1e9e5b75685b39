import {
  createFakeClock,
  createKeel,
  type FakeClock,
  type IndexBottleneck,
  type Keel,
  type OptimiseReport,
  type PoolBottleneck,
} from '@keel/core';
import { createPool, type KeelPool } from '@keel/pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { sql } from './helpers/database.js';
import { useDatabase } from './helpers/fixtures.js';

// The optimiser over a real PostgreSQL: the pool tallies each request's
// queries by fingerprint and its waits for a connection, and after a capture
// it suggests the index a slow query's plan is missing (costed with hypopg
// when the database has it) and a pool size when queries waited.

const fixture = useDatabase('optimise', async (db) => {
  await sql(db, 'CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL)');
  await sql(db, "INSERT INTO customers SELECT i, 'customer ' || i FROM generate_series(1, 2000) AS i");
  await sql(
    db,
    'CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, total int NOT NULL, created_at timestamptz NOT NULL)',
  );
  await sql(
    db,
    "INSERT INTO orders SELECT i, 1 + i % 2000, i % 977, timestamptz '2026-01-01' + i * interval '1 minute' FROM generate_series(1, 40000) AS i",
  );
  await sql(db, 'ANALYZE customers; ANALYZE orders');
});

const ORDERS_SQL = 'SELECT id, total FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT 20';
const CUSTOMER_SQL = 'SELECT name FROM customers WHERE id = $1';
const CUSTOMER_FP = 'select name from customers where id = ?';
let hypopgAvailable = false;

beforeAll(async () => {
  const [row] = await sql<{ hypopg: boolean }>(
    fixture.db,
    "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'hypopg') AS hypopg",
  );
  hypopgAvailable = row!.hypopg;
});

function setup(max: number): { keel: Keel; pool: KeelPool; clock: FakeClock } {
  const clock = createFakeClock();
  const keel = createKeel({ runtime: false, clock, optimise: { profileMs: 0 } });
  const pool = createPool(keel, { pg: { ...fixture.db.config, max }, healthCheck: false, onEvent: () => {} });
  fixture.open.push({ keel, pool });
  return { keel, pool, clock };
}

/** One request as an adapter runs it: its own context, its queries inside, then recorded with the context. */
async function request(keel: Keel, route: string, work: () => Promise<unknown>): Promise<void> {
  const ctx = keel.context.create(undefined);
  const started = performance.now();
  await keel.context.runIn(ctx, work);
  keel.recordRequest('GET', route, 200, performance.now() - started, '', ctx);
}

async function captured(keel: Keel, clock: FakeClock, traffic: () => Promise<void>): Promise<OptimiseReport> {
  const report = keel.optimise({ reason: 'test', windowMs: 10_000 });
  await traffic();
  await clock.advanceAsync(10_000);
  return report;
}

describe('the optimiser over PostgreSQL', () => {
  it('ranks the missing index first with its CREATE INDEX, and reports the N+1 by fingerprint', async () => {
    const { keel, pool, clock } = setup(4);
    const orders = (customer: number) => request(keel, '/orders', () => pool.query(ORDERS_SQL, [customer]));
    const recent = () =>
      request(keel, '/orders/recent', async () => {
        for (let id = 1; id <= 8; id++) await pool.query(CUSTOMER_SQL, [id]);
      });
    const withoutHypopg = await captured(keel, clock, async () => {
      for (let i = 0; i < 12; i++) {
        await orders(1 + i);
        await recent();
      }
    });
    const index = withoutHypopg.bottlenecks[0] as IndexBottleneck;
    expect(index).toMatchObject({ kind: 'index', route: 'GET /orders', rank: 1 });
    expect(index.fix).toBe('CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);');
    expect(index.details).toMatchObject({
      table: 'orders',
      columns: ['customer_id'],
      costAfter: null,
      hypopg: false,
    });
    expect(index.expectedGain).toBeNull();
    expect(
      withoutHypopg.notes.some((n) => /hypopg is (available but not created|not installed)/.test(n)),
    ).toBe(true);

    const n1 = withoutHypopg.bottlenecks.find((b) => b.kind === 'n-plus-one')!;
    expect(n1).toMatchObject({ route: 'GET /orders/recent', fingerprint: CUSTOMER_FP });
    expect(n1.fix).toMatch(
      /^N\+1: 8 identical queries per request \(select name from customers where id = \?\)/,
    );
    const route = withoutHypopg.routes.find((r) => r.route === '/orders/recent')!;
    expect(route.queriesPerRequest).toBe(8);
    expect(route.split!.dbMs).toBeGreaterThan(0);
  });

  it('costs the index with hypopg when the database has it, and the index built ends the suggestion', async (ctx) => {
    if (!hypopgAvailable) {
      ctx.skip('the hypopg extension is not installed on this server (Debian: postgresql-15-hypopg)');
      return;
    }
    await sql(fixture.db, 'CREATE EXTENSION IF NOT EXISTS hypopg');
    const { keel, pool, clock } = setup(4);
    const orders = (customer: number) => request(keel, '/orders', () => pool.query(ORDERS_SQL, [customer]));
    const withHypopg = await captured(keel, clock, async () => {
      for (let i = 0; i < 12; i++) await orders(1 + i);
    });
    const costed = withHypopg.bottlenecks[0] as IndexBottleneck;
    expect(costed.details.hypopg).toBe(true);
    expect(costed.details.costAfter!).toBeLessThan(costed.details.costBefore / 2);
    expect(costed.expectedGain!.basis).toMatch(/with a hypothetical index \(hypopg\)$/);
    expect(withHypopg.notes.filter((n) => n.includes('hypopg'))).toEqual([]);
    // The suggestion is real: built, the planner uses it and the optimiser has nothing left to say about it.
    await sql(fixture.db, costed.fix);
    const after = await captured(keel, clock, async () => {
      for (let i = 0; i < 12; i++) await orders(1 + i);
    });
    expect(after.bottlenecks.filter((b) => b.kind === 'index')).toEqual([]);
  });

  it('suggests a larger pool when queries wait for a connection, within max_connections', async () => {
    const { keel, pool, clock } = setup(1);
    const report = await captured(keel, clock, async () => {
      await Promise.all(
        Array.from({ length: 6 }, () => request(keel, '/slow', () => pool.query('SELECT pg_sleep(0.05)'))),
      );
    });
    const advice = report.bottlenecks.find((b) => b.kind === 'pool') as PoolBottleneck;
    expect(advice).toBeDefined();
    expect(advice.details).toMatchObject({ pool: 'main', from: 1, instances: 1 });
    expect(advice.details.to).toBeGreaterThan(1);
    expect(advice.details.maxConnections).toBeGreaterThan(advice.details.to);
    expect(advice.fix).toBe(
      `raise pool max from 1 to ${advice.details.to} (createPool(keel, { pg: { max: ${advice.details.to} } })): fits max_connections ${advice.details.maxConnections} with 1 instance(s)`,
    );
    // Six requests queued behind one connection: most of their time was the wait.
    const slow = report.routes[0]!;
    expect(slow.split!.acquireMs).toBeGreaterThan(slow.split!.dbMs);
  });
});
