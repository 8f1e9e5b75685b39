import { type GracefulShutdownOptions, Keel, KeelError, KeelErrorCode, type KeelOptions } from '@keel/core';

export interface KeelFastifyShutdownOptions extends GracefulShutdownOptions {
  /**
   * Install SIGTERM/SIGINT handlers that run `app.keelShutdown()` and then
   * exit the process (a second signal cuts every connection and exits at once).
   * @default false
   */
  signals?: boolean;
}

/**
 * The plugin's options: its own four, plus any `KeelOptions` field for the
 * instance it creates when `keel` is not given.
 */
export interface KeelFastifyOptions extends KeelOptions {
  /**
   * Feed this instance instead of creating one. The caller owns it: Fastify's
   * `close()` leaves it open. Cannot be combined with `KeelOptions` fields.
   * @default a new instance from the other fields, closed with the app
   */
  keel?: Keel;
  /**
   * Mount `GET /livez`, `/readyz`, `/health` and `/metrics` (at `keel.paths`)
   * on this app. Turn it off when they are served elsewhere, e.g. by
   * `keel.listen(adminPort)`.
   * @default true
   */
  mountEndpoints?: boolean;
  /**
   * Add a `Server-Timing` header (app time, plus db and cache time when used)
   * to every answer.
   * @default true
   */
  serverTiming?: boolean;
  /**
   * Graceful shutdown run by `app.keelShutdown()`: readiness 503, wait
   * `preStopDelay`, stop listening, drain in-flight requests, run cleanups
   * (Fastify's `onClose` hooks among them), close Keel.
   * @default { preStopDelay: 5000, drainTimeout: 10000, cleanupTimeout: 5000, signals: false }
   */
  shutdown?: KeelFastifyShutdownOptions;
}

/** Per-route settings, given as `config: { keel: {...} }` in the route options. */
export interface KeelRouteOptions {
  /** Never shed this route under load (health-critical or revenue-critical paths). @default false */
  critical?: boolean;
  /**
   * Time budget of one request on this route, ms, carried in the request
   * context (`keel.context.remainingMs()`); `false` for none.
   * @default the instance's `requestDeadline`
   */
  deadline?: number | false;
  /**
   * Answer GET and HEAD from a Keel cache (`keel.cache`): single-flight, so a
   * burst of identical misses runs the handler once; stale-while-revalidate;
   * ETag and 304. Only 200 answers without `Set-Cookie`, `private`, `no-store`
   * or `no-cache` are stored. Only on GET/HEAD routes.
   * @default off
   */
  cache?: KeelRouteCacheOptions;
}

/** A route's response cache; the same options and behaviour as `@keel/express`'s `responseCache`. */
export interface KeelRouteCacheOptions {
  /** Cache name in metrics (`keel_cache_requests_total{cache}`); unique per Keel. @default `http` + the route path, e.g. `http_users_id` */
  name?: string;
  /** How long an answer is fresh, ms. @default 60000 */
  ttl?: number;
  /** How long after `ttl` a stale answer may still be served while one background refresh runs, ms. @default 0 */
  staleWhileRevalidate?: number;
  /**
   * Request headers that select a different answer (besides the URL), e.g.
   * `['accept-language']`. A background refresh replays the request with only
   * these headers (and `accept`).
   * @default []
   */
  vary?: string[];
  /** Entries kept. @default 1000 */
  max?: number;
  /** Bytes of bodies kept. @default 50 MiB */
  maxBytes?: number;
  /** `Cache-Control` sent when the handler sets none; `false` sends none. @default `public, max-age=<ttl s>` */
  cacheControl?: string | false;
  /** Cache answers to requests that carry `Authorization`. @default false */
  cacheAuthorized?: boolean;
}

/** The plugin options after validation and defaults, frozen. */
export interface KeelFastifyConfig {
  /** The caller's instance, or `undefined` when the plugin creates (and owns) one. */
  readonly keel: Keel | undefined;
  /** Options for the instance the plugin creates. */
  readonly keelOptions: KeelOptions;
  readonly mountEndpoints: boolean;
  readonly serverTiming: boolean;
  readonly shutdown: Readonly<GracefulShutdownOptions>;
  readonly signals: boolean;
}

