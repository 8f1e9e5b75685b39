import { createKeel, KeelError, KeelErrorCode } from '@keel/core';
import { createPool, type KeelPool, type KeelPoolOptions } from '@keel/pg';
import pg from 'pg';
import { describe, expect, it, vi } from 'vitest';
import { sql } from './helpers/database.js';
import { useProxiedDatabase } from './helpers/fixtures.js';

// Issue 14, item 2: the deadline existed only on the server (`statement_timeout`), so a
// database that stopped answering held every connection for good, and a slow network
// answered seconds past the request's deadline. Each case prints what it measured.

const fixture = useProxiedDatabase('deadlines');
const { open } = fixture;
const applicationName = `keel_deadlines_${process.pid}`;

function setup(options: KeelPoolOptions = {}, viaProxy = true) {
  const keel = createKeel({ service: 'pg-deadlines', runtime: false });
  const url = new URL(fixture.db.url);
  if (viaProxy) url.port = String(fixture.proxy.port);
  const pool = createPool(keel, {
    pg: {
      ...fixture.db.config,
      connectionString: url.toString(),
      application_name: applicationName,
      max: 4,
      connectionTimeoutMillis: 1000,
    },
    healthCheck: false,
    breaker: false,
    onEvent: () => {},
    ...options,
  });
  open.push({ keel, pool });
  return { keel, pool };
}

/** Settles `promise`; returns its error code (or 'ok') and how long it took, ms. */
async function timed(promise: () => Promise<unknown>): Promise<{ code: string; ms: number }> {
  const started = performance.now();
  try {
    await promise();
    return { code: 'ok', ms: performance.now() - started };
  } catch (error) {
    return { code: error instanceof KeelError ? error.code : String(error), ms: performance.now() - started };
  }
}

const ourBackends = () =>
  sql<{ pid: number; state: string; query: string }>(
    fixture.db,
    'SELECT pid, state, query FROM pg_stat_activity WHERE application_name = $1',
    [applicationName],
  );

/** Waits until a query succeeds again; returns how long that took from `since`. */
async function recovered(pool: KeelPool, since: number): Promise<number> {
  await vi.waitFor(() => pool.query('SELECT 1'), { timeout: 10_000, interval: 50 });
  return performance.now() - since;
}

/** No client stuck: everything the pool opened is idle and nobody waits, on the pool and on the server. */
async function noStuckClients(pool: KeelPool): Promise<void> {
  await vi.waitFor(
    async () => {
      expect(pool.waitingCount).toBe(0);
      expect(pool.idleCount).toBe(pool.totalCount);
      expect(pool.totalCount).toBeLessThanOrEqual(pool.max);
      const backends = await ourBackends();
      expect(backends.map((b) => b.state).sort()).toEqual(backends.map(() => 'idle'));
      expect(backends).toHaveLength(pool.totalCount);
    },
    { timeout: 10_000, interval: 50 },
  );
}

