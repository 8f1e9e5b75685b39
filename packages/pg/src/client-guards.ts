import type { RequestContext, TimerHandle } from '@keel/core';
import { type ClientState, kState, type Tracked, transactionStatus } from './client-state.js';
import { emitEvent, type PoolHost } from './pool-host.js';

type PoolRelease = (error?: Error | boolean) => void;

/**
 * What stands between the app's use of a client and the next caller: a
 * client released inside a transaction is rolled back (or destroyed) before
 * pg-pool may hand it out again, a client held too long is reported with
 * where it was acquired, and a connection the pool no longer wants (shrunk,
 * recycled, broken) is closed instead of going back.
 */
export class ClientGuards {
  readonly #pool: PoolHost;
  /** Whether a healthy connection coming back should be closed instead (see `PoolSizing.shouldRetire`). */
  readonly #retire: (client: Tracked) => boolean;
  readonly #held = new Set<Tracked>();
  #heldTimer: TimerHandle | undefined;
  #ended = false;

  constructor(pool: PoolHost, retire: (client: Tracked) => boolean) {
    this.#pool = pool;
    this.#retire = retire;
  }

  /** A client handed to the app by `pool.connect()`: its `release` goes through the guards. */
  checkedOut(
    client: Tracked,
    state: ClientState,
    context: RequestContext | undefined,
    stack: Error | undefined,
  ): void {
    const pool = this.#pool;
    state.checkedOut = true;
    state.acquiredAt = pool.keel.config.clock.now();
    state.stack = stack;
    state.route = context?.route;
    state.heldReported = false;
    const poolRelease = client.release as PoolRelease;
    client.release = (error?: Error | boolean) => this.#release(client, state, poolRelease, error);
    if (pool.config.heldClientMs !== null) {
      this.#held.add(client);
      this.#scheduleHeldScan();
    }
  }

  /**
   * Returns a client to the pool: a broken one, or one the pool no longer
   * wants, is closed; one left inside a transaction (`pool.query('BEGIN')` is
   * a classic bug) is rolled back first, so the next caller never gets it dirty.
   */
  handBack(client: Tracked, state: ClientState, poolRelease: PoolRelease, error?: Error | boolean): void {
    if (error || client._queryable === false || client._ending || state.expired) {
      poolRelease(error || true);
      return;
    }
    const status = transactionStatus(client);
    if (status === 'T' || status === 'E') this.#dirty(client, state, status, poolRelease);
    else poolRelease(this.#retire(client));
  }

  end(): void {
    this.#ended = true;
    if (this.#heldTimer !== undefined) this.#pool.keel.config.clock.clearTimeout(this.#heldTimer);
    this.#heldTimer = undefined;
  }

  #release(client: Tracked, state: ClientState, poolRelease: PoolRelease, error?: Error | boolean): void {
    if (!state.checkedOut) {
      // Same contract as pg: a double release is a bug in the caller.
      throw new Error('Release called on client which has already been released to the pool.');
    }
    state.checkedOut = false;
    this.#held.delete(client);
    this.handBack(client, state, poolRelease, error);
  }

  /** Rolls back a client released inside a transaction; destroys it if that fails. Never hands it out dirty. */
  #dirty(client: Tracked, state: ClientState, status: 'T' | 'E', poolRelease: PoolRelease): void {
    const pool = this.#pool;
    pool.counters.dirtyReleases++;
    const report = (action: 'rolled back' | 'destroyed') =>
      emitEvent(pool, {
        kind: 'dirty-release',
        pool: pool.name,
        route: state.route ?? pool.keel.context.current()?.route,
        at: pool.keel.config.clock.now(),
        transactionStatus: status,
        action,
        acquiredAt: stackOf(state.stack),
      });
    state.rawQuery.call(client, 'ROLLBACK').then(
      () => {
        if (transactionStatus(client) === 'I') {
          report('rolled back');
          poolRelease(this.#retire(client));
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
    const pool = this.#pool;
    const heldMs = pool.config.heldClientMs;
    if (heldMs === null || this.#heldTimer !== undefined || this.#held.size === 0 || this.#ended) return;
    const clock = pool.keel.config.clock;
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
            pool.counters.heldClients++;
            emitEvent(pool, {
              kind: 'client-held',
              pool: pool.name,
              route: state.route,
              at: now,
              heldMs: heldFor,
              acquiredAt: stackOf(state.stack),
            });
          }
        } catch (error) {
          pool.keel.reportError('pg.held-scan', error);
        }
        this.#scheduleHeldScan();
      },
      Math.max(50, Math.floor(heldMs / 4)),
    );
  }
}

function stackOf(error: Error | undefined): string | undefined {
  // Drop the first two lines (the message and KeelPool.connect itself): the rest is the caller's code.
  return error?.stack?.split('\n').slice(2).join('\n');
}
