import type { ServerResponse } from 'node:http';
import {
  ABORTED_STATUS,
  type CachedResponse,
  createKeel,
  type EndpointName,
  GracefulShutdown,
  handleSignals,
  type Keel,
  type RequestContext,
  type ShutdownReport,
  serverTiming,
  UNMATCHED_ROUTE,
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
  resolvePluginOptions,
  resolveRouteSettings,
} from './options.js';
import { type Capture, NotCacheable, RouteCache, refreshToken, runHandler } from './response-cache.js';

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
  readonly critical: boolean;
  /** Deadline for the request context, ms, or `undefined` for none. */
  readonly budgetMs: number | undefined;
  /** Keel's own endpoints: never shed, never recorded. */
  readonly endpoint: boolean;
  readonly cache: RouteCache | undefined;
}

/** Where a route's state lives in its Fastify `config`. */
const kState = Symbol('keel.route');
/**
 * The request's context while it is being recorded; `null` for requests Keel
 * does not record (its endpoints, shed requests, cache refreshes).
 */
const kContext = Symbol('keel.context');
/** Set while a cache miss waits for this request's own answer; `onSend` settles it. */
const kCapture = Symbol('keel.capture');

type Tracked = FastifyRequest & {
  [kContext]: RequestContext | null;
  [kCapture]: (Capture & { readonly cache: RouteCache }) | null;
};
type WithState = { [kState]?: RouteState };
/** The reply whose response this is, until it has been recorded. */
const kReply = Symbol('keel.reply');
const kStart = Symbol('keel.start');
type RecordedResponse = ServerResponse & { [kReply]?: FastifyReply; [kStart]?: number };

const ENDPOINT: RouteState = Object.freeze({
  critical: true,
  budgetMs: undefined,
  endpoint: true,
  cache: undefined,
});
const ENDPOINT_NAMES: readonly EndpointName[] = ['livez', 'readyz', 'health', 'metrics'];
// Fastify's own error shape, so clients that parse Fastify errors read this one too.
const SHED_BODY = JSON.stringify({
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'The server is overloaded; retry later.',
});

