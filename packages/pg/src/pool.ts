import { type Keel, KeelError, KeelErrorCode, type RequestContext, type TimerHandle } from '@keel/core';
import pg, { type Pool, type PoolClient, type PoolConfig, type QueryConfig, type QueryResult } from 'pg';
import type { PgEvent, SlowQueryRecord } from './events.js';
import { explainGeneric, isExplainable } from './explain.js';
import { type CachedFingerprint, FingerprintCache } from './fingerprint.js';
import { type KeelPoolOptions, type PoolConfigResolved, resolvePoolOptions } from './options.js';
import { PoolCounters, registerPoolMetrics } from './pool-metrics.js';

/** pg's default is to wait for a connection forever; a database that does not answer must fail queries instead. */
const DEFAULT_CONNECTION_TIMEOUT_MS = 5000;
/** Plans waiting to be captured; more are dropped (and counted) rather than queued without bound. */
const MAX_EXPLAIN_QUEUE = 16;

const kState = Symbol('keel.pg.client');

/** What Keel keeps on each pg client it has handed out. */
interface ClientState {
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
}

/** pg's `client.query`, in the one form Keel calls it (promise, no callback). */
type RawQuery = (this: PoolClient, query: string | QueryConfig, values?: unknown[]) => Promise<QueryResult>;

/** The same function, called with a callback (no promise: cheaper on the query path). */
type RawQueryCallback = (
  this: PoolClient,
  query: string | QueryConfig,
  values: unknown[] | undefined,
  callback: (error: Error | null | undefined, result: QueryResult) => void,
) => void;

type Done<T> = (error: unknown, result?: T) => void;

type Tracked = PoolClient & { [kState]?: ClientState; _queryable?: boolean; _ending?: boolean };

/** Per-fingerprint totals the pool keeps on its cached fingerprints (no extra lookup per query). */
interface Fingerprinted extends CachedFingerprint {
  calls: number;
  errors: number;
  totalMs: number;
}

export interface FingerprintStats {
  readonly fingerprint: string;
  readonly operation: string;
  readonly calls: number;
  readonly errors: number;
  readonly totalMs: number;
  readonly meanMs: number;
}

interface SlowEntry extends SlowQueryRecord {
  reportedAt: number;
  suppressed: number;
  planAt: number;
}

type QueryArg = string | QueryConfig;

/**
 * An instrumented node-postgres pool. `query()` and `connect()` behave like
 * pg's, and on the way every query is fingerprinted and recorded in Keel's DB
 * signal, held to the request's deadline by PostgreSQL itself, and logged when
 * slow; clients are guarded against leaks and dirty releases. Nothing here
 * throws into the app except the query's own outcome.
 */
export class KeelPool {
  readonly name: string;
  /** The wrapped node-postgres pool. Queries sent straight to it are not recorded (clients Keel handed out stay instrumented). */
  readonly inner: Pool;
  readonly keel: Keel;
  readonly config: PoolConfigResolved;
  readonly counters = new PoolCounters();

  readonly #fingerprints: FingerprintCache<Fingerprinted>;
  readonly #held = new Set<Tracked>();
  readonly #slow = new Map<string, SlowEntry>();
  readonly #explainQueue: { entry: SlowEntry; sql: string }[] = [];
  readonly #cleanups: (() => void)[] = [];
  #explaining = false;
  #heldTimer: TimerHandle | undefined;
  #saturatedSinceCheck = 0;
  #timeoutsSinceCheck = 0;
  #ending: Promise<void> | undefined;
  /** Connections this pool opened that have not closed yet (see `end()`). */
  readonly #open = new Set<unknown>();
  #allClosed: (() => void) | undefined;
  explainsDropped = 0;

