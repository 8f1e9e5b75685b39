import { ServerResponse } from 'node:http';
// The module's `performance`, not the global: that one is a getter on globalThis, run on every read.
import { performance } from 'node:perf_hooks';
import {
  addServerTiming,
  appendServerTiming,
  type GracefulShutdown,
  type Keel,
  outcomeAtClose,
  type RequestContext,
  UNMATCHED_ROUTE,
  type WriteHead,
} from '@keel/core';
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { RouteState } from './route-state.js';

// The per-request path (decision 0010): one `onRequest` hook that sheds,
// starts the request context and shutdown tracking; one shared `close`
// listener that records the answer; `Server-Timing` from a `writeHead` put
// on the response. Everything here is made once per app, nothing per request.

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

// Fastify's own error shape, so clients that parse Fastify errors read this one too.
const SHED_BODY = JSON.stringify({
  statusCode: 503,
  error: 'Service Unavailable',
  message: 'The server is overloaded; retry later.',
});

export interface RecordingDeps {
  readonly keel: Keel;
  readonly shutdown: GracefulShutdown;
  /** The state of the route a request matched (`RouteStates.stateOf`). */
  readonly stateOf: (request: FastifyRequest) => RouteState;
  /** Add `Server-Timing` to every recorded answer. */
  readonly timing: boolean;
  readonly report: (where: string, error: unknown) => void;
}

/** The `onRequest` hook that sheds, tracks and records every request of one app. */
export function requestRecording({
  keel,
  shutdown,
  stateOf,
  timing,
  report,
}: RecordingDeps): onRequestHookHandler {
  const retryAfter = String(keel.shedder.config.retryAfterSeconds);
  const contexts = keel.context;

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

  return function keelOnRequest(request, reply, done) {
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
  };
}