/** What a route's `config.keel` resolves to, decided once when the route is added. */
export interface RouteSettings {
  readonly critical: boolean;
  /** Deadline for the request context, ms, or `undefined` for none. */
  readonly budgetMs: number | undefined;
  /** Keel's own endpoints: never shed, never recorded. */
  readonly endpoint: boolean;
  /** The route's response cache options, validated; the plugin builds the cache. */
  readonly cache: ResolvedRouteCache | undefined;
}

export interface ResolvedRouteCache {
  readonly name: string;
  readonly ttl: number;
  readonly staleWhileRevalidate: number;
  readonly max: number;
  readonly maxBytes: number;
  /** Lower-case header names. */
  readonly vary: readonly string[];
  readonly cacheControl: string | false;
  readonly cacheAuthorized: boolean;
}

const SHUTDOWN_KEYS = new Set(['preStopDelay', 'drainTimeout', 'cleanupTimeout', 'signals']);
const ROUTE_KEYS = new Set(['critical', 'deadline', 'cache']);
const CACHE_KEYS = new Set([
  'name',
  'ttl',
  'staleWhileRevalidate',
  'vary',
  'max',
  'maxBytes',
  'cacheControl',
  'cacheAuthorized',
]);
const HEADER_NAME = /^[\w-]+$/;
/** Same ceiling as core's `requestDeadline`. */
const MAX_DEADLINE = 3_600_000;

/**
 * Validates the plugin's own options and applies their defaults in one place;
 * `KeelOptions` fields are left to `createKeel`, which checks them the same way.
 */
export function resolvePluginOptions(input: unknown): KeelFastifyConfig {
  const {
    keel,
    mountEndpoints,
    serverTiming,
    shutdown: shutdownInput,
    ...keelOptions
  } = plainObject('options', input ?? {}, 'must be an object') as KeelFastifyOptions;

  if (keel !== undefined) {
    if (!(keel instanceof Keel)) {
      throw invalid(
        'keel',
        'must be a Keel from createKeel() (a second copy of @keel/core fails this too)',
        keel,
      );
    }
    const [extra] = Object.keys(keelOptions);
    if (extra !== undefined) {
      throw invalid(
        extra,
        'cannot be combined with `keel`; pass it to createKeel() instead',
        (keelOptions as Record<string, unknown>)[extra],
      );
    }
  }

  const shutdown = plainObject('shutdown', shutdownInput ?? {}, 'must be an object');
  for (const key of Object.keys(shutdown)) {
    if (!SHUTDOWN_KEYS.has(key)) {
      throw invalid(
        `shutdown.${key}`,
        `is not a known option (known: ${[...SHUTDOWN_KEYS].join(', ')})`,
        shutdown[key],
      );
    }
  }
  // GracefulShutdown validates the durations itself and names them the same way.
  const { signals, ...durations } = shutdown as KeelFastifyShutdownOptions;

  return Object.freeze({
    keel,
    keelOptions,
    mountEndpoints: boolean('mountEndpoints', mountEndpoints, true),
    serverTiming: boolean('serverTiming', serverTiming, true),
    shutdown: Object.freeze(durations),
    signals: boolean('shutdown.signals', signals, false),
  });
}

/**
 * Resolves a route's `config.keel` when the route is added, so a typo fails
 * at startup and the request path only reads the result.
 */
export function resolveRouteSettings(
  route: { methods: readonly string[]; url: string },
  input: unknown,
  keel: Keel,
): RouteSettings {
  const where = `${route.methods.join(',')} ${route.url}`;
  const settings = resolveRoute(where, input, keel);
  if (settings.cache && route.methods.some((m) => m !== 'GET' && m !== 'HEAD')) {
    throw invalid('config.keel.cache', 'is only for GET and HEAD routes', 'an object', where);
  }
  return settings;
}

