import type { CircuitBreaker, Keel } from '@keel/core';
import type { Pool, PoolClient, QueryResult } from 'pg';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AdvisorReport,
  advise,
  createMaintenance,
  createPool,
  exitCode,
  type KeelPool,
  type KeelPoolOptions,
  type MaintenanceRunner,
  type PgEvent,
  type PoolRecycle,
  type PoolResize,
} from '../src/index.js';

describe('public types', () => {
  it('createPool takes a Keel and optional options, and returns a KeelPool', () => {
    expectTypeOf(createPool).parameter(0).toEqualTypeOf<Keel>();
    expectTypeOf(createPool).parameter(1).toEqualTypeOf<KeelPoolOptions | undefined>();
    expectTypeOf(createPool).returns.toEqualTypeOf<KeelPool>();
    expectTypeOf<{ pg: Pool }>().toMatchTypeOf<KeelPoolOptions>();
    expectTypeOf<{
      pg: { connectionString: string; max: number };
      slowQuery: false;
    }>().toMatchTypeOf<KeelPoolOptions>();
    // @ts-expect-error heldClientMs is a number or false
    const bad: KeelPoolOptions = { heldClientMs: true };
    void bad;
  });

  it('queries are typed like pg', () => {
    expectTypeOf<KeelPool['query']>().returns.toEqualTypeOf<Promise<QueryResult<Record<string, unknown>>>>();
    expectTypeOf<ReturnType<KeelPool['query']>>().resolves.toHaveProperty('rows');
    expectTypeOf<KeelPool['connect']>().returns.toEqualTypeOf<Promise<PoolClient>>();
  });

  it('events are a discriminated union', () => {
    expectTypeOf<PgEvent['kind']>().toEqualTypeOf<
      'slow-query' | 'client-held' | 'dirty-release' | 'pool-resized' | 'pool-recycled' | 'circuit-changed'
    >();
    const describe = (e: PgEvent) =>
      e.kind === 'slow-query'
        ? e.fingerprint
        : e.kind === 'client-held'
          ? e.heldMs
          : e.kind === 'dirty-release'
            ? e.action
            : e.kind === 'pool-resized'
              ? e.to
              : e.kind === 'pool-recycled'
                ? e.replacing
                : e.state;
    expectTypeOf(describe).returns.toEqualTypeOf<string | number>();
  });

  it('resize, recycle and the breaker keep the names the monitor calls', () => {
    expectTypeOf<KeelPool['resize']>().parameters.toEqualTypeOf<[number]>();
    expectTypeOf<KeelPool['resize']>().returns.toEqualTypeOf<Promise<PoolResize>>();
    expectTypeOf<KeelPool['recycle']>().returns.toEqualTypeOf<Promise<PoolRecycle>>();
    expectTypeOf<KeelPool['max']>().toEqualTypeOf<number>();
    expectTypeOf<KeelPool['waitingCount']>().toEqualTypeOf<number>();
    expectTypeOf<KeelPool['breaker']>().toEqualTypeOf<CircuitBreaker | null>();
    expectTypeOf<{ breaker: false; queryTimeoutMs: false }>().toMatchTypeOf<KeelPoolOptions>();
    expectTypeOf<{ breaker: { consecutiveFailures: 3; openForMs: 1000 } }>().toMatchTypeOf<KeelPoolOptions>();
  });

  it('the advisor and the maintenance runner', () => {
    expectTypeOf(advise).returns.toEqualTypeOf<Promise<AdvisorReport>>();
    expectTypeOf(exitCode).returns.toEqualTypeOf<0 | 1>();
    expectTypeOf(createMaintenance).returns.toEqualTypeOf<MaintenanceRunner>();
  });
});