describe('a database that hangs (accepts, never answers)', () => {
  it('in-flight queries fail at their deadline, their connections are closed, and the pool refills once it is back', async () => {
    const { keel, pool } = setup({ queryTimeoutMs: 800 });
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT pg_sleep(0.02)')));
    expect(pool.totalCount).toBe(4);

    fixture.proxy.hang();
    const inRequests = Array.from({ length: 2 }, () =>
      timed(() => keel.context.run(300, () => pool.query('SELECT 1'))),
    );
    const outside = Array.from({ length: 2 }, () => timed(() => pool.query('SELECT 1')));
    const [r1, r2] = await Promise.all(inRequests);
    const [o1, o2] = await Promise.all(outside);
    console.log(
      `hang: request deadline 300 ms -> failed after ${r1!.ms.toFixed(0)} / ${r2!.ms.toFixed(0)} ms; queryTimeoutMs 800 -> failed after ${o1!.ms.toFixed(0)} / ${o2!.ms.toFixed(0)} ms; client timeouts ${pool.counters.clientTimeouts}`,
    );
    for (const r of [r1!, r2!, o1!, o2!]) expect(r.code).toBe(KeelErrorCode.QueryDeadline);
    // Not seconds past: the deadline, the grace for the server's own answer, and the machine's jitter.
    for (const r of [r1!, r2!]) expect(r.ms).toBeLessThan(300 + 1000);
    for (const r of [o1!, o2!]) expect(r.ms).toBeLessThan(800 + 1000);
    expect(pool.counters.clientTimeouts).toBe(4);
    // The connections that did not answer are gone: nothing holds the pool.
    await vi.waitFor(() => expect(pool.totalCount).toBe(0));
    expect(pool.waitingCount).toBe(0);

    // Still hung: a new connection never completes; the request gives up at its deadline.
    const meanwhile = await timed(() => keel.context.run(300, () => pool.query('SELECT 1')));
    expect(meanwhile.code).toBe(KeelErrorCode.QueryDeadline);

    const back = performance.now();
    fixture.proxy.forward();
    const ms = await recovered(pool, back);
    console.log(`hang: first query answered ${ms.toFixed(0)} ms after the database came back`);
    expect(ms).toBeLessThan(5000);
    const burst = await Promise.all(Array.from({ length: 12 }, () => timed(() => pool.query('SELECT 1'))));
    expect(burst.map((b) => b.code)).toEqual(burst.map(() => 'ok'));
    await noStuckClients(pool);
    console.log(
      `hang: after recovery total ${pool.totalCount}, idle ${pool.idleCount}, waiting ${pool.waitingCount}`,
    );
  });

  it('a checked-out client whose query gets no answer fails at the deadline, and is closed when released', async () => {
    const { keel, pool } = setup({ queryTimeoutMs: 500 });
    const client = await pool.connect();
    await client.query('SELECT 1');
    fixture.proxy.hang();
    const outcome = await timed(() => keel.context.run(200, () => client.query('SELECT 1')));
    console.log(`hang, checked-out client: failed after ${outcome.ms.toFixed(0)} ms (deadline 200 ms)`);
    expect(outcome.code).toBe(KeelErrorCode.QueryDeadline);
    client.release();
    await vi.waitFor(() => expect(pool.totalCount).toBe(0));
    fixture.proxy.forward();
    await recovered(pool, performance.now());
    await noStuckClients(pool);
  });
});

describe('a wrapped pg.Pool', () => {
  it('connections it opened before Keel wrapped it are held to deadlines too', async () => {
    const url = new URL(fixture.db.url);
    url.port = String(fixture.proxy.port);
    const existing = new pg.Pool({ connectionString: url.toString(), max: 2, connectionTimeoutMillis: 1000 });
    await Promise.all([existing.query('SELECT pg_sleep(0.02)'), existing.query('SELECT pg_sleep(0.02)')]);
    expect(existing.totalCount).toBe(2);
    const { keel, pool } = setup({ pg: existing });
    fixture.proxy.hang();
    const outcome = await timed(() => keel.context.run(200, () => pool.query('SELECT 1')));
    expect(outcome.code).toBe(KeelErrorCode.QueryDeadline);
    expect(pool.counters.clientTimeouts).toBe(1);
    await vi.waitFor(() => expect(pool.totalCount).toBe(1));
  });
});

describe('a database that refuses (its host crashed: connections reset, new ones refused)', () => {
  it('in-flight and new queries fail at once, typed, and the pool refills once it is back', async () => {
    const { keel, pool } = setup();
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT pg_sleep(0.02)')));
    const inFlight = Array.from({ length: 4 }, () =>
      timed(() => keel.context.run(5000, () => pool.query('SELECT pg_sleep(2)'))),
    );
    await vi.waitFor(async () =>
      expect((await ourBackends()).filter((b) => b.state === 'active')).toHaveLength(4),
    );
    await fixture.proxy.stop();
    const cut = await Promise.all(inFlight);
    const refused = await timed(() => keel.context.run(5000, () => pool.query('SELECT 1')));
    console.log(
      `refused: in-flight failed after ${cut.map((c) => c.ms.toFixed(0)).join(' / ')} ms (${cut[0]!.code}); a new query failed after ${refused.ms.toFixed(0)} ms (${refused.code})`,
    );
    expect(cut.map((c) => c.code)).toEqual(Array(4).fill(KeelErrorCode.DatabaseUnavailable));
    expect(refused.code).toBe(KeelErrorCode.DatabaseUnavailable);
    expect(refused.ms).toBeLessThan(1000);
    await vi.waitFor(() => expect(pool.totalCount).toBe(0));

    const back = performance.now();
    await fixture.proxy.start();
    const ms = await recovered(pool, back);
    console.log(`refused: first query answered ${ms.toFixed(0)} ms after the database came back`);
    expect(ms).toBeLessThan(5000);
    await noStuckClients(pool);
  });
});

