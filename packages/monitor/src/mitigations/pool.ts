import { checkFactoryOptions, type Mitigation } from './mitigation.js';

/**
 * What the pool mitigations need from a pool, structurally, so `@keel/monitor`
 * does not depend on `@keel/pg`: `@keel/pg`'s `KeelPool` has this shape. A
 * mitigation whose method is missing is not offered (`/health` says why).
 */
export interface PoolLike {
  /** Changes the pool's maximum size at run time: grows at once, shrinks by retiring idle clients. */
  resize?(max: number): unknown;
  /** The maximum size now. */
  readonly max?: number;
  /** node-postgres keeps its settings here: read for the size when there is no `max`. */
  readonly options?: { readonly max?: number };
  /** Callers waiting for a connection now. */
  readonly waitingCount?: number;
  /** Replaces the pool's clients (idle ones at once, busy ones when released). */
  recycle?(): unknown;
}

export interface ResizePoolOptions {
  /** A pool with `resize(max)` (`@keel/pg`'s pool). */
  pool: PoolLike;
  /** Names the mitigation (several pools: several names). @default 'resize-pool' */
  name?: string;
  /** New size = current × factor, rounded up. @default 2 */
  factor?: number;
  /** Never above this. Keep it under what the database allows for all instances. @default 50 */
  maxSize?: number;
  /** Budgets whose breach it answers. @default ['db_latency'] plus any wait for a connection */
  budgets?: string[];
}

function poolMax(pool: PoolLike): number {
  return pool.max ?? pool.options?.max ?? 10;
}

/**
 * Grows the pool when queries queue for a connection; rollback restores the
 * size. Offered only for a pool that can really be resized (`resize(max)`):
 * writing a setting the pool does not act on would report an action that did
 * not happen.
 */
export function resizePool(options: ResizePoolOptions): Mitigation {
  checkFactoryOptions('resizePool', options, ['pool', 'name', 'factor', 'maxSize', 'budgets']);
  const { pool } = options;
  const factor = options.factor ?? 2;
  const maxSize = options.maxSize ?? 50;
  const budgets = options.budgets ?? ['db_latency'];
  const resize = typeof pool?.resize === 'function' ? (n: number) => pool.resize!(n) : undefined;
  let previous: number | undefined;
  return {
    name: options.name ?? 'resize-pool',
    description: `grow the connection pool ×${factor} (at most ${maxSize})`,
    priority: 30,
    missing: resize ? undefined : 'the pool has no resize(max)',
    unavailable: () => (poolMax(pool) >= maxSize ? `the pool is at its maximum (maxSize ${maxSize})` : null),
    applicable: (ctx) =>
      (pool.waitingCount ?? 0) > 0 ||
      ctx.report.budgets.some((b) => b.state === 'breached' && budgets.includes(b.name)),
    async apply(ctx) {
      previous = poolMax(pool);
      const next = Math.min(maxSize, Math.ceil(previous * factor));
      await resize!(next);
      const now = poolMax(pool);
      // What the connections cost across the fleet (`cost` option), stated with the action.
      return `pool max ${previous} → ${now} (${ctx.keel.capacity.costOf({ dbConnections: now - previous }).text})`;
    },
    async rollback() {
      if (previous !== undefined) await resize!(previous);
      previous = undefined;
    },
  };
}

export interface RecyclePoolOptions {
  /** A pool with `recycle()` (`@keel/pg`'s pool). */
  pool: PoolLike;
  /** @default 'recycle-pool' */
  name?: string;
  /** @default ['db_latency'] */
  budgets?: string[];
}

/**
 * Replaces the pool's connections (stuck or leaked ones, a failed-over
 * primary). Irreversible. Offered only for a pool with `recycle()`.
 */
export function recyclePool(options: RecyclePoolOptions): Mitigation {
  checkFactoryOptions('recyclePool', options, ['pool', 'name', 'budgets']);
  const { pool } = options;
  const budgets = options.budgets ?? ['db_latency'];
  const recycle = typeof pool?.recycle === 'function' ? () => pool.recycle!() : undefined;
  return {
    name: options.name ?? 'recycle-pool',
    description: 'replace every connection in the pool',
    priority: 35,
    missing: recycle ? undefined : 'the pool has no recycle()',
    applicable: (ctx) => ctx.report.budgets.some((b) => b.state === 'breached' && budgets.includes(b.name)),
    async apply() {
      await recycle!();
      return 'connections recycled';
    },
  };
}