function resolveRoute(route: string, input: unknown, keel: Keel): RouteSettings {
  const o = plainObject('config.keel', input ?? {}, 'must be an object', route);
  for (const key of Object.keys(o)) {
    if (!ROUTE_KEYS.has(key))
      throw invalid(
        `config.keel.${key}`,
        `is not a known option (known: ${[...ROUTE_KEYS].join(', ')})`,
        o[key],
        route,
      );
  }
  const deadline = o.deadline;
  if (
    deadline !== undefined &&
    deadline !== false &&
    !(Number.isInteger(deadline) && (deadline as number) > 0 && (deadline as number) <= MAX_DEADLINE)
  ) {
    throw invalid(
      'config.keel.deadline',
      `must be false or an integer number of ms from 1 to ${MAX_DEADLINE}`,
      deadline,
      route,
    );
  }
  return Object.freeze({
    critical: boolean('config.keel.critical', o.critical, false, route),
    budgetMs:
      deadline === undefined
        ? keel.config.requestDeadline
        : deadline === false
          ? undefined
          : (deadline as number),
    endpoint: false,
    cache: o.cache === undefined ? undefined : resolveCache(route, o.cache),
  });
}

/** Checks what core's `keel.cache` does not (it checks `name`, `ttl`, ... itself) and applies the defaults. */
function resolveCache(route: string, input: unknown): ResolvedRouteCache {
  const o = plainObject('config.keel.cache', input, 'must be an object', route);
  for (const key of Object.keys(o)) {
    if (!CACHE_KEYS.has(key)) {
      throw invalid(
        `config.keel.cache.${key}`,
        `is not a known option (known: ${[...CACHE_KEYS].join(', ')})`,
        o[key],
        route,
      );
    }
  }
  const vary = o.vary ?? [];
  if (!Array.isArray(vary) || !vary.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
    throw invalid('config.keel.cache.vary', 'must be an array of header names', vary, route);
  }
  const cacheControl = o.cacheControl;
  if (cacheControl !== undefined && cacheControl !== false && typeof cacheControl !== 'string') {
    throw invalid('config.keel.cache.cacheControl', 'must be a string or false', cacheControl, route);
  }
  const ttl = (o.ttl as number | undefined) ?? 60_000;
  const path = route.slice(route.indexOf(' ') + 1);
  return Object.freeze({
    name: (o.name as string | undefined) ?? `http${path.replace(/[^\w.-]+/g, '_')}`.slice(0, 64),
    ttl,
    staleWhileRevalidate: (o.staleWhileRevalidate as number | undefined) ?? 0,
    max: (o.max as number | undefined) ?? 1000,
    maxBytes: (o.maxBytes as number | undefined) ?? 50 * 1024 * 1024,
    vary: Object.freeze(vary.map((h: string) => h.toLowerCase())),
    // Infinity (cache until evicted) has no max-age to tell clients.
    cacheControl:
      cacheControl === undefined
        ? Number.isFinite(ttl)
          ? `public, max-age=${Math.floor(ttl / 1000)}`
          : 'public'
        : (cacheControl as string | false),
    cacheAuthorized: boolean('config.keel.cache.cacheAuthorized', o.cacheAuthorized, false, route),
  });
}

function plainObject(path: string, value: unknown, rule: string, route?: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw invalid(path, rule, value, route);
  return value as Record<string, unknown>;
}

function boolean(path: string, value: unknown, fallback: boolean, route?: string): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw invalid(path, 'must be a boolean', value, route);
  return value;
}

/** The option, the route it belongs to (if any) and the rule it broke, like core's `createKeel` errors. */
function invalid(path: string, rule: string, got: unknown, route?: string): KeelError {
  const shown =
    typeof got === 'string'
      ? JSON.stringify(got)
      : got === null || typeof got !== 'object'
        ? String(got)
        : Array.isArray(got)
          ? 'an array'
          : 'an object';
  const where = route === undefined ? '' : ` of route ${route}`;
  return new KeelError(
    KeelErrorCode.InvalidOption,
    `@keel/fastify: option \`${path}\`${where} ${rule} (got ${shown}).`,
  );
}
