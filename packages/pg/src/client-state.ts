import type { PoolClient, QueryConfig, QueryResult } from 'pg';

/** Where Keel keeps its state on each pg client it has handed out. */
export const kState = Symbol('keel.pg.client');
/** The pool generation a connection was opened in (see `recycle()`); set on every client the pool opens. */
export const kGeneration = Symbol('keel.pg.generation');

/** What Keel keeps on each pg client it has handed out. One object per connection, reused by every query. */
export interface ClientState {
  /** The client's own `query`, before Keel instrumented it. */
  readonly rawQuery: RawQuery;
  /** Session `statement_timeout` Keel set on this connection, ms; `null` for the session default. */
  timeoutMs: number | null;
  /** Checked out through `pool.connect()` and not yet released. */
  checkedOut: boolean;
  acquiredAt: number;
  stack: Error | undefined;
  route: string | undefined;
  heldReported: boolean;
  /** Queries Keel is running on this connection now (more than one only if the app pipelines a checked-out client). */
  inFlight: number;
  /** Clock time by which the database must have answered them; `Infinity` with none in flight. */
  deadlineAt: number;
  /** The database did not answer by `deadlineAt`: cancelled and the connection closed. */
  expired: boolean;
  /** How long the last query took on this connection, from sending to its answer, ms (for the breaker). */
  lastMs: number;
}

/** pg's `client.query`, in the one form Keel calls it (promise, no callback). */
export type RawQuery = (
  this: PoolClient,
  query: string | QueryConfig,
  values?: unknown[],
) => Promise<QueryResult>;

/** The same function, called with a callback (no promise: cheaper on the query path). */
export type RawQueryCallback = (
  this: PoolClient,
  query: string | QueryConfig,
  values: unknown[] | undefined,
  callback: (error: Error | null | undefined, result: QueryResult) => void,
) => void;

export type Done<T> = (error: unknown, result?: T) => void;

/** A pg client as Keel sees it: pg's internals it reads are typed here, and nowhere else. */
export type Tracked = PoolClient & {
  [kState]?: ClientState;
  [kGeneration]?: number;
  _queryable?: boolean;
  _ending?: boolean;
  processID?: number | null;
  secretKey?: number | null;
  host?: string;
  port?: number;
  connection?: { stream?: { destroy(): void } };
};

export type QueryArg = string | QueryConfig;

export function newClientState(rawQuery: RawQuery): ClientState {
  return {
    rawQuery,
    timeoutMs: null,
    checkedOut: false,
    acquiredAt: 0,
    stack: undefined,
    route: undefined,
    heldReported: false,
    inFlight: 0,
    deadlineAt: Number.POSITIVE_INFINITY,
    expired: false,
    lastMs: 0,
  };
}

export function textOf(query: QueryArg): string {
  if (typeof query === 'string') return query;
  if (typeof query === 'object' && query !== null && typeof query.text === 'string') return query.text;
  throw new TypeError('query: expected SQL text or a { text, values } object.');
}

/** The transaction status pg read from the last ReadyForQuery (`I` idle, `T` in a transaction, `E` failed). */
export function transactionStatus(client: Tracked): string {
  return client.getTransactionStatus?.() ?? 'I';
}
