import type { IncomingMessage, Server, ServerResponse } from 'node:http';
// The module's `performance`, not the global: that one is a getter on globalThis, run on every read.
import { performance } from 'node:perf_hooks';
import {
  checkAdapterOptionKeys,
  checkKnownKeys,
  createKeel,
  GracefulShutdown,
  type GracefulShutdownOptions,
  handleSignals,
  invalidOptionOf,
  Keel,
  KeelError,
  KeelErrorCode,
  type KeelOptions,
  pathOf,
  type RequestContext,
  type ResponseCacheOptions,
  type ShutdownReport,
  UNMATCHED_ROUTE,
} from '@keel/core';
import type { Application, Request, RequestHandler } from 'express';
import { REFRESH, responseCache } from './response-cache.js';
import { routeOfRequest } from './route-template.js';
import { Tracker } from './tracking.js';

export interface KeelExpressOptions extends KeelOptions {
  /** Use this Keel instead of creating one from the other options. */
  keel?: Keel;
  /** Mount `/livez`, `/readyz`, `/health`, `/metrics` and the `/keel` dashboard on the app. Turn off when serving them on an admin port. @default true */
  mountEndpoints?: boolean;
  /** Take `@keel/web-vitals` beacons at `keel.vitals.path` (`/keel/vitals`); off when core's `vitals` is `false`. @default true */
  mountVitals?: boolean;
  /** Add a `Server-Timing` header (app, db, cache) to every answer. @default true */
  serverTiming?: boolean;
  /** Run each request in a Keel request context (deadline, db and cache time). @default true */
  context?: boolean;
  /**
   * Requests never shed under load: path prefixes (`'/api/pay'`), patterns
   * matched against the path, or a predicate. Shedding happens before Express
   * sees the request, so the predicate gets Node's `IncomingMessage` (`url`,
   * `method`, `headers`), not Express's `req`. Keel's probe endpoints are never shed. @default none
   */
  critical?: (string | RegExp)[] | ((req: IncomingMessage) => boolean);
  /** Graceful shutdown; `signals: true` handles SIGTERM and SIGINT (then exits). @default signals off */
  shutdown?: GracefulShutdownOptions & { signals?: boolean };
}

export interface KeelExpress {
  readonly keel: Keel;
  /** Tracks a server for graceful shutdown; `app.listen` does it for you. */
  attach(server: Server): void;
  /** Readiness 503, drain in-flight requests, run cleanups, close Keel. Idempotent. */
  shutdown(): Promise<ShutdownReport>;
  /** Route middleware: this route's request deadline, ms (overrides `requestDeadline`). */
  deadline(ms: number): RequestHandler;
  /** Route middleware: answer GET/HEAD from a cache (TTL, stale-while-revalidate, single-flight, ETag/304). */
  cache(options?: ResponseCacheOptions): RequestHandler;
}

/** `instrument`'s own options; every other key must be one of `createKeel`'s. */
const OWN_KEYS: ReadonlySet<string> = new Set([
  'keel',
  'mountEndpoints',
  'mountVitals',
  'serverTiming',
  'context',
  'critical',
  'shutdown',
] satisfies (keyof KeelExpressOptions)[]);

const CONTEXT = Symbol('keel.context');
const SHED_BODY = '{"error":"overloaded, retry later"}';

/** Only while request contexts propagate, for `deadline()`. */
type KeelResponse = ServerResponse & { [CONTEXT]?: RequestContext };
type Refreshable = { [REFRESH]?: boolean };
type ExpressHandle = (
  this: Application,
  req: IncomingMessage,
  res: ServerResponse,
  callback: unknown,
) => void;

/**
 * Instruments an Express 4 or 5 app in one line: per-route recording,
 * the health endpoints, load shedding, request context, `Server-Timing` and
 * graceful shutdown. It wraps `app.handle`, so routes defined before or after it are all recorded.
 *
 * @example
 * const app = express();
 * const { keel } = instrument(app, { service: 'api' });
 */
