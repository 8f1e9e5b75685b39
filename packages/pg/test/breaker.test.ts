import { createKeel, KeelError, KeelErrorCode, type RequestContext } from '@keel/core';
import { createPool, type KeelPoolOptions, type PgEvent } from '@keel/pg';
import { describe, expect, it, vi } from 'vitest';
import { useProxiedDatabase } from './helpers/fixtures.js';

// Issue 14, item 3: @keel/pg on core's circuit breaker. Failures in a row open it; while
// open, queries fail fast (KEEL_CIRCUIT_OPEN) and mark their request circuit_open; a
// half-open probe closes it once the database answers.

const fixture = useProxiedDatabase('breaker');
const { open } = fixture;

async function setup(options: KeelPoolOptions = {}) {
  await fixture.proxy.start();
  const events: PgEvent[] = [];
  const keel = createKeel({ service: 'pg-breaker', runtime: false });
  const url = new URL(fixture.db.url);
  url.port = String(fixture.proxy.port);
  const pool = createPool(keel, {
    pg: { ...fixture.db.config, connectionString: url.toString(), max: 4, connectionTimeoutMillis: 1000 },
    healthCheck: false,
    breaker: { consecutiveFailures: 3, openForMs: 400 },
    onEvent: (e) => events.push(e),
    ...options,
  });
  open.push({ keel, pool });
  return { keel, pool, events };
}

async function code(promise: Promise<unknown>): Promise<string> {
  return promise.then(
    () => 'ok',
    (e: unknown) => (e instanceof KeelError ? e.code : String(e)),
  );
}

const circuitEvents = (events: PgEvent[]) =>
  events.flatMap((e) => (e.kind === 'circuit-changed' ? [e.state] : []));

