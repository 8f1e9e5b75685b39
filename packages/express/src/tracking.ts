import { ServerResponse } from 'node:http';
// The module's `performance`, not the global: that one is a getter on globalThis, run on every read.
import { performance } from 'node:perf_hooks';
import {
  addServerTiming,
  appendServerTiming,
  type GracefulShutdown,
  type HeaderMethods,
  type Keel,
  outcomeAtClose,
  type RequestContext,
  UNMATCHED_ROUTE,
  type WriteHead,
} from '@keel/core';
import type { Application, Request } from 'express';
import { routeTemplate } from './route-template.js';

/** What recording needs from `instrument()`. */
export interface TrackerDeps {
  readonly keel: Keel;
  readonly shutdown: GracefulShutdown;
  readonly app: Application;
  /** Add `Server-Timing` (the `serverTiming` option). */
  readonly timing: boolean;
}

/**
 * Records Express requests: started by `track()` before Express sees the
 * request, recorded when the response closes.
 *
 * Express 5 gives every request's `req` and `res` a hidden class of their
 * own (it swaps their prototypes), so each property read on them misses V8's
 * inline caches: 0.15–0.4 µs a read in profiles. A closure per request made
 * before the swap avoids the reads, but V8 sends the first call of every new
 * closure through its lazy-compile trampoline (0.3 µs each in profiles) and
 * the closures are garbage for the scavenger. So the state of a request in
 * flight lives in arrays at its graceful-shutdown slot, and each slot has one
 * `close` listener and one `writeHead` wrapper, made the first time the slot
 * is used and reused by every request that gets the slot after:
 *
 *   slot 3: reqs[3] starts[3] statuses[3] ...   onClose[3]  writeHead[3]
 *
 * Slots are handed back when the response closes, so the arrays are as long
 * as the most requests ever in flight at once.
 */
export class Tracker {
  readonly #deps: TrackerDeps;
  /** Where this app's responses find `writeHead`, `getHeader` and `setHeader`: a stable object, unlike `res`. */
  readonly #appResponse: HeaderMethods & { writeHead: WriteHead };
  readonly #appWritesNodeHead: boolean;

  // Per slot, while its request is in flight.
  readonly #reqs: (Request | undefined)[] = [];
  readonly #ress: (ServerResponse | undefined)[] = [];
  readonly #contexts: (RequestContext | undefined)[] = [];
  readonly #starts: number[] = [];
  /** The status `writeHead` sent, so `close` reads `res` once less; 0 until then, or with timing off. */
  readonly #statuses: number[] = [];
  /** A `writeHead` already on the response when Keel saw it (a parent app's on-headers), chained, not dropped. */
  readonly #ownWriteHeads: (WriteHead | undefined)[] = [];
  readonly #timed: boolean[] = [];

  // Per slot, for good (`#writeHeads` only with timing on).
  readonly #onClose: ((this: ServerResponse) => void)[] = [];
  readonly #writeHeads: WriteHead[] = [];

