import { AsyncLocalStorage } from 'node:async_hooks';
import type { Clock } from '../clock.js';
import type { KeelOutcome } from './keel-outcome.js';
import { RequestProfile } from './request-profile.js';

/**
 * What Keel carries along one request: the route, its deadline (so
 * `@keel/pg` can turn the remaining time into a server-side
 * `statement_timeout`) and the time spent in the database and the cache (for
 * the `Server-Timing` header).
 */
export class RequestContext {
  /** Route template once known (adapters set it when the router has matched). */
  route: string | undefined = undefined;
  /** Time spent in database calls, ms. */
  dbMs = 0;
  dbCalls = 0;
  /** Time spent loading through Keel caches, ms. */
  cacheMs = 0;
  cacheHits = 0;
  cacheMisses = 0;
  /**
   * Set when Keel refused something this request needed on the app's
   * behalf (an open circuit failed a call fast): adapters record a 5xx
   * answer of this request with this `keel_outcome`, so refusals are told
   * apart from the app's own errors. `undefined` when nothing was refused.
   */
  outcome: KeelOutcome | undefined = undefined;
  /**
   * Where this request's time went (pool wait, cache, each query fingerprint),
   * present only for requests started while the optimiser captures.
   */
  profile: RequestProfile | undefined = undefined;

  constructor(
    /** When the request started (clock ms). */
    readonly startedAt: number,
    /** When the request's time budget runs out (clock ms), or `undefined` for none. */
    public deadline: number | undefined,
  ) {}
}

/**
 * The request contexts of one Keel instance.
 *
 * Propagating a context through async calls needs AsyncLocalStorage, and on
 * Node 20 its first use turns on promise hooks for the whole process, which
 * costs more per request than everything else Keel does. So propagation is
 * switched on only once something needs it: `use()` at setup (the pg pool,
 * response caches, per-route deadlines do), or the first call that reads the
 * context from async code (`current`, `remainingMs`, `addDbTime`,
 * `addCacheTime`; that first call finds no context). Until then adapters make
 * no context at all, and `Server-Timing` carries only the app's time (db and
 * cache time are only known through a propagating context anyway).
 */
export class RequestContexts {
  readonly #storage = new AsyncLocalStorage<RequestContext>();
  readonly #clock: Clock;
  #propagating = false;
  /** Set by the optimiser while it captures: new contexts then carry a `RequestProfile`. */
  profiling = false;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Propagates contexts through async calls from the next request on (see the class comment). */
  use(): void {
    this.#propagating = true;
  }

  /** Whether contexts propagate through async calls: `use()` was called, or a reader asked. */
  get propagating(): boolean {
    return this.#propagating;
  }

  /** Starts a context for a request with `budgetMs` to answer; runs `fn` inside it. */
  run<T>(budgetMs: number | undefined, fn: () => T): T {
    return this.runIn(this.create(budgetMs), fn);
  }

  /** A new context starting now, for `runIn`; adapters keep it to build `Server-Timing`. */
  create(budgetMs: number | undefined): RequestContext {
    const now = this.#clock.now();
    const context = new RequestContext(now, budgetMs === undefined ? undefined : now + budgetMs);
    if (this.profiling) context.profile = new RequestProfile();
    return context;
  }

  /** Runs `fn(...args)` inside an existing context. */
  runIn<A extends unknown[], T>(context: RequestContext, fn: (...args: A) => T, ...args: A): T {
    return this.#propagating ? this.#storage.run(context, fn, ...args) : fn(...args);
  }

  /**
   * Starts a context for the rest of the current synchronous execution and
   * everything it schedules (`AsyncLocalStorage.enterWith`), for frameworks
   * whose request hooks cannot wrap the handler in a callback (Fastify).
   */
  enter(budgetMs: number | undefined): RequestContext {
    const context = this.create(budgetMs);
    if (this.#propagating) this.#storage.enterWith(context);
    return context;
  }

  /** The context of the request being handled, if any. */
  current(): RequestContext | undefined {
    this.#propagating = true;
    return this.#storage.getStore();
  }

  /**
   * Milliseconds left before the current request's deadline (never below 0),
   * or `undefined` outside a request or without a deadline.
   */
  remainingMs(): number | undefined {
    const context = this.current();
    if (context?.deadline === undefined) return undefined;
    return Math.max(0, context.deadline - this.#clock.now());
  }

  /**
   * Marks the current request as refused by Keel for `outcome` (see
   * `RequestContext.outcome`); does nothing outside a request.
   */
  refuse(outcome: KeelOutcome): void {
    const context = this.current();
    if (context) context.outcome = outcome;
  }

  /** Adds database time to the current request, if there is one. */
  addDbTime(ms: number): void {
    const context = this.current();
    if (!context) return;
    context.dbMs += ms;
    context.dbCalls++;
  }

  /** Adds cache time to the current request, if there is one. */
  addCacheTime(ms: number, hit: boolean): void {
    const context = this.current();
    if (!context) return;
    context.cacheMs += ms;
    if (hit) context.cacheHits++;
    else context.cacheMisses++;
    const profile = context.profile;
    if (profile === undefined) return;
    if (hit) profile.cacheHitMs += ms;
    else profile.cacheLoadMs += ms;
  }
}

/**
 * The `keel_outcome` an adapter records for a request it saw close:
 * `cut_off` when it closed unanswered with a 5xx (graceful shutdown's
 * `unansweredStatus` once it has cut connections; a client that left is a
 * 499), the outcome a refusal marked on its context (`refuse` above) when
 * the app answered it with a 5xx, else `''` (the app's own answer). Only a
 * 5xx reads the context, so the common answer costs one comparison.
 */
export function outcomeAtClose(
  status: number,
  answered: boolean,
  context: { readonly outcome: KeelOutcome | undefined } | undefined,
): KeelOutcome | '' {
  if (status < 500) return '';
  if (!answered) return 'cut_off';
  return context?.outcome ?? '';
}
