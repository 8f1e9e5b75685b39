import type { CircuitBreaker, RequestContext } from '@keel/core';
import type { PoolClient, QueryResult } from 'pg';
import { sendCancelRequest } from './cancel-request.js';
import {
  type ClientState,
  type Done,
  kState,
  newClientState,
  type QueryArg,
  type RawQuery,
  type RawQueryCallback,
  type Tracked,
} from './client-state.js';
import { judge, runThroughBreaker } from './pool-breaker.js';
import { deadlineError, queryError } from './pool-errors.js';
import type { PoolHost } from './pool-host.js';
import { DeadlineWatch, SERVER_ANSWER_GRACE_MS, setStatementTimeout } from './query-deadlines.js';
import type { Fingerprinted, QueryRecording } from './query-recording.js';

/** A cancel request's connection is closed after this, answered or not (a hung server never closes it). */
const CANCEL_TIMEOUT_MS = 2000;

/**
 * Runs queries on the pool's connections: applies their deadlines (on the
 * server and on the client), sends them, records them, and ends a
 * connection whose database did not answer in time. Every query reaches the
 * database through `run`, whether from `pool.query()` or a checked-out client.
 */
export class QueryExecution {
  readonly #pool: PoolHost;
  readonly #recording: QueryRecording;
  readonly #breaker: CircuitBreaker | null;
  readonly deadlines: DeadlineWatch;
  readonly #openClients: Set<unknown>;

  /**
   * `openClients`: the pool's open connections, kept up to date by the pool
   * (added on pg-pool's `connect`, deleted on `remove`), for the deadline watch.
   */
  constructor(
    pool: PoolHost,
    recording: QueryRecording,
    breaker: CircuitBreaker | null,
    openClients: Set<unknown>,
  ) {
    this.#pool = pool;
    this.#recording = recording;
    this.#breaker = breaker;
    this.#openClients = openClients;
    this.deadlines = new DeadlineWatch(pool.keel.config.clock, openClients, (client, state) =>
      this.#expire(client, state),
    );
  }

  /** Gives a client its state and instrumented `query` the first time the pool hands it out. */
  track(client: Tracked): Tracked {
    if (client[kState] !== undefined) return client;
    const pool = this.#pool;
    const rawQuery = client.query as unknown as RawQuery;
    const state = newClientState(rawQuery);
    client[kState] = state;
    // A wrapped pool's connections opened before Keel saw them emitted no `connect` here.
    this.#openClients.add(client);
    // A checked-out client whose connection dies emits `error`; pg-pool listens
    // only while it is idle, so without this the app would crash. A connection
    // Keel closed itself at a deadline is counted there, not reported.
    client.on('error', (error: Error) => {
      if (!state.expired) pool.keel.reportError(`pg.client.${pool.name}`, error);
    });
    // Queries on a client from `connect()` are instrumented like `pool.query()`, the
    // request context read when each is issued; callbacks and submittables (cursors,
    // streams) pass through untouched.
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
        const context = pool.keel.context.current();
        const fp = this.#recording.fingerprint(query as QueryArg);
        const sql = query as QueryArg;
        const params = values as unknown[] | undefined;
        const breaker = this.#breaker;
        if (breaker !== null && breaker.state !== 'closed') {
          runThroughBreaker<QueryResult>(
            breaker,
            context,
            (done) => this.run(client, state, sql, params, fp, context, done),
            (error, result) => (error === null ? resolve(result!) : reject(error)),
          );
          return;
        }
        // The same steps as `pool.query()`'s, inlined: one callback per query.
        this.run(client, state, sql, params, fp, context, (error, result) => {
          if (breaker !== null) judge(breaker, error, state.lastMs);
          if (error === null) resolve(result!);
          else reject(error);
        });
      });
    };
    client.query = instrumented as PoolClient['query'];
    return client;
  }

  /**
   * Applies the deadlines, then sends the query: on the server, a
   * `statement_timeout` for the time the request has left (or a reset of an
   * earlier one); on the client, the time by which the database must answer
   * (the request's deadline plus a grace for the server's own answer, or the
   * pool's `queryTimeoutMs`), watched without a timer per query.
   */
  run(
    client: Tracked,
    state: ClientState,
    query: QueryArg,
    values: unknown[] | undefined,
    fp: Fingerprinted,
    context: RequestContext | undefined,
    done: Done<QueryResult>,
  ): void {
    const pool = this.#pool;
    const clock = pool.keel.config.clock;
    let deadlineMs: number | undefined;
    let answerBy: number;
    if (pool.config.deadlines && context?.deadline !== undefined) {
      const remaining = context.deadline - clock.now();
      if (remaining <= 0) {
        pool.counters.deadlineCancels++;
        done(deadlineError(pool, `the request deadline had passed; not sent: ${fp.label}`));
        return;
      }
      deadlineMs = Math.ceil(remaining);
      answerBy = context.deadline + SERVER_ANSWER_GRACE_MS;
    } else {
      const timeout = pool.config.queryTimeoutMs;
      answerBy = timeout === null ? Number.POSITIVE_INFINITY : clock.now() + timeout;
    }
    this.deadlines.arm(state, answerBy);
    if (deadlineMs === undefined && state.timeoutMs === null) {
      this.#send(client, state, query, values, fp, context, undefined, done);
      return;
    }
    setStatementTimeout(client, state, deadlineMs ?? null, (error) => {
      if (error === null) {
        this.#send(client, state, query, values, fp, context, deadlineMs, done);
        return;
      }
      this.deadlines.disarm(state);
      state.lastMs = 0;
      done(queryError(pool, error, undefined, fp.label, client, state));
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
      this.deadlines.disarm(state);
      const failed = error != null;
      const ms = performance.now() - started;
      state.lastMs = ms;
      this.#recording.record(fp, ms, failed, result, context, query);
      if (failed) done(queryError(this.#pool, error, deadlineMs, fp.label, client, state));
      else done(null, result);
    });
  }

  /**
   * The database did not answer by the deadline: PostgreSQL is asked to
   * cancel the query (so its work and locks end) and the connection is closed
   * at once, which fails its queries (`KEEL_QUERY_DEADLINE`) and lets the
   * pool open a new one when the database answers again.
   */
  #expire(client: Tracked, state: ClientState): void {
    state.expired = true;
    this.#pool.counters.clientTimeouts++;
    void sendCancelRequest(client, CANCEL_TIMEOUT_MS);
    client.connection?.stream?.destroy();
  }
}
