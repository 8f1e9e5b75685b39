import { createKeel, type Keel, KeelError, KeelErrorCode } from '@keel/core';
import { createPool } from '@keel/pg';
import { describe, expect, it, vi } from 'vitest';
import { sql } from './helpers/database.js';
import { useProxiedDatabase } from './helpers/fixtures.js';

const fixture = useProxiedDatabase('faults');
const { open } = fixture;

const applicationName = `keel_faults_${process.pid}`;

function setup(viaProxy: boolean) {
  const keel = createKeel({ service: 'pg-faults', runtime: false });
  const url = new URL(fixture.db.url);
  if (viaProxy) url.port = String(fixture.proxy.port);
  const pool = createPool(keel, {
    pg: { ...fixture.db.config, connectionString: url.toString(), application_name: applicationName, max: 4 },
    healthCheck: { intervalMs: 60_000, timeoutMs: 1000 },
  });
  open.push({ keel, pool });
  return { keel, pool };
}

async function failure(promise: Promise<unknown>): Promise<KeelError> {
  const error = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelError);
  return error as KeelError;
}

async function ready(keel: Keel, expected: boolean): Promise<void> {
  await vi.waitFor(
    async () => {
      await keel.runChecks();
      expect(keel.readiness().ready).toBe(expected);
    },
    { timeout: 5000, interval: 50 },
  );
}

describe('database down', () => {
  it('at start: not ready, queries fail fast and typed, and it recovers by itself', async () => {
    await fixture.proxy.start();
    await fixture.proxy.stop();
    const { keel, pool } = setup(true);
    await ready(keel, false);
    expect(keel.readiness().reasons.join()).toMatch(/dependency postgres/);

    const started = performance.now();
    const error = await failure(pool.query('SELECT 1'));
    expect(error.code).toBe(KeelErrorCode.DatabaseUnavailable);
    expect(performance.now() - started).toBeLessThan(1000);

    await fixture.proxy.start();
    await ready(keel, true);
    await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('restarted under load: in-flight and new queries fail cleanly, then traffic flows again', async () => {
    await fixture.proxy.start();
    const { keel, pool } = setup(true);
    await pool.query('SELECT 1');
    const outcomes = { ok: 0, unavailable: 0, circuitOpen: 0, other: [] as unknown[] };
    let stop = false;
    // Bounded by time, not by a count of queries: failures are fast (an open circuit answers at
    // once), so a count could run out while the database is down and leave no load for the restart.
    const giveUpAt = performance.now() + 30_000;
    const worker = async () => {
      while (!stop && performance.now() < giveUpAt) {
        try {
          await pool.query('SELECT pg_sleep(0.002)');
          outcomes.ok++;
        } catch (e) {
          if (e instanceof KeelError && e.code === KeelErrorCode.DatabaseUnavailable) outcomes.unavailable++;
          // Once enough fail in a row the pool's circuit breaker fails the rest fast (issue 14).
          else if (e instanceof KeelError && e.code === KeelErrorCode.CircuitOpen) outcomes.circuitOpen++;
          else outcomes.other.push(e);
          await new Promise((r) => setTimeout(r, 5));
        }
      }
    };
    const load = Promise.all([worker(), worker(), worker(), worker()]);
    try {
      await new Promise((r) => setTimeout(r, 150));
      await fixture.proxy.stop();
      await ready(keel, false);
      const okBeforeRestart = outcomes.ok;
      await fixture.proxy.start();
      await ready(keel, true);
      await vi.waitFor(() => expect(outcomes.ok).toBeGreaterThan(okBeforeRestart + 10), { timeout: 5000 });
    } finally {
      stop = true;
      await load;
    }
    expect(outcomes.unavailable).toBeGreaterThan(0);
    expect(outcomes.other).toEqual([]);
    expect(pool.counters.connectionErrors).toBeGreaterThan(0);
  });
});

describe('pg_terminate_backend', () => {
  const terminate = () =>
    sql(fixture.db, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [
      applicationName,
    ]);

  it('idle connections terminated: the pool drops them and the next query reconnects', async () => {
    const { pool } = setup(false);
    await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 2')]);
    expect(pool.idleCount).toBeGreaterThan(0);
    await terminate();
    await vi.waitFor(() => expect(pool.totalCount).toBe(0));
    await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('a running query terminated fails with a clear error; a checked-out client does not crash the app', async () => {
    const { pool } = setup(false);
    const held = await pool.connect();
    await held.query('SELECT 1');
    // Observed at once: it rejects while the test is still busy terminating.
    const running = failure(pool.query('SELECT pg_sleep(10)'));
    await vi.waitFor(async () => {
      const rows = await sql(
        fixture.db,
        "SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'SELECT pg_sleep(10)%' AND state = 'active'",
        [applicationName],
      );
      expect(rows).toHaveLength(1);
    });
    await terminate();
    const error = await running;
    expect(error.code).toBe(KeelErrorCode.DatabaseUnavailable);
    // The checked-out client's connection died while the app held it: its next query fails, typed.
    const second = await failure(held.query('SELECT 1'));
    expect(second.code).toBe(KeelErrorCode.DatabaseUnavailable);
    held.release();
    // Every dead connection (the idle one of the readiness check too) leaves the pool by itself...
    await vi.waitFor(() => expect(pool.totalCount).toBe(0));
    // ...and the next query connects again.
    await expect(pool.query('SELECT 1 AS ok')).resolves.toMatchObject({ rows: [{ ok: 1 }] });
  });

  it('an idle connection dying while the pool closes is reported, never crashes the app', async () => {
    const { keel, pool } = setup(false);
    await pool.query('SELECT 1');
    await pool.end();
    // pg-pool re-emits an idle client's error on the pool: what a database shutting
    // down together with the app (the example's embedded one) does to closing connections.
    const late = new Error('terminating connection due to administrator command');
    expect(() => pool.inner.emit('error', late)).not.toThrow();
    expect(keel.errors.counts.get(`pg.pool.${pool.name}`)).toBe(1);
  });
});
