import { checkKnownKeys, DB_SIGNAL, invalidOptionOf, type Keel } from '@keel/core';
import type { Pool, PoolConfig } from 'pg';
import { describeEvent, type PgEvent } from './events.js';

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

/**
 * The pool's circuit breaker (core's `keel.breaker`). A query *fails* for it
 * when the database could not be reached (refused, reset, terminated,
 * connect timeout) or did not answer by the query's client-side deadline.
 * SQL errors, queries PostgreSQL cancelled at their `statement_timeout` (it
 * answered) and waits for a free connection are not failures.
 */
export interface PoolBreakerOptions {
  /** Names the breaker in `keel.breakers`, `/health` and its errors; unique per Keel. @default 'postgres' (or `postgres-<pool name>`) */
  name?: string;
  /** Open after this many failed queries in a row. @default 5 */
  consecutiveFailures?: number;
  /** Also open when at least this share of the queries in `windowMs` failed (from `minimumCalls` queries on). @default 0.5 */
  failureRatio?: number;
  /** Queries `windowMs` must hold before `failureRatio` is judged. @default 20 */
  minimumCalls?: number;
  /** The window `failureRatio` is counted over, ms. @default 10000 */
  windowMs?: number;
  /** How long it stays open before one query is let through as a probe, ms. @default 2000 */
  openForMs?: number;
  /** Probe queries that must succeed in a row to close it. @default 1 */
  probes?: number;
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
  /**
   * Client-side deadline of a query run outside a request deadline, ms (a
   * query inside one has the request's remaining time). When it passes and
   * the database has not answered, Keel sends PostgreSQL a cancel request,
   * closes the connection and fails the query with `KEEL_QUERY_DEADLINE`, so a
   * database that hangs can never hold the pool. `false` turns it off.
   * @default 30000
   */
  queryTimeoutMs?: number | false;
  /** The circuit breaker on the database; `false` turns it off. */
  breaker?: PoolBreakerOptions | false;
  /** An acquire that waits longer than this while every connection is in use counts as pool saturation, ms. @default 100 */
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
  readonly queryTimeoutMs: number | null;
  readonly breaker: Readonly<Required<PoolBreakerOptions>> | null;
  readonly saturationMs: number;
  readonly heldClientMs: number | null;
  readonly captureStacks: boolean;
  readonly healthCheck: Readonly<Required<HealthCheckOptions>> | null;
  readonly maxFingerprints: number;
  readonly onEvent: (event: PgEvent) => void;
}

const WHO = 'createPool';

function fail(path: string, rule: string, got: unknown): never {
  throw invalidOptionOf(WHO, path, rule, got);
}

const known = (...keys: string[]): ReadonlySet<string> => new Set(keys);
const POOL_KEYS = known(
  'pg',
  'name',
  'slowQuery',
  'deadlines',
  'queryTimeoutMs',
  'breaker',
  'saturationMs',
  'heldClientMs',
  'captureStacks',
  'healthCheck',
  'maxFingerprints',
  'onEvent',
);
const SLOW_QUERY_KEYS = known('thresholdMs', 'intervalMs', 'explain', 'keep');
const HEALTH_CHECK_KEYS = known('name', 'intervalMs', 'timeoutMs', 'critical');
const BREAKER_KEYS = known(
  'name',
  'consecutiveFailures',
  'failureRatio',
  'minimumCalls',
  'windowMs',
  'openForMs',
  'probes',
);

/** Rejects the first key of `options` not in `keys`, named with its path (`breaker.openFor`). */
function onlyKnown(prefix: string, options: object, keys: ReadonlySet<string>): void {
  checkKnownKeys(options, keys, (key, rule, got) => invalidOptionOf(WHO, `${prefix}${key}`, rule, got));
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

function section<T extends object>(path: string, value: unknown, keys: ReadonlySet<string>): T | null {
  if (value === false) return null;
  if (value === undefined || value === true) return {} as T;
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(path, 'must be an object or false', value);
  onlyKnown(`${path}.`, value, keys);
  return value as T;
}

function name(path: string, value: unknown, max: number): string {
  if (typeof value !== 'string' || !new RegExp(`^[\\w.-]{1,${max}}$`).test(value))
    fail(path, `must be 1-${max} letters, digits, "_", "." or "-"`, value);
  return value;
}

/** The `db_latency` budget's target when there is one: "slow" means "over the budget". */
function dbBudgetTarget(keel: Keel): number {
  const budget = keel.config.budgets.find((b) => b.signal === DB_SIGNAL && b.kind === 'latency');
  return budget ? budget.target : 100;
}

const defaultOnEvent = (event: PgEvent): void => {
  console.warn(`[keel/pg] ${describeEvent(event)}`);
};

function resolveBreaker(value: unknown, poolName: string): Readonly<Required<PoolBreakerOptions>> | null {
  const b = section<PoolBreakerOptions>('breaker', value, BREAKER_KEYS);
  if (!b) return null;
  const ratio = b.failureRatio ?? 0.5;
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1))
    fail('breaker.failureRatio', 'must be a number in (0, 1]', ratio);
  return Object.freeze({
    name: name('breaker.name', b.name ?? (poolName === 'main' ? 'postgres' : `postgres-${poolName}`), 64),
    consecutiveFailures: positiveInt('breaker.consecutiveFailures', b.consecutiveFailures, 5),
    failureRatio: ratio,
    minimumCalls: positiveInt('breaker.minimumCalls', b.minimumCalls, 20),
    windowMs: positiveInt('breaker.windowMs', b.windowMs, 10_000),
    openForMs: positiveInt('breaker.openForMs', b.openForMs, 2000),
    probes: positiveInt('breaker.probes', b.probes, 1),
  });
}

