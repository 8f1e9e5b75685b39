import type { CircuitState } from '@keel/core';
import type { PlanSummary } from './explain.js';

interface EventBase {
  /** Pool name. */
  readonly pool: string;
  /** Route template of the request that ran it, when there was one. */
  readonly route: string | undefined;
  /** Clock time, ms since the epoch. */
  readonly at: number;
}

/** A query at or over the slow-query threshold. Its parameter values are never part of it. */
export interface SlowQueryEvent extends EventBase {
  readonly kind: 'slow-query';
  /** Normalised SQL: literals and parameters replaced by `?`. */
  readonly fingerprint: string;
  readonly operation: string;
  readonly durationMs: number;
  /** Rows returned or affected; `null` when the query failed. */
  readonly rows: number | null;
  /** Slow runs of this fingerprint since it was last reported (they were counted, not reported). */
  readonly suppressed: number;
}

/** A client from `pool.connect()` not released after `heldClientMs`. */
export interface ClientHeldEvent extends EventBase {
  readonly kind: 'client-held';
  readonly heldMs: number;
  /** Stack trace of the `connect()` call (with `captureStacks`). */
  readonly acquiredAt: string | undefined;
}

/** A client released inside a transaction: rolled back (or destroyed), never handed out dirty. */
export interface DirtyReleaseEvent extends EventBase {
  readonly kind: 'dirty-release';
  /** `T`: in an open transaction; `E`: in a failed one. */
  readonly transactionStatus: 'T' | 'E';
  readonly action: 'rolled back' | 'destroyed';
  readonly acquiredAt: string | undefined;
}

/** What `pool.resize(max)` did. */
export interface PoolResizedEvent extends EventBase, PoolResize {
  readonly kind: 'pool-resized';
}

/** What `pool.recycle()` did. */
export interface PoolRecycledEvent extends EventBase, PoolRecycle {
  readonly kind: 'pool-recycled';
}

/** The pool's circuit breaker changed state (see `breaker` in the pool options). */
export interface CircuitChangedEvent extends EventBase {
  readonly kind: 'circuit-changed';
  readonly state: CircuitState;
  /** Why (`tripped: 5 calls failed in a row`, `probe failed`); empty when it closed. */
  readonly reason: string;
}

export type PgEvent =
  | SlowQueryEvent
  | ClientHeldEvent
  | DirtyReleaseEvent
  | PoolResizedEvent
  | PoolRecycledEvent
  | CircuitChangedEvent;

/** The record `pool.resize(max)` resolves with: counts of what really happened. */
export interface PoolResize {
  /** `max` before and after. */
  readonly from: number;
  readonly to: number;
  /** Connections opened at once for callers that were waiting (growing). */
  readonly opened: number;
  /** Idle connections closed at once (shrinking). */
  readonly closed: number;
  /** Connections in use above the new size: each is closed when released instead of going back. */
  readonly retiring: number;
}

/** The record `pool.recycle()` resolves with. */
export interface PoolRecycle {
  /** Idle connections closed at once. */
  readonly closed: number;
  /** New connections opened to replace them. */
  readonly opened: number;
  /** Connections in use: each is closed when released, and the pool opens a new one when needed. */
  readonly replacing: number;
}

/** A slow query as `pool.slowQueries()` keeps it: the last report per fingerprint, with its plan once captured. */
export interface SlowQueryRecord {
  readonly fingerprint: string;
  readonly operation: string;
  /** Slow runs seen. */
  count: number;
  maxMs: number;
  lastMs: number;
  lastRows: number | null;
  lastAt: number;
  /** Routes it was seen on (at most 8). */
  readonly routes: string[];
  /** The generic plan (`slowQuery.explain`), values replaced by `$n`. */
  plan: PlanSummary | null;
}

/** One line for a person; no parameter value is ever part of an event. */
export function describeEvent(event: PgEvent): string {
  const where = event.route ? ` (route ${event.route})` : '';
  switch (event.kind) {
    case 'slow-query':
      return `slow query on pool ${event.pool}: ${event.durationMs.toFixed(1)} ms, ${event.rows ?? '?'} rows${where}: ${event.fingerprint}${event.suppressed ? ` (+${event.suppressed} more since last report)` : ''}`;
    case 'client-held':
      return `client of pool ${event.pool} held for ${Math.round(event.heldMs)} ms without release${where}${event.acquiredAt ? `; acquired at\n${event.acquiredAt}` : ''}`;
    case 'dirty-release':
      return `client of pool ${event.pool} released inside ${event.transactionStatus === 'E' ? 'an aborted' : 'an open'} transaction; ${event.action}${where}${event.acquiredAt ? `; acquired at\n${event.acquiredAt}` : ''}`;
    case 'pool-resized':
      return `pool ${event.pool} resized from ${event.from} to ${event.to}: ${event.opened} opened, ${event.closed} idle closed, ${event.retiring} in use to close when released`;
    case 'pool-recycled':
      return `pool ${event.pool} recycled: ${event.closed} idle closed, ${event.opened} opened, ${event.replacing} in use to replace when released`;
    case 'circuit-changed':
      return `circuit of pool ${event.pool} is ${event.state.replace('_', '-')}${event.reason ? `: ${event.reason}` : ''}`;
  }
}