export function instrument(app: Application, options: KeelExpressOptions = {}): KeelExpress {
  checkAdapterOptionKeys('instrument', options, OWN_KEYS);
  const {
    keel: given,
    mountEndpoints = true,
    mountVitals = true,
    serverTiming: timing = true,
    context = true,
    critical,
    shutdown: shutdownOptions,
    ...keelOptions
  } = options;
  checkBoolean('mountEndpoints', mountEndpoints);
  checkBoolean('mountVitals', mountVitals);
  checkBoolean('serverTiming', timing);
  checkBoolean('context', context);
  if (given !== undefined && !(given instanceof Keel)) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      'instrument: option `keel` must be a Keel from createKeel().',
    );
  }
  // With an instance given, core's options would be dropped without a word.
  const [extra] = given === undefined ? [] : Object.keys(keelOptions);
  if (extra !== undefined) {
    throw invalidOptionOf(
      'instrument',
      extra,
      'cannot be combined with `keel`; pass it to createKeel() instead',
      (keelOptions as Record<string, unknown>)[extra],
    );
  }
  const { signals, durations } = splitShutdownOptions(shutdownOptions);
  if (signals !== undefined) checkBoolean('shutdown.signals', signals);
  const keel = given ?? createKeel(keelOptions);
  let isCritical: (req: IncomingMessage) => boolean;
  let shutdown: GracefulShutdown;
  try {
    isCritical = criticalMatcher(critical, keel);
    shutdown = new GracefulShutdown(keel, durations);
  } catch (error) {
    // Invalid `critical` or shutdown timings: don't leave the instance just created ticking.
    if (given === undefined) void keel.close();
    throw error;
  }
  if (signals) handleSignals(shutdown);
  const { shedder, context: contexts } = keel;
  const retryAfter = String(shedder.config.retryAfterSeconds);
  const deadline = keel.config.requestDeadline;

  const tracker = new Tracker({ keel, shutdown, app, timing });

  // Beacons are the browser's traffic to Keel, not the app's: neither shed nor recorded.
  const vitals = mountVitals ? keel.vitals : undefined;

  /** Answers what Express never sees: Keel's endpoints, beacons, and requests shed under load. */
  function answeredByKeel(req: IncomingMessage, res: ServerResponse): boolean {
    if (vitals?.matches(req.url)) {
      vitals.handle(req, res);
      return true;
    }
    if (mountEndpoints && keel.handle(req, res)) return true;
    // A background refresh of a cached answer is Keel's own traffic: never shed.
    return shedder.shedding && !(req as Refreshable)[REFRESH] && shed(req, res);
  }

  /**
   * Answers `req` 503 + Retry-After if its route is being shed (every route,
   * or one of `shedder.routes`) and it is not critical, and records it under
   * that route with `keel_outcome="shed"`: a refused user counts against the
   * budgets like any 5xx. Express has not routed the request yet, so its
   * route is found by a walk of the app's routers: only while shedding.
   */
  function shed(req: IncomingMessage, res: ServerResponse): boolean {
    if (isCritical(req)) return false;
    const started = performance.now();
    const method = req.method ?? 'GET';
    const route = routeOfRequest(app as never, method, req.url ?? '/') ?? UNMATCHED_ROUTE;
    if (!shedder.shedsRoute(route)) return false;
    shedder.shed++;
    res.statusCode = 503;
    res.setHeader('retry-after', retryAfter);
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(SHED_BODY);
    try {
      keel.recordRequest(method, route, 503, performance.now() - started, 'shed');
    } catch (error) {
      keel.reportError('express:record', error);
    }
    return true;
  }

  // Keel runs before Express's router rather than as a middleware layer in it:
  // a layer costs Express more per request than everything Keel does here.
  // `app.handle` is Express's (4 and 5) entry point for every request; the app function calls it by name.
  const withHandle = app as unknown as { handle: ExpressHandle };
  const handle = withHandle.handle;
  const dispatch = (self: Application, req: IncomingMessage, res: ServerResponse, callback: unknown) =>
    handle.call(self, req, res, callback);
  withHandle.handle = function handleWithKeel(
    this: Application,
    req: IncomingMessage,
    response: ServerResponse,
    callback: unknown,
  ) {
    const res = response as KeelResponse;
    let slot = -1;
    let tracked = false;
    let ctx: RequestContext | undefined;
    try {
      slot = shutdown.requestStarted(res);
      // Endpoints, beacons and cache refreshes are tracked for shutdown, not recorded; shed requests are recorded as shed.
      if (answeredByKeel(req, res)) {
        shutdown.endOnClose(res, slot);
        return;
      }
      // Contexts are only built once something reads them (see RequestContexts).
      // A cache refresh gets one of its own too: it is started from inside the
      // stale read's context, whose deadline and db time are not the refresh's.
      if (context && contexts.propagating) {
        ctx = contexts.create(deadline);
        res[CONTEXT] = ctx;
      }
      if (!(req as Refreshable)[REFRESH]) {
        tracker.track(req as Request, res, ctx, slot);
        tracked = true;
      }
    } catch (error) {
      keel.reportError('express:request', error);
    }
    if (!tracked) shutdown.endOnClose(res, slot);
    if (ctx !== undefined) contexts.runIn(ctx, dispatch, this, req, res, callback);
    else handle.call(this, req, res, callback);
  };

  wrapListen(app, shutdown);

  return {
    keel,
    attach: (server) => shutdown.attach(server, { trackRequests: false }),
    shutdown: () => shutdown.shutdown(),
    cache: (cacheOptions) => responseCache(app, keel, cacheOptions),
    deadline(ms: number): RequestHandler {
      if (!(Number.isInteger(ms) && ms > 0)) {
        throw new KeelError(
          KeelErrorCode.InvalidOption,
          `deadline(ms): ms must be a positive integer (got ${String(ms)}).`,
        );
      }
      if (!context) {
        // No request context ever reaches the route, so the deadline would be dropped without a word.
        throw new KeelError(
          KeelErrorCode.InvalidOption,
          'deadline(ms): `context: false` turns request contexts off, so no deadline can reach this route; remove `context: false` from instrument() to use deadline().',
        );
      }
      // A deadline is only worth setting if the code below can read it.
      keel.context.use();
      return (_req, res, next) => {
        const ctx = (res as unknown as KeelResponse)[CONTEXT];
        if (ctx) ctx.deadline = ctx.startedAt + ms;
        next();
      };
    },
  };
}

