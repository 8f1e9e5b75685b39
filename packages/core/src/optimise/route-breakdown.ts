import type { FingerprintBreakdown, RouteBreakdown } from './optimise-report.js';
import type { RouteTally } from './route-tally.js';

/** Fingerprints listed per route in a report. */
const FINGERPRINTS_LISTED = 10;

/** Nearest-rank quantile of `sorted` (ascending), 0 when empty. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** A route's tally as the report shows it; `total` is every request of the capture, `windowMs` its length. */
export function routeBreakdown(tally: RouteTally, total: number, windowMs: number): RouteBreakdown {
  const sorted = Float64Array.from(tally.sampled).sort();
  const n = tally.profiled;
  const per = (ms: number) => (n > 0 ? round(ms / n) : 0);
  const fingerprints: FingerprintBreakdown[] = [...tally.fingerprints.entries()]
    .sort(([, a], [, b]) => b.ms - a.ms)
    .slice(0, FINGERPRINTS_LISTED)
    .map(([fingerprint, f]) => ({
      fingerprint,
      calls: f.calls,
      requests: f.requests,
      perRequest: round(f.calls / f.requests),
      maxPerRequest: f.maxPerRequest,
      meanMs: round(f.ms / f.calls),
      totalMs: round(f.ms),
      share: tally.profiledWallMs > 0 ? round(f.ms / tally.profiledWallMs) : 0,
    }));
  return {
    method: tally.method,
    route: tally.route,
    requests: tally.requests,
    errors: tally.errors,
    perMinute: round((tally.requests / windowMs) * 60_000),
    trafficShare: total > 0 ? round(tally.requests / total) : 0,
    meanMs: round(tally.wallMs / Math.max(1, tally.requests)),
    p50: round(quantile(sorted, 0.5)),
    p95: round(quantile(sorted, 0.95)),
    p99: round(quantile(sorted, 0.99)),
    budget: tally.budget,
    targetMs: tally.targetMs,
    overTarget: tally.overTarget,
    split:
      n === 0
        ? null
        : {
            dbMs: per(tally.dbMs),
            acquireMs: per(tally.acquireMs),
            cacheMs: per(tally.cacheHitMs),
            cacheLoadMs: per(tally.cacheLoadMs),
            restMs: per(tally.restMs),
          },
    profiled: n,
    cacheHits: tally.cacheHits,
    cacheMisses: tally.cacheMisses,
    queriesPerRequest: n > 0 ? round(tally.queries / n) : null,
    fingerprints,
  };
}

export function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
