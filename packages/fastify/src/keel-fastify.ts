import { ServerResponse } from 'node:http';
// The module's `performance`, not the global: that one is a getter on globalThis, run on every read.
import { performance } from 'node:perf_hooks';
import {
  addServerTiming,
  appendServerTiming,
  type CachedResponse,
  createKeel,
  type EndpointName,
  GracefulShutdown,
  handleSignals,
  type Keel,
  KeelError,
  KeelErrorCode,
  OPTIMISE_PATHS,
  outcomeAtClose,
  type RequestContext,
  type ShutdownReport,
  UNMATCHED_ROUTE,
  type WriteHead,
} from '@keel/core';
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  RouteHandlerMethod,
  RouteOptions,
} from 'fastify';
import fp from 'fastify-plugin';
import {
  type KeelFastifyOptions,
  type KeelRouteOptions,
  type RouteSettings,
  resolvePluginOptions,
  resolveRouteSettings,
} from './options.js';
import { answer, type Capture, NotCacheable, RouteCache, refreshToken } from './response-cache.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Keel's settings for this route. */
    keel?: KeelRouteOptions;
  }
  interface FastifyInstance {
    /** The Keel instance this app feeds. */
    readonly keel: Keel;
    /**
     * Shuts the app down without dropping a request (see `shutdown` in the
     * plugin options). Runs once; later calls return the same promise.
     */
    keelShutdown(): Promise<ShutdownReport>;
  }
}

