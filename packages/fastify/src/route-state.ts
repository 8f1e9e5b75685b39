import { type Keel, KeelError, KeelErrorCode, type ResponseCacheOptions } from '@keel/core';
import type { FastifyRequest, RouteOptions } from 'fastify';
import { type KeelRouteOptions, type RouteSettings, resolveRouteSettings } from './options.js';
import type { RouteCache } from './response-cache.js';

// What each route means to Keel, decided once when the route is added and
// read on each request from Fastify's route context (decision 0010).

/** What the request path needs to know about a route, decided when the route is added. */
export interface RouteState {
  /** The route template recorded (prefixes included), or `undefined` for requests no route matched. */
  readonly url: string | undefined;
  readonly critical: boolean;
  /** Deadline for the request context, ms, or `undefined` for none. */
  readonly budgetMs: number | undefined;
  /** Keel's own endpoints: never shed, never recorded. */
  readonly endpoint: boolean;
  readonly cache: RouteCache | undefined;
}

/** Where a route's state lives in its Fastify `config`. */
const kState = Symbol('keel.route');
type WithState = { [kState]?: RouteState };

const ENDPOINT: RouteState = Object.freeze({
  url: undefined,
  critical: true,
  budgetMs: undefined,
  endpoint: true,
  cache: undefined,
});

/** The `config` of a route Keel answers itself (its endpoints, the beacon): never shed, never recorded. */
export function endpointConfig(): RouteOptions['config'] {
  return { [kState]: ENDPOINT } as RouteOptions['config'];
}

/** Gives a route that asks for a cache (`options`, from its `config.keel` object `given`) that cache, wrapping its handler. */
export type CacheRoute = (
  route: RouteOptions,
  methods: readonly string[],
  options: ResponseCacheOptions,
  given: KeelRouteOptions,
) => RouteCache;

export interface RouteStates {
  /** Fastify's `onRoute` hook: works out and keeps the state of every route added after the plugin. */
  onRoute(route: RouteOptions): void;
  /** The state of the route `request` matched (the unmatched state when none). */
  stateOf(request: FastifyRequest): RouteState;
}

/**
 * The routes' states for one app. `cacheRoute` gives a route its response
 * cache; `report` receives what is reported rather than thrown.
 */
export function routeStates(
  keel: Keel,
  cacheRoute: CacheRoute,
  report: (where: string, error: unknown) => void,
): RouteStates {
  const contexts = keel.context;
  // Decided here, not per request. Requests no route matched get this state.
  const unmatched: RouteState = Object.freeze({
    url: undefined,
    critical: false,
    budgetMs: keel.config.requestDeadline,
    endpoint: false,
    cache: undefined,
  });

  // Every route's state is decided once, when it is added: a typo in `config.keel` fails at startup.
  function onRoute(route: RouteOptions): void {
    if ((route.config as WithState | undefined)?.[kState] !== undefined) return;
    const given = route.config?.keel;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const settings = routeSettings(methods, route.url, given);
    // `settings.cache` is only set when `config.keel` was given.
    const cache = settings.cache && given ? cacheRoute(route, methods, settings.cache, given) : undefined;
    const state: RouteState = Object.freeze({ ...settings, url: route.url, cache });
    // A copy: one config object may be shared by several routes.
    route.config = { ...route.config, [kState]: state } as RouteOptions['config'];
  }

  /** A route's checked `config.keel` (a bad one throws, naming the route). */
  function routeSettings(methods: readonly string[], url: string, given: unknown): RouteSettings {
    const settings = resolveRouteSettings({ methods, url }, given, keel);
    // A route's own deadline is only worth setting if the code below can read it.
    if ((given as KeelRouteOptions | undefined)?.deadline) contexts.use();
    return settings;
  }

  /**
   * The route's state. Fastify's `request.routeOptions` builds a new object
   * on every read; the route context it reads is found once (by identity with
   * what `routeOptions` returns) and read directly after that.
   */
  let routeContextKey: symbol | null | undefined;
  function stateOf(request: FastifyRequest): RouteState {
    if (routeContextKey === undefined) routeContextKey = findRouteContextKey(request);
    const config = (
      routeContextKey === null
        ? request.routeOptions.config
        : (request as unknown as Record<symbol, { config?: unknown }>)[routeContextKey]?.config
    ) as WithState | undefined;
    return config?.[kState] ?? lateState(config);
  }

  /**
   * The state of a route `onRoute` never saw, worked out on its first request
   * and kept on its config: a route added before the plugin ran (after an
   * `app.register(keelFastify)` that was not awaited), or a 404 handler.
   */
  function lateState(config: (WithState & Record<string, unknown>) | undefined): RouteState {
    if (config === null || typeof config !== 'object') return unmatched;
    let state = unmatched;
    // Fastify sets `url` on the config of every route, and not on its 404 handlers'.
    if (typeof config.url === 'string') {
      const methods = (Array.isArray(config.method) ? config.method : [config.method]).map(String);
      try {
        const settings = routeSettings(methods, config.url, config.keel);
        state = Object.freeze({ ...settings, url: config.url, cache: undefined });
        if (settings.cache) {
          throw new KeelError(
            KeelErrorCode.InvalidOption,
            `@keel/fastify: route ${methods.join(',')} ${config.url} was added before the plugin ran, so its \`config.keel.cache\` is off: \`await app.register(keelFastify)\` before adding routes.`,
          );
        }
      } catch (error) {
        // Recorded under its own template all the same; its settings are reported, once.
        if (state === unmatched) state = Object.freeze({ ...unmatched, url: config.url });
        report('route', error);
      }
    }
    try {
      config[kState] = state;
    } catch {
      // A frozen config: worked out again on each request, still right.
    }
    return state;
  }

  return { onRoute, stateOf };
}

/**
 * The symbol under which Fastify keeps a request's route context: the own
 * property holding the very object whose `config` `routeOptions` returns.
 * `null` when there is none to find (then `routeOptions` is read every time).
 */
function findRouteContextKey(request: FastifyRequest): symbol | null {
  const config = request.routeOptions.config;
  if (config === null || typeof config !== 'object') return null;
  for (const key of Object.getOwnPropertySymbols(request)) {
    const value = (request as unknown as Record<symbol, unknown>)[key];
    if (value !== null && typeof value === 'object' && (value as { config?: unknown }).config === config)
      return key;
  }
  return null;
}
