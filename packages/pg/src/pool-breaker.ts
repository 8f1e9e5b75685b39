import type { CircuitBreaker, RequestContext } from '@keel/core';
import type { Done } from './client-state.js';
import { verdictOf } from './pool-errors.js';
import { emitEvent, type PoolHost } from './pool-host.js';

/**
 * The pool's circuit breaker, from core (`keel.breaker`), so it shows in
 * `keel.breakers` next to the app's own. Its state changes become
 * `circuit-changed` events. `null` with `breaker: false`.
 */
export function createPoolBreaker(pool: PoolHost): CircuitBreaker | null {
  const options = pool.config.breaker;
  if (options === null) return null;
  const breaker = pool.keel.breaker({
    name: options.name,
    consecutiveFailures: options.consecutiveFailures,
    failureRatio: options.failureRatio,
    minimumCalls: options.minimumCalls,
    window: options.windowMs,
    openFor: options.openForMs,
    probes: options.probes,
  });
  breaker.onChange((state, reason) =>
    emitEvent(pool, {
      kind: 'circuit-changed',
      pool: pool.name,
      route: undefined,
      at: pool.keel.config.clock.now(),
      state,
      reason,
    }),
  );
  return breaker;
}

/** Carries a probe's outcome through `breaker.run` when it was not an answer from the database. */
class ProbeFailed {
  constructor(readonly error: unknown) {}
}

/**
 * Runs a query while the circuit is not closed (the slow path; a closed
 * circuit is checked with one getter and recorded with `breaker.record`).
 * `breaker.run` lets one probe through at a time in half-open and rejects the
 * rest with `KEEL_CIRCUIT_OPEN`; a probe counts as a success only when the
 * database answered. A refused query marks its request `circuit_open`, so the
 * adapters record the 5xx the app answers with as Keel's refusal.
 */
export function runThroughBreaker<T>(
  breaker: CircuitBreaker,
  context: RequestContext | undefined,
  execute: (done: Done<T>) => void,
  done: Done<T>,
): void {
  breaker
    .run(
      () =>
        new Promise<{ error: unknown; result: T | undefined }>((resolve, reject) =>
          execute((error, result) =>
            verdictOf(error) === 'answered' ? resolve({ error, result }) : reject(new ProbeFailed(error)),
          ),
        ),
    )
    .then(
      ({ error, result }) => done(error, result),
      (error: unknown) => {
        if (error instanceof ProbeFailed) {
          done(error.error);
          return;
        }
        // Set on the context the query was issued in: the one read now may be another request's.
        if (context !== undefined) context.outcome = 'circuit_open';
        done(error);
      },
    );
}

/**
 * Tells a closed breaker how a query went, and how long the database took
 * (`ms`; waiting for a connection is not the database being slow). A query
 * admitted before the circuit opened is not counted once it has: only probes
 * speak then.
 */
export function judge(breaker: CircuitBreaker, error: unknown, ms: number): void {
  if (breaker.state !== 'closed') return;
  const verdict = verdictOf(error);
  if (verdict !== 'neutral') breaker.record(ms, verdict === 'answered');
}

/**
 * Runs `execute` under the pool's breaker, if any: judged when the circuit
 * is closed, through `runThroughBreaker` otherwise. For `connect()`; the
 * query paths inline the same steps to spare a callback per query.
 */
export function underBreaker<T>(
  breaker: CircuitBreaker | null,
  context: RequestContext | undefined,
  started: number,
  execute: (done: Done<T>) => void,
  settle: Done<T>,
): void {
  if (breaker === null) execute(settle);
  else if (breaker.state !== 'closed') runThroughBreaker(breaker, context, execute, settle);
  else
    execute((error, result) => {
      judge(breaker, error, performance.now() - started);
      settle(error, result);
    });
}
