import type { Clock, TimerHandle } from '@keel/core';
import {
  type ClientState,
  kState,
  type RawQueryCallback,
  type Tracked,
  transactionStatus,
} from './client-state.js';

/**
 * How long past a request deadline the client waits for PostgreSQL's own
 * answer before it gives up on the connection. With `statement_timeout` in
 * force the server cancels the query at the deadline and its error arrives a
 * round trip later; that path keeps the connection. The client-side path
 * (cancel request, connection closed) is for a server that does not answer.
 * 100 ms covers a loaded machine (the tests run on 2 shared cores) and is
 * still no more than half of the default 200 ms request deadline.
 */
export const SERVER_ANSWER_GRACE_MS = 100;

/**
 * Sets the connection's `statement_timeout` to `ms` (`null`: back to the
 * session default). Outside a transaction the setting is per session and
 * remembered, so consecutive queries with the same value pay no round trip;
 * inside one it is `SET LOCAL`, which the transaction's end undoes by itself
 * (and a session `SET` there would be undone by a rollback behind our back).
 */
export function setStatementTimeout(
  client: Tracked,
  state: ClientState,
  ms: number | null,
  done: (error: unknown) => void,
): void {
  const status = transactionStatus(client);
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

/**
 * Client-side deadlines of the queries in flight, without a timer per query.
 *
 * Each connection's state holds the time by which its database must answer
 * (`deadlineAt`); one timer, set for the earliest deadline, wakes the watch,
 * which expires the connections past theirs and sets itself for the next.
 * A query that finishes in time costs two field writes and a comparison; the
 * timer is re-set only when a new deadline is earlier than the one it waits
 * for. Expiry runs in a `setImmediate` after the timer, so an answer already
 * in the socket (read in the poll phase, after timers) wins over it.
 */
export class DeadlineWatch {
  readonly #clock: Clock;
  readonly #clients: Iterable<unknown>;
  readonly #expire: (client: Tracked, state: ClientState) => void;
  #timer: TimerHandle | undefined;
  #at = Number.POSITIVE_INFINITY;
  #stopped = false;

  /** Watches the connections in `clients` (kept up to date by the pool); `expire` ends one past its deadline. */
  constructor(
    clock: Clock,
    clients: Iterable<unknown>,
    expire: (client: Tracked, state: ClientState) => void,
  ) {
    this.#clock = clock;
    this.#clients = clients;
    this.#expire = expire;
  }

  /** A query starts on the connection: it must be answered by `at` (clock ms). */
  arm(state: ClientState, at: number): void {
    if (state.inFlight++ === 0 || at < state.deadlineAt) state.deadlineAt = at;
    if (at < this.#at) this.#schedule(at);
  }

  /**
   * A query on the connection settled. With another still in flight the
   * earliest deadline stays: pg runs a connection's queries one after the
   * other, so the next one cannot be answered before the current one anyway.
   */
  disarm(state: ClientState): void {
    if (--state.inFlight === 0) state.deadlineAt = Number.POSITIVE_INFINITY;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #schedule(at: number): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#at = at;
    this.#timer = this.#clock.setTimeout(
      () => {
        this.#timer = undefined;
        this.#at = Number.POSITIVE_INFINITY;
        setImmediate(() => this.#sweep());
      },
      Math.max(0, at - this.#clock.now()),
    );
  }

  #sweep(): void {
    const now = this.#clock.now();
    let next = Number.POSITIVE_INFINITY;
    for (const client of this.#clients) {
      const state = (client as Tracked)[kState];
      if (state === undefined || state.inFlight === 0 || state.expired) continue;
      if (state.deadlineAt <= now) this.#expire(client as Tracked, state);
      else if (state.deadlineAt < next) next = state.deadlineAt;
    }
    if (next < this.#at) this.#schedule(next);
  }
}
