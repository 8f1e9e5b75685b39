import { checkFactoryOptions, type Mitigation } from './mitigation.js';

/**
 * What the pool mitigations need from a pool, structurally, so they work with
 * `@keel/pg`'s pool, a bare `pg.Pool` (its `options.max` is read on each
 * connect) or anything else shaped alike.
 */
export interface PoolLike {
  /** node-postgres keeps its settings here; `max` is used when there is no `resize`. */
  readonly options?: { max?: number };
  /** Resizes the pool; preferred over writing `options.max`. */
  resize?(max: number): unknown;
  /** Current maximum size, when `options.max` does not tell it. */
  readonly max?: number;
  /** Clients waiting for a connection now. */
  readonly waitingCount?: number;
  /** Replaces every connection (idle ones at once, busy ones when released). */
  recycle?(): unknown;
}

export interface ResizePoolOptions {
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

/** Grows the pool when queries queue for a connection; rollback restores the size. */
export function resizePool(options: ResizePoolOptions): Mitigation {
  checkFactoryOptions('resizePool', options, ['pool', 'name', 'factor', 'maxSize', 'budgets']);
  const { pool } = options;
  const factor = options.factor ?? 2;
  const maxSize = options.maxSize ?? 50;
  const budgets = options.budgets ?? ['db_latency'];
  let previous: number | undefined;
  const setMax = async (n: number) => {
    if (typeof pool.resize === 'function') await pool.resize(n);
    else if (pool.options) pool.options.max = n;
  };
  return {
    name: options.name ?? 'resize-pool',
    description: `grow the connection pool ×${factor} (at most ${maxSize})`,
    priority: 30,
    applicable: (ctx) =>
      poolMax(pool) < maxSize &&
      ((pool.waitingCount ?? 0) > 0 ||
        ctx.report.budgets.some((b) => b.state === 'breached' && budgets.includes(b.name))),
    async apply() {
      previous = poolMax(pool);
      const next = Math.min(maxSize, Math.ceil(previous * factor));
      await setMax(next);
      return `pool max ${previous} → ${next}`;
    },
    async rollback() {
      if (previous !== undefined) await setMax(previous);
      previous = undefined;
    },
  };
}

export interface RecyclePoolOptions {
  pool: PoolLike & { recycle(): unknown };
  /** @default 'recycle-pool' */
  name?: string;
  /** @default ['db_latency'] */
  budgets?: string[];
}

/** Replaces the pool's connections (stuck or leaked ones, a failed-over primary). Irreversible. */
export function recyclePool(options: RecyclePoolOptions): Mitigation {
  checkFactoryOptions('recyclePool', options, ['pool', 'name', 'budgets']);
  const budgets = options.budgets ?? ['db_latency'];
  return {
    name: options.name ?? 'recycle-pool',
    description: 'replace every connection in the pool',
    priority: 35,
    applicable: (ctx) => ctx.report.budgets.some((b) => b.state === 'breached' && budgets.includes(b.name)),
    async apply() {
      await options.pool.recycle();
      return 'connections recycled';
    },
  };
}
