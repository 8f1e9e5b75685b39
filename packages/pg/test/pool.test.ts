import { createFakeClock, createKeel, type Keel, KeelError, KeelErrorCode } from '@keel/core';
import { createPool, type KeelPool, type PgEvent } from '@keel/pg';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { sql } from './helpers/database.js';
import { useDatabase } from './helpers/fixtures.js';

const fixture = useDatabase('pool', async (db) => {
  await sql(db, 'CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, n int NOT NULL)');
  await sql(db, "INSERT INTO items (name, n) SELECT 'item ' || i, i FROM generate_series(1, 100) AS i");
});
const { open } = fixture;

function setup(
  options: Parameters<typeof createPool>[1] = {},
  keelOptions: Parameters<typeof createKeel>[0] = {},
) {
  const events: PgEvent[] = [];
  const keel = createKeel({ service: 'pg-test', runtime: false, ...keelOptions });
  const pool = createPool(keel, {
    pg: fixture.db.config,
    healthCheck: false,
    onEvent: (e) => events.push(e),
    ...options,
  });
  open.push({ keel, pool });
  return { keel, pool, events };
}

async function rejection(promise: Promise<unknown>): Promise<KeelError> {
  const error = await promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelError);
  return error as KeelError;
}

describe('recording', () => {
  it('records each query under one fingerprint per shape, whatever the values', async () => {
    const { keel, pool } = setup();
    await pool.query('SELECT * FROM items WHERE id = $1', [1]);
    await pool.query('SELECT * FROM items WHERE id = $1', [2]);
    await pool.query('select *  from items where id = 3');
    await pool.query({ text: 'SELECT name FROM items WHERE id = $1', values: [4] });
    const client = await pool.connect();
    await client.query('SELECT * FROM items WHERE id = 55');
    client.release();

    const shapes = pool.fingerprints();
    expect(shapes.map((s) => [s.fingerprint, s.calls]).sort()).toEqual([
      ['select * from items where id = ?', 4],
      ['select name from items where id = ?', 1],
    ]);
    const metrics = await keel.metrics();
    expect(metrics).toContain(
      'db_client_operation_duration_seconds_count{db_operation_name="SELECT",db_query_summary="select * from items where id = ?"} 4',
    );
    expect(metrics).not.toMatch(/id = (1|2|3|55)\b/);
  });

  it('never puts a parameter value in a metric, an event or the slow-query log', async () => {
    const { keel, pool, events } = setup({ slowQuery: { thresholdMs: 0, explain: true } });
    await pool.query('SELECT * FROM items WHERE name = $1', ['secret-token-42']);
    await pool.query("SELECT * FROM items WHERE name = 'inline-secret'");
    await pool.plansSettled();
    const everything = JSON.stringify({ events, slow: pool.slowQueries(), metrics: await keel.metrics() });
    expect(events.length).toBeGreaterThan(0);
    expect(everything).not.toContain('secret');
  });

  it('exposes pool state, waits and counters at /metrics', async () => {
    const { keel, pool } = setup({ pg: { ...fixture.db.config, max: 3 } });
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1'), pool.query('SELECT 1')]);
    const metrics = await keel.metrics();
    expect(metrics).toContain('db_client_connection_max{db_client_connection_pool_name="main"} 3');
    expect(metrics).toMatch(
      /db_client_connections_usage\{db_client_connection_pool_name="main",db_client_connection_state="idle"\} [1-3]/,
    );
    expect(metrics).toContain(
      'db_client_connection_wait_time_seconds_count{db_client_connection_pool_name="main"} 3',
    );
    expect(metrics).toContain('keel_db_pool_saturation_total{db_client_connection_pool_name="main"} 0');
  });

  it('adds query time to the request context (Server-Timing)', async () => {
    const { keel, pool } = setup();
    const context = await keel.context.run(undefined, async () => {
      await pool.query('SELECT 1');
      await pool.query('SELECT 2');
      return keel.context.current()!;
    });
    expect(context.dbCalls).toBe(2);
    expect(context.dbMs).toBeGreaterThan(0);
  });
});

