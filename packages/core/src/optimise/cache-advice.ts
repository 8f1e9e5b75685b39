import type { RouteSamples } from './traffic-recorder.js';

/** TTLs the advice picks from, seconds. */
const TTLS = [1, 5, 10, 30, 60, 300] as const;
/** Samples with an ETag, and repeats among them, the advice needs before it says anything. */
const MIN_SAMPLES = 20;
const MIN_REPEATS = 10;
/** "Responses repeat": at least this share of repeated requests got the same ETag as the one before. */
export const MIN_UNCHANGED_SHARE = 0.8;
/** The TTL picked is the shortest whose expected hit ratio reaches this, if one does. */
const GOOD_HIT_RATIO = 0.8;

export interface CacheEstimate {
  readonly ttlSeconds: number;
  readonly expectedHitRatio: number;
  readonly unchangedShare: number;
  readonly samples: number;
}

/**
 * Whether caching a GET route would pay, from the ETags its sampled answers
 * carried: `null` unless the answers repeat (most repeated URLs came back
 * with the same ETag). The expected hit ratio at a TTL of `T` s is
 *
 *   Σ_u w_u · λ_u·T / (1 + λ_u·T),   λ_u = w_u · perSecond
 *
 * (w_u: URL u's share of the samples): each miss opens a TTL in which the
 * λ_u·T requests that follow are hits. URLs beyond the ones followed count as
 * never hit. The TTL is kept below the shortest time an ETag was seen to
 * last, so a cached answer is not staler than the content changes.
 */
export function estimateCache(samples: RouteSamples, perSecond: number): CacheEstimate | null {
  if (samples.etagSamples < MIN_SAMPLES || perSecond <= 0) return null;
  let repeats = 0;
  let unchanged = 0;
  let shortestLife = Number.POSITIVE_INFINITY;
  for (const url of samples.urls.values()) {
    repeats += url.repeats;
    unchanged += url.unchanged;
    shortestLife = Math.min(shortestLife, url.shortestLife);
  }
  if (repeats < MIN_REPEATS) return null;
  const unchangedShare = unchanged / repeats;
  if (unchangedShare < MIN_UNCHANGED_SHARE) return null;
  const allowed = TTLS.filter((t) => t * 1000 <= shortestLife);
  const ttls = allowed.length > 0 ? allowed : [TTLS[0]];
  const hitRatio = (t: number) => {
    let ratio = 0;
    for (const url of samples.urls.values()) {
      const w = url.seen / samples.etagSamples;
      const arrivals = w * perSecond * t;
      ratio += (w * arrivals) / (1 + arrivals);
    }
    return ratio;
  };
  const ttl = ttls.find((t) => hitRatio(t) >= GOOD_HIT_RATIO) ?? ttls[ttls.length - 1]!;
  return {
    ttlSeconds: ttl,
    expectedHitRatio: round(hitRatio(ttl)),
    unchangedShare: round(unchangedShare),
    samples: samples.etagSamples,
  };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
