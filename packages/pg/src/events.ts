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

export type PgEvent = SlowQueryEvent | ClientHeldEvent | DirtyReleaseEvent;

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