  constructor(keel: Keel, options?: KeelPoolOptions) {
    this.keel = keel;
    this.config = resolvePoolOptions(keel, options);
    this.name = this.config.name;
    // Deadlines, routes in the slow-query log and Server-Timing's db time all read the
    // request context, so contexts must propagate through the app's async calls.
    keel.context.use();
    const given = options?.pg;
    this.inner = isPool(given)
      ? given
      : new pg.Pool({ connectionTimeoutMillis: DEFAULT_CONNECTION_TIMEOUT_MS, ...(given as PoolConfig) });
    this.#fingerprints = new FingerprintCache(
      this.config.maxFingerprints,
      keel.db.definition.maxLabelLength,
      (fp) => ({ ...fp, calls: 0, errors: 0, totalMs: 0 }),
    );

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
    this.inner.on('connect', (client: unknown) => this.#open.add(client));
    this.inner.on('remove', (client: unknown) => {
      this.#open.delete(client);
      if (this.#open.size === 0) this.#allClosed?.();
    });
    this.#cleanups.push(registerPoolMetrics(keel.registry, this));

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
  /** Most connections the pool opens (`max`). */
  get max(): number {
    return (this.inner as Pool & { options: { max: number } }).options.max;
  }

  // ---- queries --------------------------------------------------------------

  /**
   * Runs one query on a pooled connection, like `pg.Pool#query`.
   *
   * Written with callbacks inside one promise, as pg-pool's own `query` is:
   * an `async` chain here cost about three more promises per query, which
   * the benchmark saw as client CPU.
   */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    query: QueryArg,
    values?: unknown[],
  ): Promise<QueryResult<R>> {
    return new Promise<QueryResult<R>>((resolve, reject) => {
      const fp = this.#fingerprints.get(textOf(query)); // a bad argument throws here, which rejects
      this.#acquireThen(undefined, this.config.deadlines, (error, client) => {
        if (client === undefined) {
          reject(error);
          return;
        }
        const state = client[kState]!;
        this.#run(client, state, query, values, fp, (failure, result) => {
          this.#releaseAfterQuery(client, state);
          if (failure === null) resolve(result as QueryResult<R>);
          else reject(failure);
        });
      });
    });
  }

  /**
   * Checks out a client, like `pg.Pool#connect`. Its `query` is instrumented
   * the same way; release it with `client.release()`. A client held past
   * `heldClientMs` is reported with where it was acquired; one released inside
   * a transaction is rolled back (or destroyed) and reported.
   */
  async connect(): Promise<PoolClient> {
    const stack = this.config.captureStacks ? new Error('acquired here') : undefined;
    const client = await this.#acquire();
    const state = client[kState]!;
    state.checkedOut = true;
    state.acquiredAt = this.keel.config.clock.now();
    state.stack = stack;
    state.route = this.keel.context.current()?.route;
    state.heldReported = false;
    const poolRelease = client.release;
    client.release = (error?: Error | boolean) => this.#release(client, state, poolRelease, error);
    if (this.config.heldClientMs !== null) {
      this.#held.add(client);
      this.#scheduleHeldScan();
    }
    return client;
  }

  /** Runs `SELECT 1` within `timeoutMs` (waiting for a connection included); rejects if the database is not usable. */
  async ping(timeoutMs = 2000): Promise<void> {
    const client = await this.#acquire(timeoutMs, false);
    const state = client[kState]!;
    try {
      await state.rawQuery.call(client, { text: 'SELECT 1', query_timeout: timeoutMs } as QueryConfig);
    } catch (error) {
      // A connection that did not answer in time is not trusted again.
      client.release(error instanceof Error ? error : true);
      throw error;
    }
    client.release();
  }

  /** Ends every connection and resolves once they have closed; the wrapped pool is ended too. Idempotent. */
  end(): Promise<void> {
    if (!this.#ending) {
      for (const cleanup of this.#cleanups.splice(0)) cleanup();
      if (this.#heldTimer !== undefined) this.keel.config.clock.clearTimeout(this.#heldTimer);
      this.#heldTimer = undefined;
      const ended = this.inner.ending ? Promise.resolve() : this.inner.end();
      this.#ending = ended.then(() =>
        this.#open.size === 0 ? undefined : new Promise<void>((resolve) => (this.#allClosed = resolve)),
      );
    }
    return this.#ending;
  }

  /** Query shapes seen, most time consumed first. */
  fingerprints(limit = 50): FingerprintStats[] {
    return [...this.#fingerprints.shapes()]
      .filter((f) => f.calls > 0)
      .sort((a, b) => b.totalMs - a.totalMs)
      .slice(0, limit)
      .map((f) => ({
        fingerprint: f.text,
        operation: f.operation,
        calls: f.calls,
        errors: f.errors,
        totalMs: f.totalMs,
        meanMs: f.totalMs / f.calls,
      }));
  }

  /** Slow queries seen, one record per fingerprint, slowest first; plans included once captured. */
  slowQueries(): SlowQueryRecord[] {
    return [...this.#slow.values()]
      .sort((a, b) => b.maxMs - a.maxMs)
      .map(({ reportedAt: _r, suppressed: _s, planAt: _p, ...record }) => ({
        ...record,
        routes: [...record.routes],
      }));
  }

  /** Resolves when every plan queued for capture has been captured (for tests and the advisor). */
  async plansSettled(): Promise<void> {
    while (this.#explaining || this.#explainQueue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  // ---- internals ------------------------------------------------------------

  /** `#acquireThen` as a promise, for the paths that are not per query. */
  #acquire(limitMs?: number, deadline = this.config.deadlines): Promise<Tracked> {
    return new Promise<Tracked>((resolve, reject) =>
      this.#acquireThen(limitMs, deadline, (error, client) => (client ? resolve(client) : reject(error))),
    );
  }

  /**
   * A connection from the pool, waiting at most until the request's deadline
   * (or `limitMs`). Wait time goes to the histogram; long waits count as saturation.
   */
  #acquireThen(
    limitMs: number | undefined,
    deadline: boolean,
    done: (error: KeelError | null, client?: Tracked) => void,
  ): void {
    const started = performance.now();
    const clock = this.keel.config.clock;
    const remaining = deadline ? this.keel.context.remainingMs() : undefined;
    const limit =
      remaining === undefined ? limitMs : limitMs === undefined ? remaining : Math.min(remaining, limitMs);
    if (limit !== undefined && limit <= 0) {
      this.counters.deadlineCancels++;
      done(this.#deadlineError('the request deadline had passed before a connection was acquired'));
      return;
    }
    let settled = false;
    let timer: TimerHandle | undefined;
    if (limit !== undefined) {
      timer = clock.setTimeout(() => {
        settled = true;
        this.counters.acquireTimeouts++;
        this.#timeoutsSinceCheck++;
        done(
          remaining !== undefined && limit === remaining
            ? this.#deadlineError(
                `no connection became free before the request deadline (${Math.ceil(limit)} ms)`,
              )
            : new KeelError(
                KeelErrorCode.AcquireTimeout,
                `pool ${this.name}: no connection became free within ${limit} ms (max ${this.max}).`,
              ),
        );
      }, limit);
    }
    this.inner.connect((error, client, release) => {
      if (timer !== undefined) clock.clearTimeout(timer);
      if (settled) {
        // The caller gave up; the connection goes straight back.
        if (client) release();
        return;
      }
      settled = true;
      if (error || !client) {
        done(this.#connectError(error));
        return;
      }
      const waited = performance.now() - started;
      this.counters.observeWait(waited);
      if (waited > this.config.saturationMs) {
        this.counters.saturations++;
        this.#saturatedSinceCheck++;
      }
      done(null, this.#track(client as Tracked));
    });
  }

  #track(client: Tracked): Tracked {
    if (client[kState] !== undefined) return client;
    const rawQuery = client.query as unknown as RawQuery;
    const state: ClientState = {
      rawQuery,
      timeoutMs: null,
      checkedOut: false,
      acquiredAt: 0,
      stack: undefined,
      route: undefined,
      heldReported: false,
    };
    client[kState] = state;
    // A checked-out client whose connection dies emits `error`; pg-pool listens
    // only while it is idle, so without this the app would crash.
    client.on('error', (error: Error) => this.keel.reportError(`pg.client.${this.name}`, error));
    // Queries on a client from `connect()` are instrumented like `pool.query()`;
    // callbacks and submittables (cursors, streams) pass through untouched.
    const instrumented = (query: unknown, values?: unknown, callback?: unknown) => {
      if (
        typeof values === 'function' ||
        typeof callback === 'function' ||
        (typeof query === 'object' &&
          query !== null &&
          typeof (query as { submit?: unknown }).submit === 'function')
      ) {
        return (rawQuery as unknown as (...args: unknown[]) => unknown).call(client, query, values, callback);
      }
      return new Promise<QueryResult>((resolve, reject) => {
        const fp = this.#fingerprints.get(textOf(query as QueryArg));
        this.#run(client, state, query as QueryArg, values as unknown[] | undefined, fp, (error, result) =>
          error === null ? resolve(result!) : reject(error),
        );
      });
    };
    client.query = instrumented as PoolClient['query'];
    return client;
  }

  /** Applies the deadline (or clears a previous one), then sends the query. */
  #run(
    client: Tracked,
    state: ClientState,
    query: QueryArg,
    values: unknown[] | undefined,
    fp: Fingerprinted,
    done: Done<QueryResult>,
  ): void {
    const context = this.keel.context.current();
    let deadlineMs: number | undefined;
    if (this.config.deadlines && context?.deadline !== undefined) {
      const remaining = context.deadline - this.keel.config.clock.now();
      if (remaining <= 0) {
        this.counters.deadlineCancels++;
        done(this.#deadlineError(`the request deadline had passed; not sent: ${fp.label}`));
        return;
      }
      deadlineMs = Math.ceil(remaining);
    } else if (state.timeoutMs === null) {
      this.#send(client, state, query, values, fp, context, undefined, done);
      return;
    }
    this.#setTimeout(client, state, deadlineMs ?? null, (error) => {
      if (error === null) this.#send(client, state, query, values, fp, context, deadlineMs, done);
      else done(this.#queryError(error, undefined, fp, client));
    });
  }

  #send(
    client: Tracked,
    state: ClientState,
    query: QueryArg,
    values: unknown[] | undefined,
    fp: Fingerprinted,
    context: RequestContext | undefined,
    deadlineMs: number | undefined,
    done: Done<QueryResult>,
  ): void {
    const started = performance.now();
    (state.rawQuery as unknown as RawQueryCallback).call(client, query, values, (error, result) => {
      const failed = error != null;
      try {
        const ms = performance.now() - started;
        fp.calls++;
        fp.totalMs += ms;
        this.keel.recordQuery(fp.operation, fp.label, ms, !failed);
        if (context !== undefined) {
          context.dbMs += ms;
          context.dbCalls++;
        }
        const slow = this.config.slowQuery;
        if (slow !== null && ms >= slow.thresholdMs)
          this.#slowQuery(fp, ms, failed ? null : rowsOf(result), context, textOf(query));
      } catch (internal) {
        // Runs inside pg's callback: a throw here would land in pg, not in the app.
        this.keel.reportError('pg.record', internal);
      }
      if (failed) {
        fp.errors++;
        done(this.#queryError(error, deadlineMs, fp, client));
      } else done(null, result);
    });
  }

  /**
   * Sets the connection's `statement_timeout` to `ms` (`null`: back to the
   * session default). Outside a transaction the setting is per session and
   * remembered, so consecutive queries with the same value pay no round trip;
   * inside one it is `SET LOCAL`, which the transaction's end undoes by itself
   * (and a session `SET` there would be undone by a rollback behind our back).
   */
  #setTimeout(client: Tracked, state: ClientState, ms: number | null, done: (error: unknown) => void): void {
    const status = client.getTransactionStatus?.() ?? 'I';
    if (status === 'E') {
      done(null); // the statement fails anyway: the transaction is aborted
      return;
    }
    let sql: string;
    const session = status !== 'T';
    if (!session) {
      sql = ms === null ? 'SET LOCAL statement_timeout TO DEFAULT' : `SET LOCAL statement_timeout = ${ms}`;
    } else {
      if (state.timeoutMs === ms) {
        done(null);
        return;
      }
      sql = ms === null ? 'RESET statement_timeout' : `SET statement_timeout = ${ms}`;
    }
    (state.rawQuery as unknown as RawQueryCallback).call(client, sql, undefined, (error) => {
      if (error == null && session) state.timeoutMs = ms;
      done(error ?? null);
    });
  }

  #releaseAfterQuery(client: Tracked, state: ClientState): void {
    // pg-pool's `release` is an arrow function: it needs no binding.
    this.#handBack(client, state, client.release);
  }

  #release(
    client: Tracked,
    state: ClientState,
    poolRelease: (error?: Error | boolean) => void,
    error?: Error | boolean,
  ): void {
    if (!state.checkedOut) {
      // Same contract as pg: a double release is a bug in the caller.
      throw new Error('Release called on client which has already been released to the pool.');
    }
    state.checkedOut = false;
    this.#held.delete(client);
    this.#handBack(client, state, poolRelease, error);
  }

  /**
   * Returns a client to the pool: a broken one is destroyed, and one left
   * inside a transaction (`pool.query('BEGIN')` is a classic bug) is rolled
   * back first, so the next caller never gets it dirty.
   */
  #handBack(
    client: Tracked,
    state: ClientState,
    poolRelease: (error?: Error | boolean) => void,
    error?: Error | boolean,
  ): void {
    if (error || client._queryable === false || client._ending) {
      poolRelease(error || true);
      return;
    }
    const status = client.getTransactionStatus?.() ?? 'I';
    if (status === 'T' || status === 'E') this.#dirty(client, state, status, poolRelease);
    else poolRelease();
  }

  /** Rolls back a client released inside a transaction; destroys it if that fails. Never hands it out dirty. */
  #dirty(
    client: Tracked,
    state: ClientState,
    status: 'T' | 'E',
    poolRelease: (error?: Error | boolean) => void,
  ): void {
    this.counters.dirtyReleases++;
    const report = (action: 'rolled back' | 'destroyed') =>
      this.#emit({
        kind: 'dirty-release',
        pool: this.name,
        route: state.route ?? this.keel.context.current()?.route,
        at: this.keel.config.clock.now(),
        transactionStatus: status,
        action,
        acquiredAt: stackOf(state.stack),
      });
    state.rawQuery.call(client, 'ROLLBACK').then(
      () => {
        if ((client.getTransactionStatus?.() ?? 'I') === 'I') {
          report('rolled back');
          poolRelease();
        } else {
          report('destroyed');
          poolRelease(true);
        }
      },
      (error: unknown) => {
        report('destroyed');
        poolRelease(error instanceof Error ? error : true);
      },
    );
  }

  #scheduleHeldScan(): void {
    const heldMs = this.config.heldClientMs;
    if (heldMs === null || this.#heldTimer !== undefined || this.#held.size === 0 || this.#ending) return;
    const clock = this.keel.config.clock;
    this.#heldTimer = clock.setTimeout(
      () => {
        this.#heldTimer = undefined;
        try {
          const now = clock.now();
          for (const client of this.#held) {
            const state = client[kState]!;
            const heldFor = now - state.acquiredAt;
            if (state.heldReported || heldFor < heldMs) continue;
            state.heldReported = true;
            this.counters.heldClients++;
            this.#emit({
              kind: 'client-held',
              pool: this.name,
              route: state.route,
              at: now,
              heldMs: heldFor,
              acquiredAt: stackOf(state.stack),
            });
          }
        } catch (error) {
          this.keel.reportError('pg.held-scan', error);
        }
        this.#scheduleHeldScan();
      },
      Math.max(50, Math.floor(heldMs / 4)),
    );
  }

  #slowQuery(
    fp: Fingerprinted,
    ms: number,
    rows: number | null,
    context: RequestContext | undefined,
    sql: string,
  ): void {
    const slow = this.config.slowQuery!;
    this.counters.slowQueries++;
    const now = this.keel.config.clock.now();
    let entry = this.#slow.get(fp.label);
    if (!entry) {
      if (this.#slow.size >= slow.keep) this.#slow.delete(this.#slow.keys().next().value!);
      entry = {
        fingerprint: fp.text,
        operation: fp.operation,
        count: 0,
        maxMs: 0,
        lastMs: 0,
        lastRows: null,
        lastAt: now,
        routes: [],
        plan: null,
        reportedAt: Number.NEGATIVE_INFINITY,
        suppressed: 0,
        planAt: Number.NEGATIVE_INFINITY,
      };
      this.#slow.set(fp.label, entry);
    }
    entry.count++;
    entry.maxMs = Math.max(entry.maxMs, ms);
    entry.lastMs = ms;
    entry.lastRows = rows;
    entry.lastAt = now;
    const route = context?.route;
    if (route !== undefined && entry.routes.length < 8 && !entry.routes.includes(route))
      entry.routes.push(route);
    if (now - entry.reportedAt < slow.intervalMs) {
      entry.suppressed++;
      return;
    }
    const suppressed = entry.suppressed;
    entry.reportedAt = now;
    entry.suppressed = 0;
    this.#emit({
      kind: 'slow-query',
      pool: this.name,
      route,
      at: now,
      fingerprint: fp.text,
      operation: fp.operation,
      durationMs: ms,
      rows,
      suppressed,
    });
    if (slow.explain && now - entry.planAt >= slow.intervalMs && isExplainable(fp)) {
      entry.planAt = now;
      if (this.#explainQueue.length >= MAX_EXPLAIN_QUEUE) this.explainsDropped++;
      else {
        this.#explainQueue.push({ entry, sql });
        if (!this.#explaining) setImmediate(() => void this.#drainExplains());
      }
    }
  }

  /** Captures queued plans one at a time, only with a connection to spare: never competes with requests for the last one. */
  async #drainExplains(): Promise<void> {
    if (this.#explaining) return;
    this.#explaining = true;
    try {
      for (let job = this.#explainQueue.shift(); job; job = this.#explainQueue.shift()) {
        if (this.#ending || (this.inner.idleCount === 0 && this.inner.totalCount >= this.max)) {
          this.explainsDropped++;
          continue;
        }
        let client: Tracked;
        try {
          client = await this.#acquire(this.config.saturationMs, false);
        } catch {
          this.explainsDropped++;
          continue;
        }
        const state = client[kState]!;
        try {
          if (state.timeoutMs !== null)
            await new Promise<void>((resolve, reject) =>
              this.#setTimeout(client, state, null, (e) => (e === null ? resolve() : reject(e))),
            );
          job.entry.plan = await explainGeneric((sql) => state.rawQuery.call(client, sql), job.sql);
          client.release();
        } catch (error) {
          // A failed capture may leave a prepared statement or setting behind: drop the connection.
          client.release(true);
          this.keel.reportError(`pg.explain.${this.name}`, error);
        }
      }
    } finally {
      this.#explaining = false;
    }
  }

  #saturationCheck(): void {
    const saturated = this.#saturatedSinceCheck;
    const timedOut = this.#timeoutsSinceCheck;
    this.#saturatedSinceCheck = 0;
    this.#timeoutsSinceCheck = 0;
    if (saturated + timedOut > 0) {
      throw new Error(
        `pool ${this.name} saturated: ${saturated} acquires waited over ${this.config.saturationMs} ms and ${timedOut} gave up since the last check (max ${this.max} connections)`,
      );
    }
  }

  #emit(event: PgEvent): void {
    try {
      this.config.onEvent(event);
    } catch (error) {
      this.keel.reportError('pg.onEvent', error);
    }
  }

  #deadlineError(what: string): KeelError {
    return new KeelError(KeelErrorCode.QueryDeadline, `pool ${this.name}: ${what}.`);
  }

  #connectError(error: Error | undefined): KeelError {
    const message = error?.message ?? 'no client';
    if (message.includes('timeout exceeded when trying to connect')) {
      this.counters.acquireTimeouts++;
      this.#timeoutsSinceCheck++;
      return new KeelError(
        KeelErrorCode.AcquireTimeout,
        `pool ${this.name}: no connection became free within connectionTimeoutMillis (max ${this.max}).`,
        { cause: error },
      );
    }
    if (this.inner.ending) {
      return new KeelError(KeelErrorCode.Closed, `pool ${this.name} has been ended.`, { cause: error });
    }
    this.counters.connectionErrors++;
    return new KeelError(
      KeelErrorCode.DatabaseUnavailable,
      `pool ${this.name}: cannot connect to PostgreSQL: ${message}`,
      {
        cause: error,
      },
    );
  }

  #queryError(error: unknown, deadlineMs: number | undefined, fp: Fingerprinted, client: Tracked): unknown {
    const e = error as { code?: unknown; message?: unknown };
    const message = typeof e?.message === 'string' ? e.message : String(error);
    if (deadlineMs !== undefined && e?.code === '57014' && message.includes('statement timeout')) {
      this.counters.deadlineCancels++;
      return new KeelError(
        KeelErrorCode.QueryDeadline,
        `pool ${this.name}: PostgreSQL cancelled the query at the request deadline (statement_timeout ${deadlineMs} ms): ${fp.label}`,
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
      this.counters.connectionErrors++;
      return new KeelError(
        KeelErrorCode.DatabaseUnavailable,
        `pool ${this.name}: connection lost during the query: ${message}`,
        {
          cause: error,
        },
      );
    }
    return error;
  }
}

