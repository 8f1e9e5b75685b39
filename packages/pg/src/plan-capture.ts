import { kState, type Tracked } from './client-state.js';
import type { SlowQueryRecord } from './events.js';
import { explainGeneric } from './explain.js';
import type { PoolHost } from './pool-host.js';
import { setStatementTimeout } from './query-deadlines.js';

/** Plans waiting to be captured; more are dropped (and counted) rather than queued without bound. */
const MAX_EXPLAIN_QUEUE = 16;

/** How plan capture borrows a connection from the pool that owns it. */
export interface Borrow {
  /** A connection within `limitMs`, with no request deadline. */
  acquire(limitMs: number): Promise<Tracked>;
  /** Gives it back; with `broken`, it is closed instead. */
  giveBack(client: Tracked, broken?: boolean): void;
}

/**
 * Captures the generic plans of slow queries, off the request path, one at a
 * time and only with a connection to spare: it never competes with requests
 * for the last one.
 */
export class PlanCapture {
  readonly #pool: PoolHost;
  readonly #borrow: Borrow;
  readonly #queue: { record: SlowQueryRecord; sql: string }[] = [];
  #running = false;
  #ended = false;
  dropped = 0;

  constructor(pool: PoolHost, borrow: Borrow) {
    this.#pool = pool;
    this.#borrow = borrow;
  }

  /** Queues the plan of `sql` for `record`; dropped (and counted) when the queue is full. */
  enqueue(record: SlowQueryRecord, sql: string): void {
    if (this.#queue.length >= MAX_EXPLAIN_QUEUE) {
      this.dropped++;
      return;
    }
    this.#queue.push({ record, sql });
    if (!this.#running) setImmediate(() => void this.#drain());
  }

  /** Resolves when every queued plan has been captured (or dropped). */
  async settled(): Promise<void> {
    while (this.#running || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  end(): void {
    this.#ended = true;
  }

  async #drain(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    const pool = this.#pool;
    try {
      for (let job = this.#queue.shift(); job; job = this.#queue.shift()) {
        if (this.#ended || (pool.inner.idleCount === 0 && pool.inner.totalCount >= pool.max)) {
          this.dropped++;
          continue;
        }
        let client: Tracked;
        try {
          client = await this.#borrow.acquire(pool.config.saturationMs);
        } catch {
          this.dropped++;
          continue;
        }
        await this.#capture(client, job.record, job.sql);
      }
    } finally {
      this.#running = false;
    }
  }

  async #capture(client: Tracked, record: SlowQueryRecord, sql: string): Promise<void> {
    const state = client[kState]!;
    try {
      if (state.timeoutMs !== null)
        await new Promise<void>((resolve, reject) =>
          setStatementTimeout(client, state, null, (e) => (e === null ? resolve() : reject(e))),
        );
      record.plan = await explainGeneric((text) => state.rawQuery.call(client, text), sql);
      this.#borrow.giveBack(client);
    } catch (error) {
      // A failed capture may leave a prepared statement or setting behind: drop the connection.
      this.#borrow.giveBack(client, true);
      this.#pool.keel.reportError(`pg.explain.${this.#pool.name}`, error);
    }
  }
}