/** `app.listen` attaches the server it creates to graceful shutdown. */
function wrapListen(app: Application, shutdown: GracefulShutdown): void {
  const listen = app.listen;
  app.listen = function listenWithKeel(this: Application, ...args: unknown[]) {
    const server = (listen as (...a: unknown[]) => Server).apply(this, args);
    shutdown.attach(server, { trackRequests: false });
    return server;
  } as Application['listen'];
}

function criticalMatcher(
  critical: KeelExpressOptions['critical'],
  keel: Keel,
): (req: IncomingMessage) => boolean {
  if (critical === undefined) return () => false;
  if (typeof critical === 'function') {
    return (req) => {
      try {
        return critical(req) === true;
      } catch (error) {
        // A throwing predicate must not fail the request; treat the route as critical so it is served.
        keel.reportError('express:critical', error);
        return true;
      }
    };
  }
  if (!Array.isArray(critical) || !critical.every((c) => typeof c === 'string' || c instanceof RegExp)) {
    throw new KeelError(
      KeelErrorCode.InvalidOption,
      'instrument: option `critical` must be an array of path prefixes / RegExps, or a function.',
    );
  }
  // A prefix matches itself and what lies below it: '/pay' covers '/pay/x', not '/payroll'.
  const prefixes = critical
    .filter((c): c is string => typeof c === 'string')
    .map((p) => ({ path: p, below: p.endsWith('/') ? p : `${p}/` }));
  // Without `g` or `y`: with either, `test` resumes from the last match, so every other request would miss.
  const patterns = critical
    .filter((c): c is RegExp => c instanceof RegExp)
    .map((p) => (p.global || p.sticky ? new RegExp(p.source, p.flags.replace(/[gy]/g, '')) : p));
  return (req) => {
    const path = pathOf(req.url);
    for (const p of prefixes) if (path === p.path || path.startsWith(p.below)) return true;
    for (const p of patterns) if (p.test(path)) return true;
    return false;
  };
}

const SHUTDOWN_KEYS: ReadonlySet<string> = new Set([
  'signals',
  'preStopDelay',
  'drainTimeout',
  'cleanupTimeout',
]);

/**
 * `shutdown` as this adapter's `signals` flag and graceful shutdown's own
 * options, which refuse a key they do not know; a key neither knows is named here.
 */
function splitShutdownOptions(options: KeelExpressOptions['shutdown']): {
  signals: unknown;
  durations: GracefulShutdownOptions | undefined;
} {
  if (options === undefined || typeof options !== 'object' || options === null) {
    // Not an object: graceful shutdown refuses it, naming `shutdown`.
    return { signals: undefined, durations: options };
  }
  checkKnownKeys(options, SHUTDOWN_KEYS, (key, rule, got) =>
    invalidOptionOf('instrument', `shutdown.${key}`, rule, got),
  );
  const { signals, ...durations } = options;
  return { signals, durations };
}

function checkBoolean(name: string, value: unknown): void {
  if (typeof value !== 'boolean') throw invalidOptionOf('instrument', name, 'must be a boolean', value);
}