export function isPool(value: unknown): value is Pool {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as Pool).connect === 'function' &&
    typeof (value as Pool).totalCount === 'number'
  );
}

function textOf(query: QueryArg): string {
  if (typeof query === 'string') return query;
  if (typeof query === 'object' && query !== null && typeof query.text === 'string') return query.text;
  throw new TypeError('query: expected SQL text or a { text, values } object.');
}

function rowsOf(result: QueryResult | QueryResult[] | undefined): number | null {
  if (result === undefined) return null;
  if (Array.isArray(result)) return result.reduce((n, r) => n + (r.rowCount ?? r.rows?.length ?? 0), 0);
  return result.rowCount ?? result.rows?.length ?? null;
}

function stackOf(error: Error | undefined): string | undefined {
  // Drop the first two lines (the message and KeelPool.connect itself): the rest is the caller's code.
  return error?.stack?.split('\n').slice(2).join('\n');
}

/**
 * Creates an instrumented pool on `keel`: from a pg config, or wrapping an
 * existing `pg.Pool` (`{ pg: pool }`). Registers its metrics, a `SELECT 1`
 * readiness check, a saturation check and a shutdown cleanup. Invalid options
 * throw a `KeelError` (`KEEL_INVALID_OPTION`).
 */
export function createPool(keel: Keel, options?: KeelPoolOptions): KeelPool {
  return new KeelPool(keel, options);
}
