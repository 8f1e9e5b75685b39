import type { RequestProfile } from '../context/request-profile.js';

/** Request durations kept per route for its percentiles: a uniform sample beyond this. */
export const LATENCY_SAMPLES = 512;

/** One fingerprint on one route, over a capture. */
export interface FingerprintTally {
  calls: number;
  ms: number;
  requests: number;
  maxPerRequest: number;
  /** Σ over requests past the target of min(this fingerprint's time, the request's excess). */
  excessMs: number;
}

/**
 * One route's requests during a capture: counts, time by component, each
 * fingerprint's tally, the share of the overshoot each explains, and a
 * sample of durations for percentiles. Memory is fixed by the options
 * (fingerprints per route, `LATENCY_SAMPLES`), not by traffic.
 */
export class RouteTally {
  requests = 0;
  errors = 0;
  wallMs = 0;
  /** Requests that carried a profile, and their components. */
  profiled = 0;
  profiledWallMs = 0;
  dbMs = 0;
  queries = 0;
  acquireMs = 0;
  cacheHitMs = 0;
  cacheLoadMs = 0;
  restMs = 0;
  cacheHits = 0;
  cacheMisses = 0;
  overTarget = 0;
  /** Σ (duration − target) over requests past the target. */
  excessMs = 0;
  /**
   * The same over the requests that carried a profile: what the shares of
   * the overshoot are taken of, so a request whose parts are unknown (begun
   * before the capture) dilutes none of them.
   */
  profiledExcessMs = 0;
  acquireExcessMs = 0;
  readonly fingerprints = new Map<string, FingerprintTally>();
  /** Queries whose fingerprint did not fit in `maxFingerprints`. */
  otherQueries = 0;
  otherQueryMs = 0;
  readonly samples = new Float64Array(LATENCY_SAMPLES);
  #seen = 0;
  #random: () => number;

  constructor(
    readonly method: string,
    readonly route: string,
    readonly budget: string | null,
    readonly targetMs: number | null,
    readonly maxFingerprints: number,
    random: () => number = Math.random,
  ) {
    this.#random = random;
  }

  /** Durations kept (at most `LATENCY_SAMPLES`). */
  get sampled(): Float64Array {
    return this.samples.subarray(0, Math.min(this.#seen, LATENCY_SAMPLES));
  }

  record(
    ms: number,
    ok: boolean,
    profile: RequestProfile | undefined,
    cacheHits: number,
    cacheMisses: number,
  ): void {
    this.requests++;
    if (!ok) this.errors++;
    this.wallMs += ms;
    // Reservoir sampling (Algorithm R): every request has the same chance to be kept.
    const seen = this.#seen++;
    if (seen < LATENCY_SAMPLES) this.samples[seen] = ms;
    else {
      const j = Math.floor(this.#random() * (seen + 1));
      if (j < LATENCY_SAMPLES) this.samples[j] = ms;
    }
    const excess = this.targetMs === null ? 0 : ms - this.targetMs;
    if (excess > 0) {
      this.overTarget++;
      this.excessMs += excess;
    }
    if (profile === undefined) return;
    this.profiled++;
    if (excess > 0) this.profiledExcessMs += excess;
    this.profiledWallMs += ms;
    this.cacheHits += cacheHits;
    this.cacheMisses += cacheMisses;
    let db = profile.otherMs;
    let queries = profile.otherCalls;
    this.otherQueries += profile.otherCalls;
    this.otherQueryMs += profile.otherMs;
    const { fingerprints, calls, ms: times } = profile;
    for (let i = 0; i < fingerprints.length; i++) {
      const n = calls[i]!;
      const t = times[i]!;
      db += t;
      queries += n;
      let tally = this.fingerprints.get(fingerprints[i]!);
      if (tally === undefined) {
        if (this.fingerprints.size >= this.maxFingerprints) {
          this.otherQueries += n;
          this.otherQueryMs += t;
          continue;
        }
        tally = { calls: 0, ms: 0, requests: 0, maxPerRequest: 0, excessMs: 0 };
        this.fingerprints.set(fingerprints[i]!, tally);
      }
      tally.calls += n;
      tally.ms += t;
      tally.requests++;
      if (n > tally.maxPerRequest) tally.maxPerRequest = n;
      if (excess > 0) tally.excessMs += Math.min(t, excess);
    }
    this.dbMs += db;
    this.queries += queries;
    this.acquireMs += profile.acquireMs;
    if (excess > 0) this.acquireExcessMs += Math.min(profile.acquireMs, excess);
    this.cacheHitMs += profile.cacheHitMs;
    this.cacheLoadMs += profile.cacheLoadMs;
    this.restMs += Math.max(0, ms - db - profile.acquireMs - profile.cacheHitMs);
  }
}

/**
 * The routes of one capture, by method then route (no string built per
 * request), at most `maxRoutes`; requests to further routes are counted only.
 */
export class RouteTallies {
  readonly #byMethod = new Map<string, Map<string, RouteTally>>();
  readonly #maxRoutes: number;
  readonly #create: (method: string, route: string) => RouteTally;
  #size = 0;
  requests = 0;
  /** Requests to routes beyond `maxRoutes`. */
  untallied = 0;

  constructor(maxRoutes: number, create: (method: string, route: string) => RouteTally) {
    this.#maxRoutes = maxRoutes;
    this.#create = create;
  }

  /** The tally of `method route`, created if there is room; `undefined` when full. */
  get(method: string, route: string): RouteTally | undefined {
    this.requests++;
    let routes = this.#byMethod.get(method);
    if (routes === undefined) {
      routes = new Map();
      this.#byMethod.set(method, routes);
    }
    let tally = routes.get(route);
    if (tally !== undefined) return tally;
    if (this.#size >= this.#maxRoutes) {
      this.untallied++;
      return undefined;
    }
    tally = this.#create(method, route);
    routes.set(route, tally);
    this.#size++;
    return tally;
  }

  list(): RouteTally[] {
    return [...this.#byMethod.values()].flatMap((routes) => [...routes.values()]);
  }
}