describe("the pool's circuit breaker", () => {
  it("is core's: listed in keel.breakers under the pool's name; `breaker: false` makes none", async () => {
    const { keel, pool } = await setup();
    expect(keel.breakers.map((b) => b.name)).toEqual(['postgres']);
    expect(pool.breaker).toBe(keel.breakers[0]);
    expect(pool.breaker!.config).toMatchObject({ consecutiveFailures: 3, openFor: 400, failureRatio: 0.5 });

    const other = createKeel({ runtime: false });
    const named = createPool(other, { name: 'reports', pg: fixture.db.config, healthCheck: false });
    const none = createPool(other, {
      name: 'batch',
      pg: fixture.db.config,
      healthCheck: false,
      breaker: false,
    });
    expect(other.breakers.map((b) => b.name)).toEqual(['postgres-reports']);
    expect(none.breaker).toBeNull();
    open.push({ keel: other, pool: named }, { keel: other, pool: none });
  });

  it('database refused: opens after failures in a row, fails fast and typed, marks the request, closes on a probe', async () => {
    const { keel, pool, events } = await setup();
    await pool.query('SELECT 1');
    const held = await pool.connect();
    await fixture.proxy.stop();
    const first = [];
    for (let i = 0; i < 3; i++) first.push(await code(pool.query('SELECT 1')));
    expect(first).toEqual(Array(3).fill(KeelErrorCode.DatabaseUnavailable));
    expect(pool.breaker!.state).toBe('open');
    const attempts = pool.counters.connectionErrors;

    let context: RequestContext | undefined;
    const started = performance.now();
    const refused = await code(
      keel.context.run(5000, () => {
        context = keel.context.current();
        return pool.query('SELECT 1');
      }),
    );
    const ms = performance.now() - started;
    expect(refused).toBe(KeelErrorCode.CircuitOpen);
    expect(context!.outcome).toBe('circuit_open');
    expect(await code(pool.connect())).toBe(KeelErrorCode.CircuitOpen);
    expect(await code(held.query('SELECT 1'))).toBe(KeelErrorCode.CircuitOpen); // a checked-out client too
    held.release();
    // Failing fast means not trying: no new connection attempt while open.
    expect(pool.counters.connectionErrors).toBe(attempts);
    expect(pool.breaker!.stats().rejected).toBe(3);

    const back = performance.now();
    await fixture.proxy.start();
    await vi.waitFor(() => expect(pool.breaker!.state).toBe('half_open'), { timeout: 5000 });
    expect(await code(pool.query('SELECT 1'))).toBe('ok'); // the probe
    expect(pool.breaker!.state).toBe('closed');
    console.log(
      `refused: open after 3 failures; a query failed fast in ${ms.toFixed(1)} ms; closed ${(performance.now() - back).toFixed(0)} ms after the database came back (openForMs 400)`,
    );
    expect(circuitEvents(events)).toEqual(['open', 'half_open', 'closed']);
    expect(pool.waitingCount).toBe(0);
    expect(pool.idleCount).toBe(pool.totalCount);
  });

  it('database hung: deadlines that get no answer open it, and it closes once the database answers again', async () => {
    const { keel, pool } = await setup({ queryTimeoutMs: 300 });
    await Promise.all(Array.from({ length: 4 }, () => pool.query('SELECT pg_sleep(0.02)')));
    fixture.proxy.hang();
    const inFlight = await Promise.all(
      Array.from({ length: 4 }, () => code(keel.context.run(200, () => pool.query('SELECT 1')))),
    );
    expect(inFlight).toEqual(Array(4).fill(KeelErrorCode.QueryDeadline));
    expect(pool.breaker!.state).toBe('open');
    expect(pool.breaker!.stats().reason).toMatch(/in a row/);
    const started = performance.now();
    expect(await code(keel.context.run(200, () => pool.query('SELECT 1')))).toBe(KeelErrorCode.CircuitOpen);
    const fastMs = performance.now() - started;

    // Still hung when it turns half-open: the probe gets no answer either, and it opens again.
    await vi.waitFor(() => expect(pool.breaker!.state).toBe('half_open'), { timeout: 5000 });
    expect(await code(keel.context.run(200, () => pool.query('SELECT 1')))).toBe(KeelErrorCode.QueryDeadline);
    expect(pool.breaker!.state).toBe('open');

    const back = performance.now();
    fixture.proxy.forward();
    await vi.waitFor(
      async () => {
        expect(await code(pool.query('SELECT 1'))).toBe('ok');
        expect(pool.breaker!.state).toBe('closed');
      },
      { timeout: 10_000, interval: 100 },
    );
    console.log(
      `hung: open after 3 unanswered deadlines in a row; fail-fast ${fastMs.toFixed(1)} ms; closed ${(performance.now() - back).toFixed(0)} ms after the database came back`,
    );
    await vi.waitFor(() => {
      expect(pool.waitingCount).toBe(0);
      expect(pool.idleCount).toBe(pool.totalCount);
    });
  });

  it('half-open lets one probe through at a time; the others fail fast', async () => {
    const { pool } = await setup();
    await fixture.proxy.stop();
    for (let i = 0; i < 3; i++) await code(pool.query('SELECT 1'));
    await fixture.proxy.start();
    await vi.waitFor(() => expect(pool.breaker!.state).toBe('half_open'), { timeout: 5000 });
    const outcomes = await Promise.all([
      code(pool.query('SELECT pg_sleep(0.1)')),
      code(pool.query('SELECT 1')),
      code(pool.query('SELECT 1')),
    ]);
    expect(outcomes).toEqual(['ok', KeelErrorCode.CircuitOpen, KeelErrorCode.CircuitOpen]);
    expect(pool.breaker!.state).toBe('closed');
  });

  it('SQL errors and queries PostgreSQL cancels at a deadline do not open it: the database answered', async () => {
    const { keel, pool } = await setup();
    for (let i = 0; i < 6; i++) {
      expect(await code(pool.query('SELECT 1/0'))).toMatch(/division by zero/);
      expect(await code(keel.context.run(100, () => pool.query('SELECT pg_sleep(1)')))).toBe(
        KeelErrorCode.QueryDeadline,
      );
    }
    expect(pool.breaker!.stats()).toMatchObject({ state: 'closed', failures: 0, calls: 12 });
  });
});