describe('slow-query log', () => {
  it('reports a slow fingerprint once per interval, with route, duration and rows, and counts the rest', async () => {
    const clock = createFakeClock();
    const { pool, events } = setup({ slowQuery: { thresholdMs: 30, intervalMs: 60_000 } }, { clock });
    await keel(pool).context.run(undefined, async () => {
      keel(pool).context.current()!.route = '/reports/:id';
      for (const s of [0.04, 0.05, 0.04]) await pool.query('SELECT pg_sleep($1), 1 AS one', [s]);
      await pool.query('SELECT 1');
    });
    const slow = events.filter((e) => e.kind === 'slow-query');
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({
      fingerprint: 'select pg_sleep(?), ? as one',
      route: '/reports/:id',
      rows: 1,
      suppressed: 0,
    });
    expect((slow[0] as { durationMs: number }).durationMs).toBeGreaterThanOrEqual(30);
    clock.advance(60_000);
    await pool.query('SELECT pg_sleep($1), 1 AS one', [0.04]);
    expect(events.filter((e) => e.kind === 'slow-query').at(-1)).toMatchObject({ suppressed: 2 });
    const [record] = pool.slowQueries();
    expect(record).toMatchObject({ count: 4, routes: ['/reports/:id'] });
  });

  it('defaults the threshold to the db_latency budget target', () => {
    const { pool } = setup({}, { budgets: { db_latency: { target: 250 } } });
    expect(pool.config.slowQuery?.thresholdMs).toBe(250);
  });

  it('captures a generic EXPLAIN plan off the request path, with no value in it', async () => {
    const { pool } = setup({ slowQuery: { thresholdMs: 0, explain: true } });
    await pool.query('SELECT * FROM items WHERE name = $1 AND n > $2', ['item 7', 3]);
    await pool.plansSettled();
    const plan = pool.slowQueries()[0]!.plan!;
    const scan = plan.nodes.find((n) => n.relation === 'items')!;
    expect(scan.nodeType).toBe('Seq Scan');
    expect(scan.filter).toContain('$1');
    expect(JSON.stringify(plan)).not.toContain('item 7');
    // The capture left the connections clean: no prepared statement, default plan_cache_mode.
    const rows = await pool.query<{ n: string; mode: string }>(
      "SELECT count(*)::text AS n, current_setting('plan_cache_mode') AS mode FROM pg_prepared_statements",
    );
    expect(rows.rows[0]).toEqual({ n: '0', mode: 'auto' });
  });
});

describe('submittables', () => {
  // Cursors and streams (`client.query(new Cursor(...))`) are pg submittables: they pass
  // through as pg gives them, unrecorded, rather than being wrapped into a promise.
  it('passes a submittable through to pg and records nothing for it', async () => {
    const { pool } = setup();
    const client = await pool.connect();
    const submitted = new pg.Query('SELECT 42 AS answer');
    const returned = client.query(submitted as never) as unknown;
    expect(returned).toBe(submitted);
    const rows = await new Promise<unknown[]>((resolve, reject) => {
      const got: unknown[] = [];
      submitted.on('row', (row: unknown) => got.push(row));
      submitted.on('end', () => resolve(got));
      submitted.on('error', reject);
    });
    client.release();
    expect(rows).toEqual([{ answer: 42 }]);
    expect(pool.fingerprints()).toEqual([]);
  });
});