const plugin: FastifyPluginAsync<KeelFastifyOptions> = async (app, options) => {
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

  // Decided here, not per request.
  const defaults: RouteState = Object.freeze({
    critical: false,
    budgetMs: keel.config.requestDeadline,
    endpoint: false,
    cache: undefined,
  });
  const retryAfter = String(keel.shedder.config.retryAfterSeconds);
  const timing = config.serverTiming;
  const token = refreshToken();
  // GET and its automatic HEAD route share the user's `config.keel` object, and so one cache.
  const caches = new WeakMap<object, RouteCache>();

  const report = (where: string, error: unknown) => keel.reportError(`fastify:${where}`, error);

  app.decorate('keel', keel);
  app.decorate('keelShutdown', () => shutdown.shutdown());
  app.decorateRequest(kContext, null);
  app.decorateRequest(kCapture, null);

  // A route's `config.keel` is checked once, when the route is added: a typo fails at startup.
  app.addHook('onRoute', (route) => {
    const given = route.config?.keel;
    if ((route.config as WithState | undefined)?.[kState] !== undefined || given === undefined) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const settings = resolveRouteSettings({ methods, url: route.url }, given, keel);
    let cache: RouteCache | undefined;
    if (settings.cache) {
      cache = caches.get(given);
      if (!cache) {
        cache = new RouteCache(keel, app, settings.cache, `${methods.join(',')} ${route.url}`, token);
        caches.set(given, cache);
      }
      route.handler = cachedHandler(route.handler, cache);
    }
    const state: RouteState = Object.freeze({ ...settings, cache });
    // A copy: one config object may be shared by several routes.
    route.config = { ...route.config, [kState]: state } as RouteOptions['config'];
  });

  /**
   * Answers from the route's cache, or lets this request run the handler and
   * keeps its answer. It answers through `reply` itself, so it returns
   * `undefined` like a callback-style handler.
   */
  function cachedHandler(original: RouteHandlerMethod, rc: RouteCache): RouteHandlerMethod {
    return function keelCachedHandler(this: FastifyInstance, request: FastifyRequest, reply: FastifyReply) {
      const key = rc.keyOfRequest(request);
      if (key === undefined) return original.call(this, request, reply);
      const started = performance.now();
      const held = rc.cache.peek(key) !== undefined;
      let ranHandler = false;
      rc.cache
        .get(key, () => {
          // Held but stale: refreshed in the background while this request gets the stale answer.
          if (held) return rc.replay(request);
          ranHandler = true;
          return capture(this, original, request, reply, rc);
        })
        .then(
          (entry) => {
            keel.context.addCacheTime(performance.now() - started, held);
            if (!ranHandler) rc.send(request, reply, entry, held ? 'HIT' : 'MISS');
          },
          (error: unknown) => {
            // This request ran the handler: its answer is already on its way.
            if (ranHandler) return;
            if (!(error instanceof NotCacheable)) report('cache', error);
            runHandler(this, original, request, reply);
          },
        )
        .catch((error: unknown) => report('cache', error));
    } as RouteHandlerMethod;
  }

  /** Runs the handler for this request; `onSend` hands its answer to the cache. */
  function capture(
    instance: FastifyInstance,
    original: RouteHandlerMethod,
    request: FastifyRequest,
    reply: FastifyReply,
    cache: RouteCache,
  ): Promise<CachedResponse> {
    return new Promise<CachedResponse>((resolve, reject) => {
      const tracked = request as Tracked;
      // The answer is for everyone: this client gets it whole rather than a 304.
      delete request.headers['if-none-match'];
      delete request.headers['if-modified-since'];
      reply.header('x-cache', 'MISS');
      tracked[kCapture] = { resolve, reject, cache };
      // Never reached onSend (the client left, the reply was hijacked): the waiters run their own handler.
      reply.raw.once('close', () => {
        const pending = tracked[kCapture];
        tracked[kCapture] = null;
        pending?.reject(new NotCacheable());
      });
      runHandler(instance, original, request, reply);
    });
  }

  /** Records a request when its response closes: finished, or cut off by the client (499). */
  function recordOnClose(this: RecordedResponse): void {
    const reply = this[kReply];
    this[kReply] = undefined;
    const context = reply && (reply.request as Tracked)[kContext];
    if (!context) return;
    try {
      // `writableEnded`, not `writableFinished`: app.inject()'s responses never report finished.
      const status = this.writableEnded ? this.statusCode : ABORTED_STATUS;
      // Fastify's `reply.elapsedTime` is no longer kept once the response has closed.
      const duration = performance.now() - this[kStart]!;
      keel.recordRequest(reply.request.method, context.route ?? UNMATCHED_ROUTE, status, duration);
    } catch (error) {
      report('record', error);
    }
  }

  app.addHook('onRequest', (request, reply, done) => {
    try {
      // `routeOptions` builds a fresh object on every read: read it once.
      const route = request.routeOptions;
      const state = (route.config as WithState | undefined)?.[kState] ?? defaults;
      if (state.endpoint) return done();
      if (state.cache?.isRefresh(request)) {
        // Keel's own replay: it has a deadline like any request, but is neither shed nor recorded.
        keel.context.enter(state.budgetMs);
        return done();
      }
      if (keel.shedder.shedding && !state.critical) {
        keel.shedder.shed++;
        // Answering from onRequest without calling done() ends the lifecycle here.
        reply
          .code(503)
          .header('retry-after', retryAfter)
          .header('cache-control', 'no-store')
          .type('application/json; charset=utf-8')
          .send(SHED_BODY);
        return;
      }
      // enterWith: everything the rest of this request runs, handler included, sees the context.
      const context = keel.context.enter(state.budgetMs);
      context.route = route.url ?? UNMATCHED_ROUTE;
      (request as Tracked)[kContext] = context;
      const raw = reply.raw as RecordedResponse;
      raw[kReply] = reply;
      raw[kStart] = performance.now();
      // One shared listener records the answer, or the abort, when the response closes:
      // cheaper per request than Fastify's onResponse and onRequestAbort hooks together.
      raw.on('close', recordOnClose);
    } catch (error) {
      report('onRequest', error);
    }
    done();
  });

  // One hook for both jobs. It is registered before any plugin the app adds
  // later, so a miss is captured before a compression hook rewrites the payload.
  app.addHook('onSend', (request, reply, payload, done) => {
    const tracked = request as Tracked;
    const pending = tracked[kCapture];
    if (pending !== null) {
      tracked[kCapture] = null;
      try {
        const entry = pending.cache.captured(request, reply, payload);
        if (entry) {
          pending.cache.label(reply, entry);
          pending.resolve(entry);
        } else {
          pending.reject(new NotCacheable());
        }
      } catch (error) {
        pending.reject(error);
      }
    }
    if (timing) {
      const context = tracked[kContext];
      if (context) {
        try {
          reply.header('server-timing', serverTiming(context, reply.elapsedTime));
        } catch (error) {
          report('onSend', error);
        }
      }
    }
    done(null, payload);
  });

  if (config.mountEndpoints) {
    for (const name of ENDPOINT_NAMES) {
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
  if (typeof app.server.closeIdleConnections === 'function') shutdown.attach(app.server);
  // Fastify's own close (preClose/onClose hooks of every plugin) runs as a cleanup, after the drain.
  const removeCleanup = keel.onShutdown(() => app.close(), 'fastify');
  const removeSignals = config.signals ? handleSignals(shutdown) : undefined;

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
