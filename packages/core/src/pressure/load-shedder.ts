import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';
import type { SheddingConfig } from './shedding-options.js';

/**
 * Decides, off the request path, whether new requests should be turned away.
 * The runtime sampler updates it on Keel's tick and the monitor (or the app)
 * can force it, for the whole app or for some routes only; a request reads
 * `shedding`, a boolean, and only when that is true asks `shedsRoute`.
 */
export class LoadShedder {
  /**
   * Read per request: true means some requests are being shed now. When
   * `routes` is `null` every request is (probes and critical routes
   * excepted); otherwise only requests on those routes are (`shedsRoute`).
   */
  shedding = false;
  /** Why, in words; empty when not shedding. */
  reason = '';
  /**
   * The route templates being shed, or `null` when shedding covers every
   * route (runtime pressure, or a force without routes) or is off.
   */
  routes: ReadonlySet<string> | null = null;
  /** Requests turned away since start. */
  shed = 0;
  readonly config: SheddingConfig;
  #forced: string | undefined;
  #forcedRoutes: ReadonlySet<string> | null = null;
  #pressure: string | undefined;

  constructor(config: SheddingConfig) {
    this.config = config;
  }

  /** Re-judges pressure from a fresh runtime sample. */
  update(runtime: RuntimeSnapshot): void {
    if (!this.config.enabled) return;
    const heap = runtime.heapLimitBytes > 0 ? runtime.heapUsedBytes / runtime.heapLimitBytes : 0;
    if (runtime.eventLoopDelayP99 >= this.config.eventLoopDelay) {
      this.#pressure = `event-loop delay p99 ${Math.round(runtime.eventLoopDelayP99)} ms >= ${this.config.eventLoopDelay} ms`;
    } else if (heap >= this.config.heapUsedRatio) {
      this.#pressure = `heap ${Math.round(heap * 100)} % of limit >= ${Math.round(this.config.heapUsedRatio * 100)} %`;
    } else {
      this.#pressure = undefined;
    }
    this.#apply();
  }

  /**
   * Forces shedding on (with a reason) or releases a forced state
   * (`undefined`). With `routes` (templates such as `/users/:id`), only
   * requests on those routes are shed, so one slow route cannot shut the
   * whole app; runtime pressure still sheds everything.
   */
  force(reason: string | undefined, routes?: Iterable<string>): void {
    this.#forced = reason;
    this.#forcedRoutes = reason !== undefined && routes !== undefined ? new Set(routes) : null;
    this.#apply();
  }

  /** Whether a request on `route` is shed now (critical routes are the adapter's to exempt). */
  shedsRoute(route: string): boolean {
    if (!this.shedding) return false;
    return this.routes === null || this.routes.has(route);
  }

  #apply(): void {
    // Pressure is the process's own distress: it sheds every route, whatever a force scoped.
    const global =
      this.#pressure !== undefined || (this.#forced !== undefined && this.#forcedRoutes === null);
    const forcedEverywhere = this.#forced !== undefined && this.#forcedRoutes === null;
    const reason = forcedEverywhere ? this.#forced : (this.#pressure ?? this.#forced);
    this.shedding = reason !== undefined;
    this.reason = reason ?? '';
    this.routes = this.shedding && !global ? this.#forcedRoutes : null;
  }
}

/** What `/health` shows of shedding: `routes` is `null` when every route is shed. */
export interface SheddingSnapshot {
  readonly active: boolean;
  readonly reason: string;
  readonly shed: number;
  readonly routes: readonly string[] | null;
}

export function sheddingSnapshot(shedder: LoadShedder): SheddingSnapshot {
  return Object.freeze({
    active: shedder.shedding,
    reason: shedder.reason,
    shed: shedder.shed,
    routes: shedder.routes === null ? null : Object.freeze([...shedder.routes]),
  });
}