describe('deadlines', () => {
  it('makes PostgreSQL cancel a query at the request deadline, with a typed error', async () => {
    const { keel, pool } = setup();
    const marker = `deadline_${Date.now()}`;
    const started = performance.now();
    const error = await rejection(keel.context.run(300, () => pool.query(`SELECT pg_sleep(5) AS ${marker}`)));
    expect(error.code).toBe(KeelErrorCode.QueryDeadline);
    expect(performance.now() - started).toBeLessThan(2000);
    const running = await sql(
      fixture.db,
      "SELECT pid FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()",
      [`%${marker}%`],
    );
    expect(running).toEqual([]);
    expect(pool.counters.deadlineCancels).toBe(1);
  });

  // The README's advice behind a PgBouncer in transaction mode: no session setting, but
  // the client-side deadline (`queryTimeoutMs`) still ends a query the database never answers.
  it('with deadlines: false sets no statement_timeout in a request, and queryTimeoutMs still applies', async () => {
    const { keel, pool } = setup({
      pg: { ...fixture.db.config, max: 1 },
      deadlines: false,
      queryTimeoutMs: 600,
    });
    const inside = await keel.context.run(100, () =>
      pool.query<{ statement_timeout: string }>(
        'SELECT pg_sleep(0.2), current_setting($1) AS statement_timeout',
        ['statement_timeout'],
      ),
    );
    // It outlived the request's 100 ms deadline: nothing cancelled it.
    expect(inside.rows[0]!.statement_timeout).toBe('0');
    const started = performance.now();
    const error = await rejection(keel.context.run(100, () => pool.query('SELECT pg_sleep(5)')));
    expect(error.code).toBe(KeelErrorCode.QueryDeadline);
    expect(performance.now() - started).toBeLessThan(2000);
    expect(pool.counters.clientTimeouts).toBe(1);
    expect(pool.counters.deadlineCancels).toBe(0);
  });

  it('applies no timeout outside a request context, and restores the default after one', async () => {
    const { keel, pool } = setup({ pg: { ...fixture.db.config, max: 1 } });
    const inside = await keel.context.run(150, () =>
      pool.query<{ statement_timeout: string }>('SHOW statement_timeout'),
    );
    const ms = Number.parseInt(inside.rows[0]!.statement_timeout, 10);
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(150);
    const outside = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
    expect(outside.rows[0]!.statement_timeout).toBe('0');
    const noDeadline = await keel.context.run(undefined, () =>
      pool.query<{ statement_timeout: string }>('SHOW statement_timeout'),
    );
    expect(noDeadline.rows[0]!.statement_timeout).toBe('0');
  });

  it('uses SET LOCAL inside a transaction, so COMMIT leaves the session as it was', async () => {
    const { keel, pool } = setup({ pg: { ...fixture.db.config, max: 1 } });
    await keel.context.run(5000, async () => {
      const client = await pool.connect();
      await client.query('BEGIN');
      const r = await client.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(Number.parseInt(r.rows[0]!.statement_timeout, 10)).toBeGreaterThan(4000);
      await client.query('COMMIT');
      client.release();
    });
    const after = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout');
    expect(after.rows[0]!.statement_timeout).toBe('0');
  });

  it('stops waiting for a connection at the deadline, and the late connection goes back to the pool', async () => {
    const { keel, pool } = setup({ pg: { ...fixture.db.config, max: 1 } });
    const held = await pool.connect();
    const started = performance.now();
    const error = await rejection(keel.context.run(100, () => pool.query('SELECT 1')));
    expect(error.code).toBe(KeelErrorCode.QueryDeadline);
    expect(performance.now() - started).toBeLessThan(1000);
    held.release();
    await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
    expect(pool.totalCount).toBe(1);
  });
});

describe('guards', () => {
  it('rolls back a client released inside a transaction and reports it', async () => {
    const { pool, events } = setup({ pg: { ...fixture.db.config, max: 1 } });
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query("INSERT INTO items (name, n) VALUES ('dirty', -1)");
    client.release();
    const next = await pool.connect();
    expect(next.getTransactionStatus()).toBe('I');
    const rows = await next.query("SELECT * FROM items WHERE name = 'dirty'");
    expect(rows.rows).toEqual([]);
    next.release();
    const dirty = events.filter((e) => e.kind === 'dirty-release');
    expect(dirty).toHaveLength(1);
    expect(dirty[0]).toMatchObject({ transactionStatus: 'T', action: 'rolled back' });
    expect((dirty[0] as { acquiredAt: string }).acquiredAt).toContain('pool.test.ts');
  });

  it('cleans an aborted transaction and a pool.query("BEGIN") too', async () => {
    const { pool, events } = setup({ pg: { ...fixture.db.config, max: 1 } });
    const client = await pool.connect();
    await client.query('BEGIN');
    await client.query('SELECT 1/0').catch(() => {});
    client.release();
    await pool.query('BEGIN');
    const status = await pool.connect();
    expect(status.getTransactionStatus()).toBe('I');
    status.release();
    const dirty = events.filter((e) => e.kind === 'dirty-release');
    expect(dirty.map((e) => (e as { action: string }).action)).toEqual(['rolled back', 'rolled back']);
    expect(pool.counters.dirtyReleases).toBe(2);
  });

  it('reports a client held past the threshold, with where it was acquired', async () => {
    const clock = createFakeClock();
    const { pool, events } = setup({ heldClientMs: 1000 }, { clock });
    const client = await pool.connect();
    clock.advance(900);
    expect(events).toEqual([]);
    clock.advance(600);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ kind: 'client-held', pool: 'main' });
    expect((events[0] as { acquiredAt: string }).acquiredAt).toContain('pool.test.ts');
    clock.advance(5000);
    expect(events).toHaveLength(1);
    client.release();
    expect(() => client.release()).toThrow(/already been released/);
  });
});

