// The module's `performance`, not the global: that one is a getter on globalThis, run on every read.
import { performance } from 'node:perf_hooks';
import type { CachedResponse, Keel } from '@keel/core';
import type {
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onSendHookHandler,
  RouteHandlerMethod,
} from 'fastify';
import { answer, type Capture, NotCacheable, RouteCache, refreshToken } from './response-cache.js';
import type { CacheRoute } from './route-state.js';

// Routes that ask for a cache (`config.keel.cache`): their handler wrapped so
// a request is answered from the cache or runs the handler once for everyone
// waiting, and the `onSend` hook that hands the handler's answer to the cache.

type PendingCapture = Capture & { readonly cache: RouteCache };

export interface RouteCaching {
  /** Gives a route its cache (shared with the routes given the same `config.keel` object) and wraps its handler. */
  readonly cacheRoute: CacheRoute;
  /** Hands a cache miss's answer to the cache, as it is sent. */
  readonly onSend: onSendHookHandler;
}

export function routeCaching(
  keel: Keel,
  app: FastifyInstance,
  report: (where: string, error: unknown) => void,
): RouteCaching {
  const token = refreshToken();
  // GET and its automatic HEAD route share the user's `config.keel` object, URL and
  // constraints, and so one cache; other routes given the same object get their own.
  const caches = new WeakMap<object, RouteCache[]>();
  // Cache misses waiting for this request's own answer; `onSend` settles them.
  // A WeakMap rather than a request decoration, which Fastify would initialise on every request.
  const captures = new WeakMap<FastifyRequest, PendingCapture>();

  const cacheRoute: CacheRoute = (route, methods, options, given) => {
    const shared = caches.get(given) ?? [];
    caches.set(given, shared);
    let cache = shared.find((c) => c.url === route.url && c.constraints === route.constraints);
    if (!cache) {
      const where = `${methods.join(',')} ${route.url}`;
      cache = new RouteCache(keel, app, options, where, token, route.url, route.constraints);
      shared.push(cache);
    }
    route.handler = cachedHandler(route.handler, cache);
    return cache;
  };

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
      if (key === undefined) {
        // A refresh is marked as a miss's answer is: hooks that leave Keel's cache its own policy see it.
        if (rc.isRefresh(request)) reply.header('x-cache', 'REFRESH');
        return original.call(this, request, reply);
      }
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

  const onSend: onSendHookHandler = (request, reply, payload, done) => {
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
  };

  return { cacheRoute, onSend };
}
