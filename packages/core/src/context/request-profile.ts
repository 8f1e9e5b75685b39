/** Distinct query fingerprints one request tallies; further ones are counted together. */
export const MAX_REQUEST_FINGERPRINTS = 16;

/**
 * Where one request's time went, tallied while the optimiser captures (see
 * `optimise/`): pool acquire wait, cache time split into hits and loads, and
 * each query fingerprint's calls and time. Made by `RequestContexts.create`
 * only during a capture, so outside one nothing here costs anything;
 * `@keel/pg` and the response caches add to it when a request's context has one.
 *
 * Fingerprints live in three parallel arrays searched linearly: a request
 * runs a handful of distinct queries, and comparing a few interned strings
 * costs less than a `Map` per request.
 */
export class RequestProfile {
  /** Time waiting for a pooled database connection, ms. */
  acquireMs = 0;
  /** Time answering from a cache (hits), ms. */
  cacheHitMs = 0;
  /** Time loading into a cache on a miss (the loader's own work included), ms. */
  cacheLoadMs = 0;
  /** Distinct fingerprints tallied, in the order first seen. */
  readonly fingerprints: string[] = [];
  readonly calls: number[] = [];
  readonly ms: number[] = [];
  /** Queries of fingerprints beyond `MAX_REQUEST_FINGERPRINTS`. */
  otherCalls = 0;
  otherMs = 0;

  /** One query of `fingerprint` that took `ms`. */
  query(fingerprint: string, ms: number): void {
    const fingerprints = this.fingerprints;
    const n = fingerprints.length;
    for (let i = 0; i < n; i++) {
      if (fingerprints[i] === fingerprint) {
        this.calls[i]!++;
        this.ms[i]! += ms;
        return;
      }
    }
    if (n < MAX_REQUEST_FINGERPRINTS) {
      fingerprints.push(fingerprint);
      this.calls.push(1);
      this.ms.push(ms);
    } else {
      this.otherCalls++;
      this.otherMs += ms;
    }
  }
}