describe('checks and saturation', () => {
  it('registers a SELECT 1 readiness check and a saturation check', async () => {
    const { keel, pool } = setup({ healthCheck: {}, pg: { ...fixture.db.config, max: 1 }, saturationMs: 20 });
    await vi.waitFor(async () => {
      await keel.runChecks();
      expect(keel.readiness().ready).toBe(true);
    });
    expect(keel.health().dependencies.map((d) => [d.name, d.ok, d.critical])).toEqual([
      ['postgres', true, true],
      ['postgres-pool', true, false],
    ]);

    const held = await pool.connect();
    const waiting = pool.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 60));
    held.release();
    await waiting;
    expect(pool.counters.saturations).toBe(1);
    await vi.waitFor(async () => {
      await keel.runChecks();
      expect(keel.health().dependencies.find((d) => d.name === 'postgres-pool')!.ok).toBe(false);
    });
    const saturation = keel.health().dependencies.find((d) => d.name === 'postgres-pool')!;
    expect(saturation.error).toMatch(/saturated/);
    // Saturation lowers the score but does not take the instance out of rotation.
    expect(keel.readiness().ready).toBe(true);
    expect(await keel.metrics()).toContain(
      'keel_db_pool_saturation_total{db_client_connection_pool_name="main"} 1',
    );
  });

  it('opening a new connection is not saturation: only waits with every connection in use count', async () => {
    const { pool } = setup({ pg: { ...fixture.db.config, max: 2 }, saturationMs: 1 });
    // Each opens a connection (TCP, startup, auth): milliseconds, with connections to spare.
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')]);
    expect(pool.totalCount).toBe(2);
    expect(pool.counters.saturations).toBe(0);
  });

  it('ends the pool on graceful shutdown', async () => {
    const { keel, pool } = setup();
    const cleanup = keel.shutdownCleanups().find((c) => c.name === 'pg-pool:main')!;
    await cleanup.fn();
    expect(pool.inner.ending).toBe(true);
    const error = await rejection(pool.query('SELECT 1'));
    expect(error.code).toBe(KeelErrorCode.Closed);
  });

  it('resolves end() only once every connection has closed, so the database can stop right after', async () => {
    const { pool } = setup({ pg: { ...fixture.db.config, max: 4 } });
    const clients: { on(event: 'end', listener: () => void): void }[] = [];
    const closed = new Set<unknown>();
    pool.inner.on('connect', (client) => {
      clients.push(client);
      client.on('end', () => closed.add(client));
    });
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT pg_sleep(0.02)')));
    expect(clients).toHaveLength(4);
    await pool.end();
    expect(closed.size).toBe(4);
  });

  it('fails fast on bad options', () => {
    const keel = createKeel({ runtime: false });
    for (const bad of [
      { saturationMs: -1 },
      { name: 'a b' },
      { slowQuery: { thresholdMs: 'x' } },
      { heldClientMs: 0 },
    ]) {
      expect(() => createPool(keel, bad as never)).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    }
    void keel.close();
  });
});

function keel(pool: KeelPool): Keel {
  return pool.keel;
}
