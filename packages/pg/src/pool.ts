import type { CircuitBreaker, Keel, RequestContext } from '@keel/core';
import pg, { type Pool, type PoolClient, type PoolConfig, type QueryConfig, type QueryResult } from 'pg';
import { ClientGuards } from './client-guards.js';
import { kState, type QueryArg, type Tracked } from './client-state.js';
import { acquireConnection } from './connection-acquire.js';
import type { PoolRecycle, PoolResize, SlowQueryRecord } from './events.js';
import { poolOptimiseSource } from './optimise-source.js';
import {
  claimPoolName,
  isPool,
  type KeelPoolOptions,
  type PoolConfigResolved,
  resolvePoolOptions,
} from './options.js';
import { createPoolBreaker, judge, runThroughBreaker, underBreaker } from './pool-breaker.js';
import { PoolCounters, registerPoolMetrics } from './pool-metrics.js';
import { PoolSizing } from './pool-sizing.js';
import { QueryExecution } from './query-execution.js';
import { type Fingerprinted, type FingerprintStats, QueryRecording } from './query-recording.js';

export type { FingerprintStats } from './query-recording.js';

/** pg's default is to wait for a connection forever; a database that does not answer must fail queries instead. */
const DEFAULT_CONNECTION_TIMEOUT_MS = 5000;

/**
 * An instrumented node-postgres pool. `query()` and `connect()` behave like
 * pg's, and on the way every query is fingerprinted and recorded in Keel's DB
 * signal, held to its deadline (by PostgreSQL itself, and on the client when
 * the server does not answer), and logged when slow; a circuit breaker fails
 * queries fast while the database is down; clients are guarded against leaks
 * and dirty releases. Nothing here throws into the app except the query's own
 * outcome.
 *
 * This class wires the parts and holds the public API; the parts live beside
 * it: `connection-acquire.ts`, `query-execution.ts` (running a query),
 * `query-deadlines.ts` and `cancel-request.ts` (deadlines, cancellation),
 * `client-guards.ts` (release, dirty transactions, held clients),
 * `query-recording.ts` and `plan-capture.ts` (instrumentation),
 * `pool-breaker.ts` (circuit breaker), `pool-sizing.ts` (resize, recycle).
 */
export class KeelPool {
  readonly name: string;
  /** The wrapped node-postgres pool. Queries sent straight to it are not recorded (clients Keel handed out stay instrumented). */
  readonly inner: Pool;
  readonly keel: Keel;
  readonly config: PoolConfigResolved;
  readonly counters = new PoolCounters();
  /** The pool's circuit breaker (also listed in `keel.breakers`); `null` with `breaker: false`. */
  readonly breaker: CircuitBreaker | null;

  readonly #recording: QueryRecording;
  readonly #guards: ClientGuards;
  readonly #execution: QueryExecution;
  readonly #sizing: PoolSizing;
  readonly #cleanups: (() => void)[] = [];
  /** Connections this pool opened that have not closed yet (see `end()`); the deadline watch scans them. */
  readonly #open = new Set<unknown>();
  #allClosed: (() => void) | undefined;
  #ending: Promise<void> | undefined;
  /** Counter values at the last saturation check. */
  #checked = { saturations: 0, acquireTimeouts: 0 };

