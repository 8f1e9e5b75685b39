import { KeelError, KeelErrorCode } from '@keel/core';
import type { ClientState, Tracked } from './client-state.js';
import type { PoolHost } from './pool-host.js';

/**
 * `KEEL_QUERY_DEADLINE` for a query the database did not answer by its
 * client-side deadline (cancelled, connection closed): the one deadline that
 * says the database, not the query, is in trouble, so the breaker counts it.
 */
export class NoAnswerError extends KeelError {}

/**
 * How a query's outcome counts for the circuit breaker:
 * - `answered`: a result, an SQL error, or PostgreSQL's own cancel at `statement_timeout`;
 * - `failed`: the database could not be reached or did not answer in time;
 * - `neutral`: neither (the pool was closed, no connection became free in
 *   time, or the deadline passed before the query was sent).
 */
export type Verdict = 'answered' | 'failed' | 'neutral';

export function verdictOf(error: unknown): Verdict {
  if (error === null || !(error instanceof KeelError)) return 'answered';
  if (error.code === KeelErrorCode.DatabaseUnavailable || error instanceof NoAnswerError) return 'failed';
  // A deadline with a cause is PostgreSQL's own cancel (SQLSTATE 57014): it answered.
  if (error.code === KeelErrorCode.QueryDeadline && error.cause !== undefined) return 'answered';
  return 'neutral';
}

export function deadlineError(pool: PoolHost, what: string): KeelError {
  return new KeelError(KeelErrorCode.QueryDeadline, `pool ${pool.name}: ${what}.`);
}

/** The typed error for a failed acquire (pg-pool's connect callback error). */
export function connectError(pool: PoolHost, error: Error | undefined): KeelError {
  const message = error?.message ?? 'no client';
  if (message.includes('timeout exceeded when trying to connect')) {
    pool.counters.acquireTimeouts++;
    return new KeelError(
      KeelErrorCode.AcquireTimeout,
      `pool ${pool.name}: no connection became free within connectionTimeoutMillis (max ${pool.max}).`,
      { cause: error },
    );
  }
  if (pool.inner.ending) {
    return new KeelError(KeelErrorCode.Closed, `pool ${pool.name} has been ended.`, { cause: error });
  }
  pool.counters.connectionErrors++;
  return new KeelError(
    KeelErrorCode.DatabaseUnavailable,
    `pool ${pool.name}: cannot connect to PostgreSQL: ${message}`,
    {
      cause: error,
    },
  );
}

/**
 * The error a failed query rejects with: typed when Keel knows what happened
 * (a deadline, a lost connection), the database's own error otherwise.
 */
export function queryError(
  pool: PoolHost,
  error: unknown,
  deadlineMs: number | undefined,
  label: string,
  client: Tracked,
  state: ClientState,
): unknown {
  const e = error as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message : String(error);
  if (state.expired) {
    return new NoAnswerError(
      KeelErrorCode.QueryDeadline,
      `pool ${pool.name}: PostgreSQL did not answer by the deadline; the query was cancelled and its connection closed: ${label}`,
      { cause: error },
    );
  }
  if (deadlineMs !== undefined && e?.code === '57014' && message.includes('statement timeout')) {
    pool.counters.deadlineCancels++;
    return new KeelError(
      KeelErrorCode.QueryDeadline,
      `pool ${pool.name}: PostgreSQL cancelled the query at the request deadline (statement_timeout ${deadlineMs} ms): ${label}`,
      { cause: error },
    );
  }
  const code = typeof e?.code === 'string' ? e.code : '';
  if (
    client._queryable === false ||
    code.startsWith('08') ||
    /^57P0[1-3]$/.test(code) ||
    message.startsWith('Connection terminated')
  ) {
    pool.counters.connectionErrors++;
    return new KeelError(
      KeelErrorCode.DatabaseUnavailable,
      `pool ${pool.name}: connection lost during the query: ${message}`,
      { cause: error },
    );
  }
  return error;
}