  constructor(deps: TrackerDeps) {
    this.#deps = deps;
    this.#appResponse = (
      deps.app as unknown as { response: HeaderMethods & { writeHead: WriteHead } }
    ).response;
    this.#appWritesNodeHead = this.#appResponse.writeHead === ServerResponse.prototype.writeHead;
  }

  /**
   * Starts recording a request at `slot` (from `shutdown.requestStarted`):
   * its `close` listener ends its shutdown tracking and records it, answered
   * or not. With `Server-Timing` on, the response gets a `writeHead` that adds
   * the header and notes the status, then calls the app's.
   */
  track(req: Request, res: ServerResponse, ctx: RequestContext | undefined, slot: number): void {
    if (this.#onClose[slot] === undefined) this.#makeSlot(slot);
    this.#reqs[slot] = req;
    this.#ress[slot] = res;
    this.#contexts[slot] = ctx;
    this.#starts[slot] = performance.now();
    this.#statuses[slot] = 0;
    this.#timed[slot] = false;
    if (this.#deps.timing) {
      this.#ownWriteHeads[slot] = Object.hasOwn(res, 'writeHead')
        ? (res.writeHead as unknown as WriteHead)
        : undefined;
      res.writeHead = this.#writeHeads[slot] as never;
    }
    // `on`, not `once`: once wraps the listener in yet another closure.
    res.on('close', this.#onClose[slot]!);
  }

  /** Slots are numbered from 0 up, so the arrays stay packed as they grow. */
  #makeSlot(slot: number): void {
    for (let s = this.#onClose.length; s <= slot; s++) {
      this.#reqs.push(undefined);
      this.#ress.push(undefined);
      this.#contexts.push(undefined);
      this.#starts.push(0);
      this.#statuses.push(0);
      this.#ownWriteHeads.push(undefined);
      this.#timed.push(false);
      this.#onClose.push(this.#closeListener(s));
      if (this.#deps.timing) this.#writeHeads.push(this.#timedWriteHead(s));
    }
  }

  #closeListener(slot: number): (this: ServerResponse) => void {
    const tracker = this;
    return function recordOnClose(this: ServerResponse) {
      tracker.#closed(this, slot);
    };
  }

  #closed(res: ServerResponse, slot: number): void {
    const { keel, shutdown, app } = this.#deps;
    // A listener left on a response whose slot moved on (it closed once already) does nothing.
    if (this.#ress[slot] !== res) return;
    const req = this.#reqs[slot]!;
    const start = this.#starts[slot]!;
    const sentStatus = this.#statuses[slot]!;
    const ctx = this.#contexts[slot];
    // Let go of the request before the slot is handed back.
    this.#reqs[slot] = undefined;
    this.#ress[slot] = undefined;
    this.#contexts[slot] = undefined;
    this.#ownWriteHeads[slot] = undefined;
    shutdown.requestEnded(res, slot);
    try {
      const route = routeTemplate(req, app as never) ?? UNMATCHED_ROUTE;
      // `writableEnded` (end() was called) rather than `writableFinished`, a
      // getter that reads four properties: each a miss on Express's `res`.
      const ended = res.writableEnded;
      // Unanswered: the client left (499), or shutdown cut it off (503).
      const status = ended ? sentStatus || res.statusCode : shutdown.unansweredStatus;
      // Read at the end: a method-override middleware may have changed it, and the route is that method's.
      const outcome = outcomeAtClose(status, ended, ctx);
      keel.recordRequest(req.method, route, status, performance.now() - start, outcome, ctx);
      // The optimiser's traffic profile: a sample now and then (every request during a capture).
      const traffic = keel.traffic;
      if (traffic?.sampling)
        traffic.sample(req.method, route, req.originalUrl, status, res.getHeader('etag'));
    } catch (error) {
      keel.reportError('express:record', error);
    }
  }

  #timedWriteHead(slot: number): WriteHead {
    const tracker = this;
    // Fixed parameters, not `...args`: a rest array per response is measurable here.
    // Node treats an undefined `reason` and `headers` as not given.
    return function writeHeadWithTiming(this: ServerResponse, statusCode, reason, headers) {
      return tracker.#writeHead(this, slot, statusCode, reason, headers);
    } as WriteHead;
  }

  #writeHead(
    res: ServerResponse,
    slot: number,
    statusCode: number,
    reason: unknown,
    headers: unknown,
  ): unknown {
    // Called after its response closed (and the slot moved on): just write.
    if (this.#ress[slot] !== res) {
      return this.#appResponse.writeHead.call(res, statusCode, reason as never, headers as never);
    }
    const own = this.#ownWriteHeads[slot];
    // Straight into Node's `writeHead`, the header is appended to the head it builds
    // (core's `appendServerTiming`); through another one, which may read the
    // headers first, it is set before the call.
    const appendAfter = own === undefined && this.#appWritesNodeHead;
    if (!appendAfter && !this.#timed[slot]) {
      this.#timed[slot] = true;
      this.#timeHead(res, slot, false, reason, headers);
    }
    const written = (own ?? this.#appResponse.writeHead).call(
      res,
      statusCode,
      reason as never,
      headers as never,
    );
    // As Node reads it, and only once Node has accepted it.
    this.#statuses[slot] = statusCode | 0;
    if (!this.#timed[slot]) {
      this.#timed[slot] = true;
      this.#timeHead(res, slot, true);
    }
    return written;
  }

  /**
   * Adds `Server-Timing`: appended to the head Node's `writeHead` just built
   * (`afterNode`), or set before a `writeHead` that is not Node's runs. A
   * failure is reported, never thrown.
   */
  #timeHead(
    res: ServerResponse,
    slot: number,
    afterNode: boolean,
    reason?: unknown,
    headers?: unknown,
  ): void {
    try {
      const ms = performance.now() - this.#starts[slot]!;
      const ctx = this.#contexts[slot];
      if (afterNode) appendServerTiming(res, ctx, ms);
      else addServerTiming(res, ctx, ms, reason, headers, this.#appResponse);
    } catch (error) {
      this.#deps.keel.reportError('express:server-timing', error);
    }
  }
}
