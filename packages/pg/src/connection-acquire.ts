import { KeelError, KeelErrorCode, type RequestContext, type TimerHandle } from '@keel/core';
import type { Tracked } from './client-state.js';
import { connectError, deadlineError } from './pool-errors.js';
import type { PoolHost } from './pool-host.js';
import type { QueryExecution } from './query-execution.js';

/**
 * A connection from the pool, waiting at most until the deadline of the
 * request `context` (read when the query was issued, never here) or
 * `limitMs`. Wait time since `started` goes to the histogram; a long wait
 * counts as saturation only when every connection was in use: opening a new
 * one (a pool not yet at its size) is not the pool being saturated. A
 * connection that comes after the caller gave up goes straight back.
 */
export function acquireConnection(
  pool: PoolHost,
  execution: QueryExecution,
  context: RequestContext | undefined,
  started: number,
  limitMs: number | undefined,
  deadline: boolean,
  done: (error: KeelError | null, client?: Tracked) => void,
): void {
  const clock = pool.keel.config.clock;
  const remaining =
    deadline && context?.deadline !== undefined ? Math.max(0, context.deadline - clock.now()) : undefined;
  const limit =
    remaining === undefined ? limitMs : limitMs === undefined ? remaining : Math.min(remaining, limitMs);
  if (limit !== undefined && limit <= 0) {
    pool.counters.deadlineCancels++;
    done(deadlineError(pool, 'the request deadline had passed before a connection was acquired'));
    return;
  }
  const inner = pool.inner;
  const full = inner.idleCount === 0 && inner.totalCount >= pool.max;
  let settled = false;
  let timer: TimerHandle | undefined;
  if (limit !== undefined) {
    timer = clock.setTimeout(() => {
      settled = true;
      pool.counters.acquireTimeouts++;
      done(
        remaining !== undefined && limit === remaining
          ? deadlineError(
              pool,
              `no connection became free before the request deadline (${Math.ceil(limit)} ms)`,
            )
          : new KeelError(
              KeelErrorCode.AcquireTimeout,
              `pool ${pool.name}: no connection became free within ${limit} ms (max ${pool.max}).`,
            ),
      );
    }, limit);
  }
  inner.connect((error, client, release) => {
    if (timer !== undefined) clock.clearTimeout(timer);
    if (settled) {
      // The caller gave up; the connection goes straight back.
      if (client) release();
      return;
    }
    settled = true;
    if (error || !client) {
      done(connectError(pool, error));
      return;
    }
    const waited = performance.now() - started;
    pool.counters.observeWait(waited);
    // Only while the optimiser captures: this request's wait for a connection.
    const profile = context?.profile;
    if (profile !== undefined) profile.acquireMs += waited;
    if (full && waited > pool.config.saturationMs) pool.counters.saturations++;
    done(null, execution.track(client as Tracked));
  });
}
