import {
  checkAdapterOptionKeys,
  checkKnownKeys,
  type GracefulShutdownOptions,
  invalidOptionOf,
  Keel,
  type KeelError,
  type KeelOptions,
  type ResponseCacheOptions,
} from '@keel/core';

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
   * Mount `GET /livez`, `/readyz`, `/health`, `/metrics` and the `/keel` dashboard (at `keel.paths`)
   * on this app. Turn it off when they are served elsewhere, e.g. by
   * `keel.listen(adminPort)`.
   * @default true
   */
  mountEndpoints?: boolean;
  /**
   * Take `@keel/web-vitals` beacons (`POST`, and CORS preflights) at
   * `keel.vitals.path` (`/keel/vitals`). Nothing is mounted when core's
   * `vitals` option is `false`.
   * @default true
   */
  mountVitals?: boolean;
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

/** A route's response cache: core's `ResponseCacheOptions`, the same as `@keel/express`'s `k.cache()`. */
export type KeelRouteCacheOptions = ResponseCacheOptions;

/** The plugin options after validation and defaults, frozen. */
export interface KeelFastifyConfig {
  /** The caller's instance, or `undefined` when the plugin creates (and owns) one. */
  readonly keel: Keel | undefined;
  /** Options for the instance the plugin creates. */
  readonly keelOptions: KeelOptions;
  readonly mountEndpoints: boolean;
  readonly mountVitals: boolean;
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
  /** The route's response cache options; the cache checks them when the plugin builds it. */
  readonly cache: ResponseCacheOptions | undefined;
}

/** The plugin's own options; every other key must be one of `createKeel`'s. */
const OWN_KEYS: ReadonlySet<string> = new Set([
  'keel',
  'mountEndpoints',
  'mountVitals',
  'serverTiming',
  'shutdown',
] satisfies (keyof KeelFastifyOptions)[]);
/** `@keel/express` options that Fastify takes per route, where the route's template is known. */
const ROUTE_ONLY: Readonly<Record<string, string>> = {
  critical: 'is set per route here: `{ config: { keel: { critical: true } } }`',
  deadline:
    'is set per route here (`{ config: { keel: { deadline: ms } } }`), or for every route as `requestDeadline`',
  cache: 'is set per route here: `{ config: { keel: { cache: { ttl } } } }`',
};
const SHUTDOWN_KEYS = new Set(['preStopDelay', 'drainTimeout', 'cleanupTimeout', 'signals']);
const ROUTE_KEYS = new Set(['critical', 'deadline', 'cache']);
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
    mountVitals,
    serverTiming,
    shutdown: shutdownInput,
    ...keelOptions
  } = plainObject('options', input ?? {}, 'must be an object') as KeelFastifyOptions;
  checkAdapterOptionKeys('@keel/fastify', keelOptions, OWN_KEYS, ROUTE_ONLY);

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
  checkKnownKeys(shutdown, SHUTDOWN_KEYS, (key, rule, got) => invalid(`shutdown.${key}`, rule, got));
  // GracefulShutdown validates the durations itself and names them the same way.
  const { signals, ...durations } = shutdown as KeelFastifyShutdownOptions;

  return Object.freeze({
    keel,
    keelOptions,
    mountEndpoints: boolean('mountEndpoints', mountEndpoints, true),
    mountVitals: boolean('mountVitals', mountVitals, true),
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
  checkKnownKeys(o, ROUTE_KEYS, (key, rule, got) => invalid(`config.keel.${key}`, rule, got, route));
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
    cache: o.cache as ResponseCacheOptions | undefined,
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

/** The option, the route it belongs to (if any) and the rule it broke, worded like core's errors. */
function invalid(path: string, rule: string, got: unknown, route?: string): KeelError {
  return invalidOptionOf(
    route === undefined ? '@keel/fastify' : `@keel/fastify: route ${route}`,
    path,
    rule,
    got,
  );
}