export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Pool).connect === 'function' &&
    typeof (value as Pool).totalCount === 'number'
  );
}

/** Pool names in use per Keel: two pools of one name would share metric series and checks. */
const poolNames = new WeakMap<Keel, Set<string>>();

function checkNamesFree(keel: Keel, poolName: string): void {
  if (poolNames.get(keel)?.has(poolName))
    fail(
      'name',
      `must be unique among this Keel's pools; "${poolName}" is taken: give each pool its own \`name\` (it labels its metrics, checks, breaker and events)`,
      poolName,
    );
}

/** Claims `poolName` on `keel` until the returned release is called (at the pool's `end()`). */
export function claimPoolName(keel: Keel, poolName: string): () => void {
  const names = poolNames.get(keel) ?? new Set<string>();
  poolNames.set(keel, names);
  names.add(poolName);
  return () => names.delete(poolName);
}

/** Validates the caller's options and copies them, with every default applied, into a frozen config. */
export function resolvePoolOptions(keel: Keel, options: KeelPoolOptions | undefined): PoolConfigResolved {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options)))
    fail('options', 'must be an object', options);
  const o = options ?? {};
  onlyKnown('', o, POOL_KEYS);
  const poolName = name('name', o.name ?? 'main', 48);
  const pgOption: unknown = o.pg;
  // A connection string here would be spread into a config of its characters, and the
  // pool would connect wherever the PG* variables point: refuse it and say where it goes.
  if (
    pgOption !== undefined &&
    (typeof pgOption !== 'object' || pgOption === null || Array.isArray(pgOption))
  )
    fail(
      'pg',
      'must be a pg.Pool or its config (a connection string goes in `pg: { connectionString }`)',
      pgOption,
    );
  // pg takes `max: 0` and every query then waits out connectionTimeoutMillis for a connection it never opens.
  if (pgOption !== undefined && !isPool(pgOption)) positiveInt('pg.max', (pgOption as PoolConfig).max, 10);
  checkNamesFree(keel, poolName);

  const slow = section<SlowQueryOptions>('slowQuery', o.slowQuery, SLOW_QUERY_KEYS);
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

  const check = section<HealthCheckOptions>('healthCheck', o.healthCheck, HEALTH_CHECK_KEYS);
  const healthCheck = check && {
    name: name(
      'healthCheck.name',
      check.name ?? (poolName === 'main' ? 'postgres' : `postgres-${poolName}`),
      64,
    ),
    intervalMs: positiveInt('healthCheck.intervalMs', check.intervalMs, 10_000),
    timeoutMs: positiveInt('healthCheck.timeoutMs', check.timeoutMs, 2000),
    critical: bool('healthCheck.critical', check.critical, true),
  };

  let heldClientMs: number | null = 10_000;
  if (o.heldClientMs === false) heldClientMs = null;
  else if (o.heldClientMs !== undefined) heldClientMs = positiveInt('heldClientMs', o.heldClientMs, 10_000);

  const queryTimeoutMs =
    o.queryTimeoutMs === false ? null : positiveInt('queryTimeoutMs', o.queryTimeoutMs, 30_000);

  if (o.onEvent !== undefined && typeof o.onEvent !== 'function')
    fail('onEvent', 'must be a function', o.onEvent);

  const breaker = resolveBreaker(o.breaker, poolName);
  // Checked here, before the pool registers anything on `keel`, so a refused pool leaves nothing behind.
  if (breaker && keel.breakers.some((b) => b.name === breaker.name))
    fail(
      'breaker.name',
      `must be unique on this Keel; "${breaker.name}" is taken (another pool's breaker?): give this pool its own \`name\` or set \`breaker.name\``,
      breaker.name,
    );
  if (healthCheck) {
    const registered = new Set(keel.health().dependencies.map((d) => d.name));
    for (const check of [healthCheck.name, `${healthCheck.name}-pool`])
      if (registered.has(check))
        fail(
          'healthCheck.name',
          `must name checks not registered yet; "${check}" is taken: give this pool its own \`name\` or set \`healthCheck.name\``,
          healthCheck.name,
        );
  }

  return Object.freeze({
    name: poolName,
    slowQuery: slowQuery && Object.freeze(slowQuery),
    deadlines: bool('deadlines', o.deadlines, true),
    queryTimeoutMs,
    breaker,
    saturationMs: positiveInt('saturationMs', o.saturationMs, 100),
    heldClientMs,
    captureStacks: bool('captureStacks', o.captureStacks, true),
    healthCheck: healthCheck && Object.freeze(healthCheck),
    maxFingerprints: positiveInt('maxFingerprints', o.maxFingerprints, 1000),
    onEvent: o.onEvent ?? defaultOnEvent,
  });
}