describe('a slow network (latency added both ways)', () => {
  it('answers come back at the deadline, not seconds past it, and traffic flows once it is fast again', async () => {
    const { keel, pool } = setup({ queryTimeoutMs: 600 });
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT pg_sleep(0.02)')));
    fixture.proxy.latency(2000);
    const inRequest = await timed(() => keel.context.run(200, () => pool.query('SELECT 1')));
    const outside = await timed(() => pool.query('SELECT 1'));
    console.log(
      `latency 2 s: request deadline 200 ms -> failed after ${inRequest.ms.toFixed(0)} ms; queryTimeoutMs 600 -> failed after ${outside.ms.toFixed(0)} ms`,
    );
    expect(inRequest.code).toBe(KeelErrorCode.QueryDeadline);
    expect(outside.code).toBe(KeelErrorCode.QueryDeadline);
    expect(inRequest.ms).toBeLessThan(200 + 1000);
    expect(outside.ms).toBeLessThan(600 + 1000);

    const back = performance.now();
    fixture.proxy.forward();
    const ms = await recovered(pool, back);
    console.log(`latency: first query answered ${ms.toFixed(0)} ms after the latency was removed`);
    expect(ms).toBeLessThan(5000);
    await noStuckClients(pool);
  });

  it('a query the network makes a little slower than usual still answers', async () => {
    const { keel, pool } = setup();
    await pool.query('SELECT 1');
    fixture.proxy.latency(30);
    const outcome = await timed(() => keel.context.run(2000, () => pool.query('SELECT 1')));
    console.log(`latency 30 ms: answered after ${outcome.ms.toFixed(0)} ms (deadline 2000 ms)`);
    expect(outcome.code).toBe('ok');
    expect(pool.counters.clientTimeouts).toBe(0);
  });
});

describe('a healthy database', () => {
  it("at a request deadline PostgreSQL's own cancel wins: the connection is kept", async () => {
    const { keel, pool } = setup({}, false);
    await pool.query('SELECT 1');
    const [before] = await ourBackends();
    const outcome = await timed(() => keel.context.run(300, () => pool.query('SELECT pg_sleep(5)')));
    expect(outcome.code).toBe(KeelErrorCode.QueryDeadline);
    expect(pool.counters.deadlineCancels).toBe(1);
    expect(pool.counters.clientTimeouts).toBe(0);
    const after = await ourBackends();
    expect(after.map((b) => b.pid)).toEqual([before!.pid]);
  });

  it('past queryTimeoutMs the query is cancelled on the server by a cancel request, not left running', async () => {
    const { pool } = setup({ queryTimeoutMs: 300 }, false);
    const marker = `keel_cancel_${Date.now()}`;
    const outcome = await timed(() => pool.query(`SELECT pg_sleep(30) AS ${marker}`));
    expect(outcome.code).toBe(KeelErrorCode.QueryDeadline);
    // pg_sleep would run 30 s on a backend whose client just vanished; the cancel request ends it now.
    const started = performance.now();
    await vi.waitFor(
      async () => {
        const running = await sql(
          fixture.db,
          "SELECT pid FROM pg_stat_activity WHERE query LIKE $1 AND state = 'active'",
          [`%${marker}%`],
        );
        expect(running).toEqual([]);
      },
      { timeout: 5000, interval: 50 },
    );
    console.log(
      `queryTimeoutMs 300: failed after ${outcome.ms.toFixed(0)} ms, server-side query gone ${(performance.now() - started).toFixed(0)} ms later`,
    );
    expect(pool.counters.clientTimeouts).toBe(1);
  });

  it('queryTimeoutMs: false leaves a query without a client-side deadline', async () => {
    const { pool } = setup({ queryTimeoutMs: false }, false);
    await expect(pool.query('SELECT pg_sleep(0.3) AS slept')).resolves.toMatchObject({
      rows: [{ slept: '' }],
    });
    expect(pool.counters.clientTimeouts).toBe(0);
  });
});
