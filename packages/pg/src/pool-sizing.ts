import { invalidOptionOf } from '@keel/core';
import type { Pool, PoolClient } from 'pg';
import { kGeneration, type Tracked } from './client-state.js';
import type { PoolRecycle, PoolResize } from './events.js';
import { emitEvent, type PoolHost } from './pool-host.js';

type Options = { max: number };
type PgRelease = (error?: Error | boolean) => void;

/**
 * Changes the pool's size and replaces its connections at run time, through
 * pg-pool's public API only.
 *
 * pg-pool reads `options.max` each time it decides whether to open a
 * connection, so writing it is enough to stop growth; the rest is done here:
 * - growing opens one connection per waiting caller at once (pg-pool would
 *   otherwise serve them one release at a time);
 * - shrinking closes idle connections at once and never one in use: those
 *   close when released, while the pool is over its size;
 * - recycling marks every open connection with the previous generation:
 *   idle ones are replaced at once, busy ones closed when released.
 *
 * Idle connections are taken out with `connect()`: when any are idle pg-pool
 * queues the request and hands out an idle one on the next tick, and asking
 * for as many as are idle, in one synchronous loop, gets exactly those.
 */
export class PoolSizing {
  readonly #pool: PoolHost;
  #generation = 0;

  constructor(pool: PoolHost) {
    this.#pool = pool;
  }

  /** Marks a connection the pool just opened with the current generation. */
  opened(client: unknown): void {
    (client as Tracked)[kGeneration] = this.#generation;
  }

  /** Whether a healthy connection coming back should be closed: the pool is over its size, or it was recycled. */
  shouldRetire(client: Tracked): boolean {
    return (client[kGeneration] ?? 0) !== this.#generation || this.#pool.inner.totalCount > this.#pool.max;
  }

  async resize(max: number): Promise<PoolResize> {
    if (!Number.isSafeInteger(max) || max < 1)
      throw invalidOptionOf('pool.resize', 'max', 'must be a positive integer', max);
    const pool = this.#pool;
    const inner = pool.inner;
    const from = pool.max;
    (inner as Pool & { options: Options }).options.max = max;
    let opened = 0;
    let closed = 0;
    if (max > from) {
      const wanted = Math.min(inner.waitingCount, max - inner.totalCount);
      opened = await this.#openNew(wanted);
    } else if (max < from) {
      const surplus = Math.min(inner.idleCount, inner.totalCount - max);
      closed = await this.#closeIdle(surplus, () => true);
    }
    const retiring = Math.max(0, inner.totalCount - max);
    const record: PoolResize = { from, to: max, opened, closed, retiring };
    emitEvent(pool, {
      kind: 'pool-resized',
      pool: pool.name,
      route: undefined,
      at: pool.keel.config.clock.now(),
      ...record,
    });
    return record;
  }

  async recycle(): Promise<PoolRecycle> {
    const pool = this.#pool;
    const inner = pool.inner;
    this.#generation++;
    const idle = inner.idleCount;
    const busy = inner.totalCount - idle;
    const closed = await this.#closeIdle(idle, (c) => this.shouldRetire(c));
    const room = Math.max(0, pool.max - inner.totalCount);
    const opened = await this.#openNew(Math.min(closed, room));
    const record: PoolRecycle = { closed, opened, replacing: busy };
    emitEvent(pool, {
      kind: 'pool-recycled',
      pool: pool.name,
      route: undefined,
      at: pool.keel.config.clock.now(),
      ...record,
    });
    return record;
  }

  /**
   * Takes a connection from the pool and gives it back at once, closed when
   * `close` says so. When any are idle this takes an idle one; with room and
   * none idle it opens a new one, which goes to the first waiting caller on
   * its way back. A connection that was not idle after all (another caller
   * took it first and this request waited) is judged the same way when it
   * comes. Resolves what happened to it.
   */
  #cycle(close: (client: Tracked) => boolean): Promise<'closed' | 'returned' | 'failed'> {
    return new Promise((resolve) =>
      this.#pool.inner.connect(
        (error: Error | undefined, client: PoolClient | undefined, release: PgRelease) => {
          if (error || client === undefined) {
            resolve('failed');
            return;
          }
          const closing = close(client as Tracked);
          release(closing);
          resolve(closing ? 'closed' : 'returned');
        },
      ),
    );
  }

  /** Closes up to `n` idle connections that `close` picks; resolves how many it closed. */
  async #closeIdle(n: number, close: (client: Tracked) => boolean): Promise<number> {
    const results = await Promise.all(times(n, () => this.#cycle(close)));
    return results.filter((r) => r === 'closed').length;
  }

  /** Opens `n` connections into the pool; resolves how many it opened. */
  async #openNew(n: number): Promise<number> {
    const results = await Promise.all(times(n, () => this.#cycle(() => false)));
    return results.filter((r) => r === 'returned').length;
  }
}

function times<T>(n: number, f: () => T): T[] {
  return Array.from({ length: Math.max(0, n) }, f);
}
