import { DB_SIGNAL, invalidOptionOf, type Keel } from '@keel/core';
import type { Pool, PoolConfig } from 'pg';
import type { PgEvent } from './events.js';

export interface SlowQueryOptions {
  /** A query at least this slow is a slow query, ms. @default the `db_latency` budget target (100) */
  thresholdMs?: number;
  /** Each fingerprint is reported at most once per interval, ms; the others are counted. @default 60000 */
  intervalMs?: number;
  /**
   * Capture the plan (`EXPLAIN`, never `ANALYZE`: nothing runs) of a slow
   * query, off the request path, as a generic plan so no value shows in it.
   * The advisor uses it to suggest indexes. @default false
   */
  explain?: boolean;
  /** How many recent slow queries `pool.slowQueries()` keeps. @default 100 */
  keep?: number;
}

export interface HealthCheckOptions {
  /** Check name in `/readyz`, `/health` and metrics. @default 'postgres' (or `postgres-<pool name>`) */
  name?: string;
  /** How often `SELECT 1` runs, ms. @default 10000 */
  intervalMs?: number;
  /** `SELECT 1` (including waiting for a connection) must answer within this, ms. @default 2000 */
  timeoutMs?: number;
  /** A failing critical check turns `/readyz` to 503. @default true */
  critical?: boolean;
}

export interface KeelPoolOptions {
  /**
   * The node-postgres pool to wrap, or the config to create one with. A
   * config without `connectionTimeoutMillis` gets 5000 so a database that
   * does not answer fails queries instead of hanging them (pg's default is to wait forever).
   * @default new pg.Pool() — configured from the `PG*` environment variables
   */
  pg?: Pool | PoolConfig;
  /** Names the pool in metrics, checks and events. @default 'main' */
  name?: string;
  /** Slow-query log; `false` turns it off. */
  slowQuery?: SlowQueryOptions | false;
  /**
   * Inside a request context with a deadline, run each query with a
   * server-side `statement_timeout` equal to the time left, so PostgreSQL
   * itself cancels it. @default true
   */
  deadlines?: boolean;
  /** An acquire that waits longer than this counts as pool saturation, ms. @default 100 */
  saturationMs?: number;
  /** A client from `connect()` held longer than this is reported, ms; `false` turns it off. @default 10000 */
  heldClientMs?: number | false;
  /**
   * Record where each `connect()` happened (a stack trace), so a held or dirty
   * client can be traced to its code. Costs a few microseconds per `connect()`;
   * `query()` never pays it. @default true
   */
  captureStacks?: boolean;
  /** The `SELECT 1` dependency check; `false` registers none. */
  healthCheck?: HealthCheckOptions | false;
  /** Distinct query texts whose fingerprints are remembered. @default 1000 */
  maxFingerprints?: number;
  /**
   * Receives slow queries, held clients and dirty releases. Never throws into
   * the app: a throwing handler is reported to Keel.
   * @default one `console.warn` line per event
   */
  onEvent?: (event: PgEvent) => void;
}

export interface PoolConfigResolved {
  readonly name: string;
  readonly slowQuery: Readonly<Required<SlowQueryOptions>> | null;
  readonly deadlines: boolean;
  readonly saturationMs: number;
  readonly heldClientMs: number | null;
  readonly captureStacks: boolean;
  readonly healthCheck: Readonly<Required<HealthCheckOptions>> | null;
  readonly maxFingerprints: number;
  readonly onEvent: (event: PgEvent) => void;
}

function fail(path: string, rule: string, got: unknown): never {
  throw invalidOptionOf('createPool', path, rule, got);
}

function positiveInt(path: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || (value as number) <= 0) fail(path, 'must be a positive integer', value);
  return value as number;
}

function bool(path: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') fail(path, 'must be true or false', value);
  return value;
}

function section<T extends object>(path: string, value: unknown): T | null {
  if (value === false) return null;
  if (value === undefined || value === true) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(path, 'must be an object or false', value);
  return value as T;
}

/** The `db_latency` budget's target when there is one: "slow" means "over the budget". */
function dbBudgetTarget(keel: Keel): number {
  const budget = keel.config.budgets.find((b) => b.signal === DB_SIGNAL && b.kind === 'latency');
  return budget ? budget.target : 100;
}

const defaultOnEvent = (event: PgEvent): void => {
  console.warn(`[keel/pg] ${describeEvent(event)}`);
};

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
  }
}

export function resolvePoolOptions(keel: Keel, options: KeelPoolOptions | undefined): PoolConfigResolved {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    fail('options', 'must be an object', options);
  const o = options ?? {};
  const name = o.name ?? 'main';
  if (typeof name !== 'string' || !/^[\w.-]{1,48}$/.test(name))
    fail('name', 'must be 1-48 letters, digits, "_", "." or "-"', name);

  const slow = section<SlowQueryOptions>('slowQuery', o.slowQuery);
  const slowQuery = slow && {
    thresholdMs: (() => {
      const v = slow.thresholdMs;
      if (v === undefined) return dbBudgetTarget(keel);
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
        fail('slowQuery.thresholdMs', 'must be a number >= 0', v);
      return v;
    })(),
    intervalMs: positiveInt('slowQuery.intervalMs', slow.intervalMs, 60_000),
    explain: bool('slowQuery.explain', slow.explain, false),
    keep: positiveInt('slowQuery.keep', slow.keep, 100),
  };

  const check = section<HealthCheckOptions>('healthCheck', o.healthCheck);
  const healthCheck = check && {
    name: (() => {
      const v = check.name ?? (name === 'main' ? 'postgres' : `postgres-${name}`);
      if (typeof v !== 'string' || !/^[\w.-]{1,64}$/.test(v))
        fail('healthCheck.name', 'must be 1-64 letters, digits, "_", "." or "-"', v);
      return v;
    })(),
    intervalMs: positiveInt('healthCheck.intervalMs', check.intervalMs, 10_000),
    timeoutMs: positiveInt('healthCheck.timeoutMs', check.timeoutMs, 2000),
    critical: bool('healthCheck.critical', check.critical, true),
  };

  let heldClientMs: number | null = 10_000;
  if (o.heldClientMs === false) heldClientMs = null;
  else if (o.heldClientMs !== undefined) heldClientMs = positiveInt('heldClientMs', o.heldClientMs, 10_000);

  if (o.onEvent !== undefined && typeof o.onEvent !== 'function')
    fail('onEvent', 'must be a function', o.onEvent);

  return Object.freeze({
    name,
    slowQuery: slowQuery && Object.freeze(slowQuery),
    deadlines: bool('deadlines', o.deadlines, true),
    saturationMs: positiveInt('saturationMs', o.saturationMs, 100),
    heldClientMs,
    captureStacks: bool('captureStacks', o.captureStacks, true),
    healthCheck: healthCheck && Object.freeze(healthCheck),
    maxFingerprints: positiveInt('maxFingerprints', o.maxFingerprints, 1000),
    onEvent: o.onEvent ?? defaultOnEvent,
  });
}
