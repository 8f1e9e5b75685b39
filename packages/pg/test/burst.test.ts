import { createKeel, type Keel, KeelError } from '@keel/core';
import { createPool, type KeelPool } from '@keel/pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from './helpers/database.js';

// Issue 14, item 1: a query that waited for a connection read the request context
// inside pg-pool's callback, where the async context belongs to whichever request's
// I/O handed the connection over (or the one that opened it), saw that request's
// passed deadline and refused to send: 27 of 40 healthy requests answered 504.

const POOL_SIZE = 10;
let db: TestDatabase;
let keel: Keel;
let pool: KeelPool;

beforeAll(async () => {
  db = await createTestDatabase('burst');
  keel = createKeel({ service: 'pg-burst', runtime: false });
  pool = createPool(keel, { pg: { ...db.config, max: POOL_SIZE }, healthCheck: false, onEvent: () => {} });
});

afterAll(async () => {
  await pool?.end();
  await keel?.close();
  await db?.close();
});

describe('a burst beyond the pool size, inside request contexts', () => {
  it('4x pool-size concurrency on a healthy database: every query answers, none hits a deadline', async () => {
    // Open every connection inside requests whose deadlines then pass: their sockets'
    // callbacks keep those expired contexts, the trap the queued queries used to fall in.
    const openedBy = await Promise.all(
      Array.from({ length: POOL_SIZE }, () =>
        keel.context.run(2000, async () => {
          await pool.query('SELECT pg_sleep(0.05)');
          return keel.context.current()!;
        }),
      ),
    );
    expect(pool.totalCount).toBe(POOL_SIZE);
    const lastDeadline = Math.max(...openedBy.map((c) => c.deadline!));
    await new Promise((r) => setTimeout(r, Math.max(0, lastDeadline - Date.now()) + 20));

    const burst = POOL_SIZE * 4;
    const started = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: burst }, (_, i) =>
        keel.context.run(10_000, async () => {
          const context = keel.context.current()!;
          context.route = `/burst/${i}`;
          try {
            await pool.query('SELECT $1::int AS i', [i]);
            return { ok: true, dbCalls: context.dbCalls, code: undefined };
          } catch (error) {
            return {
              ok: false,
              dbCalls: context.dbCalls,
              code: error instanceof KeelError ? error.code : String(error),
            };
          }
        }),
      ),
    );
    const ms = performance.now() - started;
    const failed = outcomes.filter((o) => !o.ok);
    console.log(
      `burst: ${burst} queries at ${burst / POOL_SIZE}x pool size (${POOL_SIZE}) in ${ms.toFixed(0)} ms: ${burst - failed.length} ok, ${failed.length} failed ${JSON.stringify(failed.map((f) => f.code))}; ${pool.waitingCount} still waiting`,
    );
    expect(failed).toEqual([]);
    // Each query's time went to its own request (Server-Timing), not to the one that handed it a connection.
    expect(outcomes.map((o) => o.dbCalls)).toEqual(Array.from({ length: burst }, () => 1));
    expect(pool.counters.deadlineCancels).toBe(0);
    expect(pool.waitingCount).toBe(0);
  });
});