  constructor(keel: Keel, options?: KeelPoolOptions) {
    this.keel = keel;
    this.config = resolvePoolOptions(keel, options);
    this.name = this.config.name;
    this.#cleanups.push(claimPoolName(keel, this.name));
    // First of what registers on `keel`: a breaker name already taken throws before anything else is left behind.
    this.breaker = createPoolBreaker(this);
    // Deadlines, routes in the slow-query log and Server-Timing's db time all read the
    // request context, so contexts must propagate through the app's async calls.
    keel.context.use();
    const given = options?.pg;
    this.inner = isPool(given)
      ? given
      : new pg.Pool({ connectionTimeoutMillis: DEFAULT_CONNECTION_TIMEOUT_MS, ...(given as PoolConfig) });
    this.#sizing = new PoolSizing(this);
    this.#guards = new ClientGuards(this, (client) => this.#sizing.shouldRetire(client));
    this.#recording = new QueryRecording(this, {
      acquire: (limitMs) => this.#acquire(undefined, limitMs, false),
      giveBack: (client, broken) => this.#guards.handBack(client, client[kState]!, client.release, broken),
    });
    this.#execution = new QueryExecution(this, this.#recording, this.breaker, this.#open);

    // An idle client whose connection dies makes the pool emit `error`; without a
    // listener that event would crash the app. It stays after `end()`: idle clients
    // can still die while the pool is closing (the database shutting down with the app).
    this.inner.on('error', (error: Error) => {
      this.counters.connectionErrors++;
      this.keel.reportError(`pg.pool.${this.name}`, error);
    });
    // pg-pool's end() resolves once no client is *listed*, before their sockets
    // have closed; a database stopped right after (tests, the example's embedded
    // one) would then cut them. Keel's end() waits for each one's `remove`.
    this.inner.on('connect', (client: unknown) => {
      this.#open.add(client);
      this.#sizing.opened(client);
    });
    this.inner.on('remove', (client: unknown) => {
      this.#open.delete(client);
      if (this.#open.size === 0) this.#allClosed?.();
    });
    this.#cleanups.push(registerPoolMetrics(keel.registry, this));
    // The optimisation loop asks the pool for indexes and its size after each capture.
    const optimiser = keel.optimiser;
    if (optimiser) this.#cleanups.push(optimiser.addSource(poolOptimiseSource(this, this.#recording)));

    const check = this.config.healthCheck;
    if (check) {
      this.#cleanups.push(
        keel.addCheck({
          name: check.name,
          critical: check.critical,
          interval: check.intervalMs,
          // Core's own timeout is a backstop; ping() gives up first and frees what it held.
          timeout: check.timeoutMs + 1000,
          check: () => this.ping(check.timeoutMs),
        }),
        keel.addCheck({
          name: `${check.name}-pool`,
          critical: false,
          interval: check.intervalMs,
          check: () => this.#saturationCheck(),
        }),
      );
    }
    this.#cleanups.push(keel.onShutdown(() => this.end(), `pg-pool:${this.name}`));
  }

  get totalCount(): number {
    return this.inner.totalCount;
  }
  get idleCount(): number {
    return this.inner.idleCount;
  }
  get waitingCount(): number {
    return this.inner.waitingCount;
  }
  /** Most connections the pool opens (`max`); changed at run time by `resize()`. */
  get max(): number {
    return (this.inner as Pool & { options: { max: number } }).options.max;
  }
  /** Slow-query plans not captured: the queue was full or no connection was spare. */
  get explainsDropped(): number {
    return this.#recording.plans.dropped;
  }

  // ---- queries --------------------------------------------------------------

  /**
   * Runs one query on a pooled connection, like `pg.Pool#query`.
   *
   * The request context is read here, when the query is issued: inside
   * pg-pool's callbacks the async context is whichever request's I/O handed
   * the connection over (or the one that opened it), not this query's.
   * Written with callbacks inside one promise, as pg-pool's own `query` is:
   * an `async` chain here cost about three more promises per query, which
   * the benchmark saw as client CPU.
   */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    query: QueryArg,
    values?: unknown[],
  ): Promise<QueryResult<R>> {
    return new Promise<QueryResult<R>>((resolve, reject) => {
      const context = this.keel.context.current();
      const fp = this.#recording.fingerprint(query); // a bad argument throws here, which rejects
      const started = performance.now();
      const breaker = this.breaker;
      if (breaker !== null && breaker.state !== 'closed') {
        runThroughBreaker<QueryResult>(
          breaker,
          context,
          (done) =>
            this.#pooled(query, values, fp, context, started, null, (result) => done(null, result), done),
          (error, result) => (error === null ? resolve(result as QueryResult<R>) : reject(error)),
        );
        return;
      }
      this.#pooled(query, values, fp, context, started, breaker, resolve as (r: QueryResult) => void, reject);
    });
  }

  /**
   * Checks out a client, like `pg.Pool#connect`. Its `query` is instrumented
   * the same way; release it with `client.release()`. A client held past
   * `heldClientMs` is reported with where it was acquired; one released inside
   * a transaction is rolled back (or destroyed) and reported. While the
   * circuit is open it fails fast with `KEEL_CIRCUIT_OPEN`.
   */
  connect(): Promise<PoolClient> {
    const context = this.keel.context.current();
    const stack = this.config.captureStacks ? new Error('acquired here') : undefined;
    return new Promise<PoolClient>((resolve, reject) => {
      const started = performance.now();
      underBreaker<Tracked>(
        this.breaker,
        context,
        started,
        (done) =>
          acquireConnection(
            this,
            this.#execution,
            context,
            started,
            undefined,
            this.config.deadlines,
            (e, c) => (c === undefined ? done(e) : done(null, c)),
          ),
        (error, client) => {
          if (client === undefined) {
            reject(error);
            return;
          }
          this.#guards.checkedOut(client, client[kState]!, context, stack);
          resolve(client);
        },
      );
    });
  }

  /** Runs `SELECT 1` within `timeoutMs` (waiting for a connection included); rejects if the database is not usable. */
  async ping(timeoutMs = 2000): Promise<void> {
    const client = await this.#acquire(undefined, timeoutMs, false);
    const state = client[kState]!;
    try {
      await state.rawQuery.call(client, { text: 'SELECT 1', query_timeout: timeoutMs } as QueryConfig);
    } catch (error) {
      // A connection that did not answer in time is not trusted again.
      this.#guards.handBack(client, state, client.release, error instanceof Error ? error : true);
      throw error;
    }
    this.#guards.handBack(client, state, client.release);
  }

  /**
   * Sets the pool's size now. Growing opens a connection at once for each
   * caller waiting for one; shrinking closes idle connections at once and
   * never one in use (those close when released while the pool is over its
   * size). Resolves with what it did, also sent as a `pool-resized` event.
   */
  resize(max: number): Promise<PoolResize> {
    return this.#sizing.resize(max);
  }

  /**
   * Replaces every connection (after a failover, or to drop leaked session
   * state): idle ones are closed and reopened now, busy ones are closed when
   * released. Resolves with what it did, also sent as a `pool-recycled` event.
   */
  recycle(): Promise<PoolRecycle> {
    return this.#sizing.recycle();
  }

  /** Ends every connection and resolves once they have closed; the wrapped pool is ended too. Idempotent. */
  end(): Promise<void> {
    if (!this.#ending) {
      for (const cleanup of this.#cleanups.splice(0)) cleanup();
      this.#guards.end();
      this.#recording.plans.end();
      const ended = this.inner.ending ? Promise.resolve() : this.inner.end();
      // The deadline watch runs until the last connection closed: a query the database
      // never answers must still end, or end() would wait for it forever.
      this.#ending = ended
        .then(() =>
          this.#open.size === 0 ? undefined : new Promise<void>((resolve) => (this.#allClosed = resolve)),
        )
        .finally(() => this.#execution.deadlines.stop());
    }
    return this.#ending;
  }

  /** Query shapes seen, most time consumed first. */
  fingerprints(limit = 50): FingerprintStats[] {
    return this.#recording.fingerprints(limit);
  }

  /** Slow queries seen, one record per fingerprint, slowest first; plans included once captured. */
  slowQueries(): SlowQueryRecord[] {
    return this.#recording.slowQueries();
  }

  /** Resolves when every plan queued for capture has been captured (for tests and the advisor). */
  plansSettled(): Promise<void> {
    return this.#recording.plans.settled();
  }

  // ---- internals ------------------------------------------------------------

  /**
   * Acquires a connection, runs the query on it, gives it back, and tells
   * `breaker` (when given: the circuit was closed) how it went. Settles
   * through `resolve`/`reject` directly: no callback more than needed per query.
   */
  #pooled(
    query: QueryArg,
    values: unknown[] | undefined,
    fp: Fingerprinted,
    context: RequestContext | undefined,
    started: number,
    breaker: CircuitBreaker | null,
    resolve: (result: QueryResult) => void,
    reject: (error: unknown) => void,
  ): void {
    acquireConnection(
      this,
      this.#execution,
      context,
      started,
      undefined,
      this.config.deadlines,
      (error, client) => {
        if (client === undefined) {
          if (breaker !== null) judge(breaker, error, performance.now() - started);
          reject(error);
          return;
        }
        const state = client[kState]!;
        this.#execution.run(client, state, query, values, fp, context, (failure, result) => {
          this.#guards.handBack(client, state, client.release);
          if (breaker !== null) judge(breaker, failure, state.lastMs);
          if (failure === null) resolve(result!);
          else reject(failure);
        });
      },
    );
  }

  /** A connection as a promise, for the paths that are not per query. */
  #acquire(
    context: RequestContext | undefined,
    limitMs: number | undefined,
    deadline: boolean,
  ): Promise<Tracked> {
    return new Promise<Tracked>((resolve, reject) =>
      acquireConnection(
        this,
        this.#execution,
        context,
        performance.now(),
        limitMs,
        deadline,
        (error, client) => (client ? resolve(client) : reject(error)),
      ),
    );
  }

  #saturationCheck(): void {
    const { saturations, acquireTimeouts } = this.counters;
    const saturated = saturations - this.#checked.saturations;
    const timedOut = acquireTimeouts - this.#checked.acquireTimeouts;
    this.#checked = { saturations, acquireTimeouts };
    if (saturated + timedOut > 0) {
      throw new Error(
        `pool ${this.name} saturated: ${saturated} acquires waited over ${this.config.saturationMs} ms and ${timedOut} gave up since the last check (max ${this.max} connections)`,
      );
    }
  }
}

/**
 * Creates an instrumented pool on `keel`: from a pg config, or wrapping an
 * existing `pg.Pool` (`{ pg: pool }`). Registers its metrics, a `SELECT 1`
 * readiness check, a saturation check, its circuit breaker and a shutdown
 * cleanup. Invalid options throw a `KeelError` (`KEEL_INVALID_OPTION`).
 */
export function createPool(keel: Keel, options?: KeelPoolOptions): KeelPool {
  return new KeelPool(keel, options);
}
