import { createKeel, KeelError, KeelErrorCode } from '@keel/core';
import { createMaintenance, createPool } from '@keel/pg';
import { describe, expect, it } from 'vitest';

// Unknown option keys fail at setup like everywhere in Keel: a KeelError
// KEEL_INVALID_OPTION whose message names the key with its path (a typo such
// as `openFor` for `openForMs` must not silently keep the default).

function thrown(fn: () => unknown): KeelError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    return error as KeelError;
  }
  throw new Error('expected a throw');
}

const keel = createKeel({ runtime: false });

describe('pool options', () => {
  it.each([
    [{ maxConnections: 5 }, 'maxConnections'],
    [{ slowQuery: { treshold: 5 } }, 'slowQuery.treshold'],
    [{ healthCheck: { interval: 5 } }, 'healthCheck.interval'],
    [{ breaker: { openFor: 1000 } }, 'breaker.openFor'],
  ])('rejects the unknown key in %j, naming %s', (options, path) => {
    const error = thrown(() => createPool(keel, { healthCheck: false, ...(options as object) }));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toContain(`\`${path}\``);
  });

  it.each([
    [{ queryTimeoutMs: 0 }, 'queryTimeoutMs'],
    [{ queryTimeoutMs: true }, 'queryTimeoutMs'],
    [{ breaker: 'on' }, 'breaker'],
    [{ breaker: { consecutiveFailures: 0 } }, 'breaker.consecutiveFailures'],
    [{ breaker: { failureRatio: 1.5 } }, 'breaker.failureRatio'],
    [{ breaker: { openForMs: -1 } }, 'breaker.openForMs'],
    [{ breaker: { name: 'a b' } }, 'breaker.name'],
  ])('rejects the bad value in %j, naming %s', (options, path) => {
    const error = thrown(() => createPool(keel, { healthCheck: false, ...(options as object) }));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toContain(`\`${path}\``);
  });

  it('applies the defaults in one frozen config', () => {
    const k = createKeel({ runtime: false });
    const pool = createPool(k, { healthCheck: false });
    expect(Object.isFrozen(pool.config)).toBe(true);
    expect(pool.config).toMatchObject({ queryTimeoutMs: 30_000, deadlines: true });
    expect(pool.config.breaker).toEqual({
      name: 'postgres',
      consecutiveFailures: 5,
      failureRatio: 0.5,
      minimumCalls: 20,
      windowMs: 10_000,
      openForMs: 2000,
      probes: 1,
    });
    expect(Object.isFrozen(pool.config.breaker)).toBe(true);
    void pool.end();
  });

  it('a second pool with the same breaker name on one Keel is refused, and leaves nothing registered', () => {
    const k = createKeel({ runtime: false });
    const first = createPool(k, { healthCheck: {} });
    const error = thrown(() => createPool(k, { name: 'second', breaker: { name: 'postgres' } }));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(k.health().dependencies.map((d) => d.name)).toEqual(['postgres', 'postgres-pool']);
    void first.end();
  });
});

describe('pool options a new user gets wrong', () => {
  // A connection string spread as a config connected wherever the PG* variables
  // pointed (or failed with "no PostgreSQL user name specified"), miles from the typo.
  it.each([
    ['postgres://app@db/orders', 'connectionString'],
    [5432, 'connectionString'],
  ])('refuses `pg: %j` and says the string goes in `pg: { connectionString }`', (pgOption, hint) => {
    const error = thrown(() => createPool(createKeel({ runtime: false }), { pg: pgOption as never }));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toContain('`pg`');
    expect(error.message).toContain(hint);
  });

  // pg takes max: 0, and then every query waited out connectionTimeoutMillis.
  it.each([0, -1, 2.5])('refuses `pg: { max: %j }`', (max) => {
    const error = thrown(() => createPool(createKeel({ runtime: false }), { pg: { max } }));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toContain('`pg.max`');
  });

  it('a second pool of the same name is refused by createPool, naming `name`, and leaves nothing registered', async () => {
    const k = createKeel({ runtime: false });
    const first = createPool(k, { breaker: false });
    const error = thrown(() => createPool(k, { breaker: false }));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toMatch(/^createPool: option `name` .*"main" is taken.*own `name`/);
    expect(k.health().dependencies.map((d) => d.name)).toEqual(['postgres', 'postgres-pool']);
    expect((await k.metrics()).match(/^db_client_connection_max\{.*$/gm)).toHaveLength(1);
    await first.end();
    // Once ended, its name is free again.
    await createPool(k, { breaker: false }).end();
  });

  it('a taken breaker name is refused by createPool, saying which option to change', () => {
    const k = createKeel({ runtime: false });
    const first = createPool(k, { healthCheck: false });
    const error = thrown(() => createPool(k, { name: 'replica', breaker: { name: 'postgres' } }));
    expect(error.message).toMatch(/^createPool: option `breaker.name` .*"postgres" is taken.*`breaker.name`/);
    void first.end();
  });

  it('a taken health check name is refused by createPool before anything is registered', async () => {
    const k = createKeel({ runtime: false });
    const first = createPool(k, { breaker: false });
    const error = thrown(() =>
      createPool(k, { name: 'replica', breaker: false, healthCheck: { name: 'postgres' } }),
    );
    expect(error.message).toMatch(/^createPool: option `healthCheck.name` .*"postgres" is taken/);
    expect((await k.metrics()).match(/^db_client_connection_max\{.*$/gm)).toHaveLength(1);
    await first.end();
  });
});

describe('maintenance options', () => {
  const pool = createPool(createKeel({ runtime: false }), { healthCheck: false });

  it.each([
    [{ lockTimeout: 5 }, 'lockTimeout'],
    [{ window: { start: '01:00', end: '02:00', tz: 'UTC' } }, 'window.tz'],
    [{ thresholds: { deadTuples: 5 } }, 'thresholds.deadTuples'],
    [{ onRun: 'log' }, 'onRun'],
    [{ thresholds: { deadTupleRatio: 20 } }, 'thresholds.deadTupleRatio'],
    [{ thresholds: { minDeadTuples: -1 } }, 'thresholds.minDeadTuples'],
  ])('rejects %j, naming %s', (options, path) => {
    const error = thrown(() => createMaintenance(pool, options as never));
    expect(error.code).toBe(KeelErrorCode.InvalidOption);
    expect(error.message).toContain(`\`${path}\``);
  });

  it('takes the known ones', () => {
    const runner = createMaintenance(pool, {
      window: { start: '01:00', end: '02:00', timeZone: 'UTC' },
      thresholds: { deadTupleRatio: 0.3 },
      lockTimeoutMs: 1000,
    });
    expect(runner.runs()).toEqual([]);
  });
});
