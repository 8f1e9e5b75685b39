import type { Keel } from '@keel/core';
import type { Mitigation, MitigationContext } from './mitigation.js';

const HTTP_BUDGET_KINDS = new Set(['latency', 'error_rate', 'availability']);

/** Budgets on the HTTP signal that are breached now: what users of this app feel. */
function httpBreached(ctx: MitigationContext): boolean {
  const http = ctx.keel.http.definition.name;
  return ctx.report.budgets.some(
    (b) => b.state === 'breached' && b.signal === http && HTTP_BUDGET_KINDS.has(b.kind),
  );
}

export interface ServeStaleOptions {
  /** Only these caches (by name). @default every cache of the Keel, response caches included */
  caches?: string[];
  /** How much longer than `ttl + staleWhileRevalidate` entries are served, ms. @default 600000 (10 min) */
  extendMs?: number;
}

/**
 * Serves cached entries past their freshness (one background refresh per key),
 * so users stop waiting on a slow or failing loader. Applicable when an HTTP
 * budget is breached and a cache holds entries.
 */
export function serveStale(options: ServeStaleOptions = {}): Mitigation {
  const extendMs = options.extendMs ?? 600_000;
  const pick = (keel: Keel) => keel.caches.filter((c) => !options.caches || options.caches.includes(c.name));
  let applied: ReturnType<typeof pick> = [];
  return {
    name: 'serve-stale',
    description: `serve cached entries up to ${Math.round(extendMs / 1000)} s past freshness`,
    priority: 10,
    applicable: (ctx) => httpBreached(ctx) && pick(ctx.keel).some((c) => c.size > 0),
    apply(ctx) {
      applied = pick(ctx.keel);
      for (const cache of applied) cache.serveStale(extendMs);
      return `serving stale from ${applied.map((c) => c.name).join(', ')}`;
    },
    rollback() {
      for (const cache of applied) cache.serveStale(false);
      applied = [];
    },
  };
}

export interface OpenCircuitOptions {
  /** Only these breakers (by name). @default every breaker of the Keel (`keel.breaker`) */
  breakers?: string[];
  /** Calls a breaker's window must hold before it is judged. @default 5 */
  minimumCalls?: number;
  /** Open a breaker whose share of slow calls (over its `slowCallMs`) is at least this. @default 0.2 */
  slowCallRatio?: number;
  /** ... or whose share of failed calls is at least this. @default 0.2 */
  failureRatio?: number;
}

/**
 * Opens the circuit to each dependency that is slow or failing (judged from
 * its breaker's window), so requests take the fallback instead of waiting.
 * Rolling back releases it: the breaker probes half-open and closes once the
 * dependency answers.
 */
export function openCircuit(options: OpenCircuitOptions = {}): Mitigation {
  const minimumCalls = options.minimumCalls ?? 5;
  const slow = options.slowCallRatio ?? 0.2;
  const failing = options.failureRatio ?? 0.2;
  const suspects = (keel: Keel) =>
    keel.breakers.filter((b) => {
      if (options.breakers && !options.breakers.includes(b.name)) return false;
      const s = b.stats();
      if (s.state === 'open' || s.calls < minimumCalls) return false;
      return (s.slowCallRatio ?? 0) >= slow || (s.failureRatio ?? 0) >= failing;
    });
  let opened: ReturnType<typeof suspects> = [];
  return {
    name: 'open-circuit',
    description: 'open the circuit to slow or failing dependencies (callers get the fallback)',
    priority: 20,
    applicable: (ctx) => suspects(ctx.keel).length > 0,
    apply(ctx) {
      opened = suspects(ctx.keel);
      const detail = opened.map((b) => {
        const s = b.stats();
        return `${b.name} (${Math.round((s.slowCallRatio ?? 0) * 100)} % slow, ${Math.round((s.failureRatio ?? 0) * 100)} % failed)`;
      });
      for (const b of opened) b.forceOpen(`monitor: ${ctx.reason}`);
      return `opened ${detail.join(', ')}`;
    },
    rollback() {
      for (const b of opened) b.release();
      opened = [];
    },
  };
}

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

/**
 * Answers new requests 503 + Retry-After (probes and critical routes
 * excepted) through the adapters' load shedding, so the requests that are
 * let in are served in time.
 */
export function shedLoad(): Mitigation {
  return {
    name: 'shed-load',
    description: 'answer non-critical requests 503 + Retry-After',
    priority: 40,
    applicable: (ctx) =>
      !ctx.keel.shedder.shedding &&
      (httpBreached(ctx) || ctx.analysis.costs.some((c) => c.name.startsWith('runtime:'))),
    apply(ctx) {
      ctx.keel.shedder.force(`monitor: ${ctx.reason}`);
      return 'shedding non-critical requests';
    },
    rollback(ctx) {
      ctx.keel.shedder.force(undefined);
    },
  };
}

/**
 * Turns `/readyz` 503 so the orchestrator stops routing here (and may replace
 * the instance). Opt-in: a fleet-wide cause would drain every instance at once.
 */
export function readinessOff(): Mitigation {
  let release: (() => void) | undefined;
  return {
    name: 'readiness-off',
    description: 'turn readiness off so the load balancer drains this instance',
    priority: 80,
    applicable: () => release === undefined,
    apply(ctx) {
      release = ctx.keel.holdReadiness(`monitor: ${ctx.reason}`);
      return 'readiness off';
    },
    rollback() {
      release?.();
      release = undefined;
    },
  };
}

export interface GracefulRestartOptions {
  /**
   * Drains the app before exit, e.g. `() => k.shutdown()` from `@keel/express`
   * (readiness 503, in-flight requests finish, cleanups run).
   * @default readiness off, then `drainMs` of waiting
   */
  drain?: () => unknown;
  /** Wait after readiness turns off when there is no `drain`, ms. @default 5000 */
  drainMs?: number;
  /** How the process ends; tests pass their own. @default process.exit */
  exit?: (code: number) => unknown;
  /** @default 0: a planned restart, not a crash */
  exitCode?: number;
}

/**
 * The last resort: drain, then exit so the process manager or Kubernetes
 * starts a fresh instance. Irreversible, opt-in.
 */
export function gracefulRestart(options: GracefulRestartOptions = {}): Mitigation {
  const exit = options.exit ?? ((code: number) => process.exit(code));
  return {
    name: 'graceful-restart',
    description: 'drain, then exit for the process manager to restart',
    priority: 90,
    async apply(ctx) {
      await ctx.flush();
      if (options.drain) await options.drain();
      else {
        ctx.keel.beginShutdown();
        const ms = options.drainMs ?? 5000;
        await new Promise<void>((resolve) => ctx.keel.config.clock.setTimeout(resolve, ms));
      }
      await ctx.flush();
      exit(options.exitCode ?? 0);
      return 'exit requested';
    },
  };
}