/** What the request path needs to know about a route, decided when the route is added. */
interface RouteState {
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
type PendingCapture = Capture & { readonly cache: RouteCache };
type WithState = { [kState]?: RouteState };

// What Keel keeps on the raw response of a request it records: plain
// properties on an object that exists anyway, so recording allocates nothing.
const kStart = Symbol('keel.start');
const kRoute = Symbol('keel.route');
const kContext = Symbol('keel.context');
const kSlot = Symbol('keel.slot');
type RecordedResponse = ServerResponse & {
  /** Graceful shutdown's slot for this response (`requestStarted`). */
  [kSlot]?: number;
  /** `performance.now()` when the request reached Keel; unset for requests Keel does not record. */
  [kStart]?: number;
  [kRoute]?: string;
  /** Only while request contexts propagate (see `RequestContexts`). */
  [kContext]?: RequestContext;
};
const nodeWriteHead = ServerResponse.prototype.writeHead as unknown as WriteHead;

const ENDPOINT: RouteState = Object.freeze({
  url: undefined,
  critical: true,
  budgetMs: undefined,
  endpoint: true,
  cache: undefined,
});
// Fastify's own error shape, so clients that parse Fastify errors read this one too.
const SHED_BODY = JSON.stringify({
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'The server is overloaded; retry later.',
});

const plugin: FastifyPluginAsync<KeelFastifyOptions> = async (app, options) => {
  if (app.hasDecorator('keel')) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      '@keel/fastify is registered twice on this app (it would record every request twice): register it once, on the root instance; pass `keel` to share one Keel between apps.',
    );
  }
  const config = resolvePluginOptions(options);
  const owned = config.keel === undefined;
  const keel = config.keel ?? createKeel(config.keelOptions);
  let shutdown: GracefulShutdown;
  try {
    shutdown = new GracefulShutdown(keel, config.shutdown);
  } catch (error) {
    // Invalid shutdown durations: don't leave the instance we just created ticking.
    if (owned) await keel.close();
    throw error;
  }

  // Decided here, not per request. Requests no route matched get this state.
  const unmatched: RouteState = Object.freeze({
    url: undefined,
    critical: false,
    budgetMs: keel.config.requestDeadline,
    endpoint: false,
    cache: undefined,
  });
  const retryAfter = String(keel.shedder.config.retryAfterSeconds);
  const timing = config.serverTiming;
  const token = refreshToken();
  const contexts = keel.context;
  // GET and its automatic HEAD route share the user's `config.keel` object, URL and
  // constraints, and so one cache; other routes given the same object get their own.
  const caches = new WeakMap<object, RouteCache[]>();
  // Cache misses waiting for this request's own answer; `onSend` settles them.
  // A WeakMap rather than a request decoration, which Fastify would initialise on every request.
  const captures = new WeakMap<FastifyRequest, PendingCapture>();

  const report = (where: string, error: unknown) => keel.reportError(`fastify:${where}`, error);

  app.decorate('keel', keel);
  // Installed last, once nothing else here can fail.
  let removeSignals: (() => void) | undefined;
  app.decorate('keelShutdown', () => {
    const done = shutdown.shutdown();
    // Started by the app rather than a signal: once it is over, a signal has nothing left to stop.
    if (removeSignals !== undefined) done.then(removeSignals, removeSignals);
    return done;
  });

  // Every route's state is decided once, when it is added: a typo in `config.keel` fails at startup.
  app.addHook('onRoute', (route) => {
    if ((route.config as WithState | undefined)?.[kState] !== undefined) return;
    const given = route.config?.keel;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const settings = routeSettings(methods, route.url, given);
    let cache: RouteCache | undefined;
    // `settings.cache` is only set when `config.keel` was given.
    if (settings.cache && given) {
      const shared = caches.get(given) ?? [];
      caches.set(given, shared);
      cache = shared.find((c) => c.url === route.url && c.constraints === route.constraints);
      if (!cache) {
        const where = `${methods.join(',')} ${route.url}`;
        cache = new RouteCache(keel, app, settings.cache, where, token, route.url, route.constraints);
        shared.push(cache);
      }
      route.handler = cachedHandler(route.handler, cache);
    }
    const state: RouteState = Object.freeze({ ...settings, url: route.url, cache });
    // A copy: one config object may be shared by several routes.
    route.config = { ...route.config, [kState]: state } as RouteOptions['config'];
  });

  /** A route's checked `config.keel` (a bad one throws, naming the route). */
  function routeSettings(methods: readonly string[], url: string, given: unknown): RouteSettings {
    const settings = resolveRouteSettings({ methods, url }, given, keel);
    // A route's own deadline is only worth setting if the code below can read it.
    if ((given as KeelRouteOptions | undefined)?.deadline) contexts.use();
    return settings;
  }

  /**
   * Answers from the route's cache, or lets this request run the handler and
   * keeps its answer. Returns a promise to Fastify, which settles with what
   * the handler returned when this request ran it, so Fastify treats that
   * result (a value, `undefined`, a throw of anything) as it would have
   * without the cache; with `reply` once a cached answer was sent.
   */
  function cachedHandler(original: RouteHandlerMethod, rc: RouteCache): RouteHandlerMethod {
    return function keelCachedHandler(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const key = rc.keyOfRequest(request);
      if (key === undefined) return original.call(this, request, reply);
      const started = performance.now();
      const held = rc.cache.peek(key) !== undefined;
      return new Promise<unknown>((settle) => {
        let ranHandler = false;
        rc.cache
          .get(key, () => {
            // Held but stale: refreshed in the background while this request gets the stale answer.
            if (held) return rc.replay(request);
            return capture(request, reply, rc, () => {
              ranHandler = true;
              settle(answer(this, original, request, reply));
            });
          })
          .then(
            (entry) => {
              try {
                keel.context.addCacheTime(performance.now() - started, held);
              } catch (error) {
                report('cache', error);
              }
              if (ranHandler) return;
              try {
                rc.send(request, reply, entry, held ? 'HIT' : 'MISS');
              } catch (error) {
                report('cache', error);
                if (!reply.sent) return settle(answer(this, original, request, reply));
              }
              // Sent already unless an async onSend hook still runs: then Fastify waits on `reply`.
              settle(reply.sent ? undefined : reply);
            },
            (error: unknown) => {
              // This request ran the handler: its answer is already on its way.
              if (ranHandler) return;
              if (!(error instanceof NotCacheable)) report('cache', error);
              settle(answer(this, original, request, reply));
            },
          );
      });
    } as RouteHandlerMethod;
  }

  /**
   * Registers this request's answer for the cache (`onSend` hands it over),
   * then runs the handler (`run`).
   */
  function capture(
    request: FastifyRequest,
    reply: FastifyReply,
    cache: RouteCache,
    run: () => void,
  ): Promise<CachedResponse> {
    return new Promise<CachedResponse>((resolve, reject) => {
      // The answer is for everyone: this client gets it whole rather than a 304.
      delete request.headers['if-none-match'];
      delete request.headers['if-modified-since'];
      reply.header('x-cache', 'MISS');
      captures.set(request, { resolve, reject, cache });
      // Never reached onSend (the client left, the reply was hijacked): the waiters run their own handler.
      reply.raw.once('close', () => {
        const pending = captures.get(request);
        captures.delete(request);
        pending?.reject(new NotCacheable());
      });
      run();
    });
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

  /** Ends the request's shutdown tracking, and records it: answered, or not (499 or, cut by shutdown, 503). */
  function onResponseClose(this: RecordedResponse): void {
    shutdown.requestEnded(this, this[kSlot] ?? -1);
    const start = this[kStart];
    if (start === undefined) return;
    try {
      // `writableEnded`, not `writableFinished`: app.inject()'s responses never report finished.
      const ended = this.writableEnded;
      // Unanswered: the client left (499), or shutdown cut it off (503).
      const status = ended ? this.statusCode : shutdown.unansweredStatus;
      // The context is only read for a 5xx or during an optimiser capture: most responses never
      // had one set, and the lookup is not free.
      const context = status >= 500 || keel.optimiser?.capturing === true ? this[kContext] : undefined;
      const outcome = status < 500 ? '' : outcomeAtClose(status, ended, context);
      keel.recordRequest(
        this.req.method!,
        this[kRoute]!,
        status,
        performance.now() - start,
        outcome,
        context,
      );
      // The optimiser's traffic profile: a sample now and then (every request during a capture).
      const traffic = keel.traffic;
      if (traffic?.sampling)
        traffic.sample(this.req.method!, this[kRoute]!, this.req.url!, status, this.getHeader('etag'));
    } catch (error) {
      report('record', error);
    }
  }

  // `Server-Timing` is added as Fastify writes the head, by a `writeHead` put
  // on the response itself, which costs less per request than an `onSend` hook.

  /**
   * Node's own `writeHead`, then `Server-Timing` appended to the head it built.
   * Shared by every response whose `writeHead` is Node's: no closure per request.
   */
  const writeHeadWithTiming = function writeHeadWithTiming(
    this: RecordedResponse,
    statusCode: number,
    reason?: unknown,
    headers?: unknown,
  ) {
    const written = nodeWriteHead.call(this, statusCode, reason, headers);
    timeHead(this, true);
    return written;
  } as WriteHead;

  /**
   * `original` (a `writeHead` something else put on the response, such as
   * `app.inject()`'s) with `Server-Timing` added to the headers before it runs,
   * since a wrapper may read them before Node builds the head.
   */
  function timedWriteHead(original: WriteHead): WriteHead {
    return function writeHeadWithTiming(this: RecordedResponse, statusCode, reason, headers) {
      if (!this.headersSent) timeHead(this, false, reason, headers);
      return original.call(this, statusCode, reason, headers);
    };
  }

  /**
   * Adds `Server-Timing` to a recorded response: appended to the head Node's
   * `writeHead` just built (`afterNode`), or set before a `writeHead` that is
   * not Node's runs. A failure is reported, never thrown.
   */
  function timeHead(res: RecordedResponse, afterNode: boolean, reason?: unknown, headers?: unknown): void {
    try {
      const start = res[kStart];
      if (start === undefined) return;
      const ms = performance.now() - start;
      if (afterNode) appendServerTiming(res, res[kContext], ms);
      else addServerTiming(res, res[kContext], ms, reason, headers);
    } catch (error) {
      report('server-timing', error);
    }
  }

  /**
   * Answers 503 + Retry-After if the request's route is being shed (every
   * route, or one of `shedder.routes`), and records it under that route with
   * `keel_outcome="shed"`: a refused user counts against the budgets like any
   * 5xx. Answering from onRequest without calling done() ends the lifecycle.
   */
  function shed(request: FastifyRequest, reply: FastifyReply, state: RouteState): boolean {
    const route = state.url ?? UNMATCHED_ROUTE;
    if (!keel.shedder.shedsRoute(route)) return false;
    const started = performance.now();
    keel.shedder.shed++;
    reply
      .code(503)
      .header('retry-after', retryAfter)
      .header('cache-control', 'no-store')
      .type('application/json; charset=utf-8')
      .send(SHED_BODY);
    try {
      keel.recordRequest(request.method, route, 503, performance.now() - started, 'shed');
    } catch (error) {
      report('record', error);
    }
    return true;
  }

  app.addHook('onRequest', (request, reply, done) => {
    const raw = reply.raw as RecordedResponse;
    try {
      raw[kSlot] = shutdown.requestStarted(raw);
      // One shared listener ends tracking and records the answer, or the
      // abort: cheaper per request than Fastify's onResponse and onRequestAbort hooks.
      raw.on('close', onResponseClose);
      const state = stateOf(request);
      if (state.endpoint) return done();
      if (state.cache?.isRefresh(request)) {
        // Keel's own replay: it has a deadline like any request, but is neither shed nor recorded.
        if (contexts.propagating) contexts.enter(state.budgetMs);
        return done();
      }
      if (keel.shedder.shedding && !state.critical && shed(request, reply, state)) return;
      raw[kStart] = performance.now();
      raw[kRoute] = state.url ?? UNMATCHED_ROUTE;
      // Contexts are only built once something reads them (see RequestContexts).
      // enterWith: everything the rest of this request runs, handler included, sees the context.
      if (contexts.propagating) {
        const context = contexts.enter(state.budgetMs);
        context.route = raw[kRoute];
        raw[kContext] = context;
      }
      if (timing) {
        const current = raw.writeHead as unknown as WriteHead;
        // Something before Keel may already wrap this response's `writeHead`: wrap it in turn.
        raw.writeHead = (current === nodeWriteHead ? writeHeadWithTiming : timedWriteHead(current)) as never;
      }
    } catch (error) {
      report('onRequest', error);
    }
    done();
  });

  // Registered before any plugin the app adds later, so a miss is captured
  // before a compression hook rewrites the payload.
  app.addHook('onSend', (request, reply, payload, done) => {
    const pending = captures.get(request);
    if (pending !== undefined) {
      captures.delete(request);
      try {
        const entry = pending.cache.captured(request, reply, payload);
        if (entry) {
          // The live answer gets the ETag and Vary of later hits (see core's `labelOf`).
          reply.headers(pending.cache.labelOf(entry));
          pending.resolve(entry);
        } else {
          pending.reject(new NotCacheable());
        }
      } catch (error) {
        pending.reject(error);
      }
    }
    done(null, payload);
  });

  if (config.mountEndpoints) {
    // Every endpoint core has (`keel.paths`), the dashboard at /keel included.
    for (const name of Object.keys(keel.paths) as EndpointName[]) {
      const handler = keel.handlers[name];
      app.route({
        // Both methods explicitly, so HEAD works even with `exposeHeadRoutes: false`.
        method: ['GET', 'HEAD'],
        url: keel.paths[name],
        config: { [kState]: ENDPOINT } as RouteOptions['config'],
        handler(request, reply) {
          // Core writes status, headers and body itself; Fastify must not add its own.
          reply.hijack();
          handler(request.raw, reply.raw);
        },
      });
    }
  }

  // The optimiser's admin endpoints (report, on-demand capture, traffic profile): core answers them.
  if (config.mountEndpoints && keel.optimiser) {
    for (const path of Object.values(OPTIMISE_PATHS)) {
      app.route({
        method: ['GET', 'HEAD', 'POST'],
        url: `${keel.config.endpoints.prefix}${path}`,
        config: { [kState]: ENDPOINT } as RouteOptions['config'],
        handler(request, reply) {
          reply.hijack();
          keel.handle(request.raw, reply.raw);
        },
      });
    }
  }

  const vitals = config.mountVitals ? keel.vitals : undefined;
  if (vitals) {
    app.route({
      method: ['POST', 'OPTIONS'],
      url: vitals.path,
      config: { [kState]: ENDPOINT } as RouteOptions['config'],
      // Answered before Fastify parses the body: the collector reads it itself, bounded in size and time.
      async onRequest(request, reply) {
        reply.hijack();
        vitals.handle(request.raw, reply.raw);
        return reply;
      },
      handler() {},
    });
  }

  // The server exists from `Fastify()` on, so requests are tracked from the first one.
  // HTTP/2 servers have no keep-alive sockets to drain; shutdown then still runs its other steps.
  if (typeof app.server.closeIdleConnections === 'function')
    shutdown.attach(app.server, { trackRequests: false });
  // Fastify's own close (preClose/onClose hooks of every plugin) runs as a cleanup, after the drain.
  const removeCleanup = keel.onShutdown(() => app.close(), 'fastify');
  if (config.signals) removeSignals = handleSignals(shutdown);

  app.addHook('onClose', async () => {
    removeCleanup();
    // While a signal-driven shutdown runs, a second signal must still find its handler.
    if (!shutdown.shuttingDown) removeSignals?.();
    if (owned) await keel.close();
  });
};

/**
 * The Fastify 5 plugin: records every request into Keel, mounts its
 * endpoints, sheds load, carries a request context with a deadline, adds
 * `Server-Timing`, caches routes that ask for it, and shuts down gracefully
 * with `app.keelShutdown()`.
 *
 * ```ts
 * await app.register(keelFastify, { service: 'checkout' });
 * ```
 */
export const keelFastify = fp(plugin, { fastify: '5.x', name: '@keel/fastify' });

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
