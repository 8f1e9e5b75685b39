import { estimateCache } from './cache-advice.js';
import {
  type Bottleneck,
  type CpuProfileReport,
  EFFORT_WEIGHTS,
  type IndexAdvice,
  type SourceAnswer,
} from './optimise-report.js';
import { round } from './route-breakdown.js';
import type { RouteTally } from './route-tally.js';
import type { RouteSamples } from './traffic-recorder.js';

/** Bottlenecks a report lists at most. */
const MAX_BOTTLENECKS = 20;
/** A CPU function is a bottleneck from this share of the busy samples on. */
const MIN_CPU_SHARE = 0.05;
/** Busy samples a profile needs before a share of them ranks a function: fewer are too noisy to act on. */
const MIN_CPU_SAMPLES = 100;
/** CPU functions listed as bottlenecks at most. */
const MAX_CPU_BOTTLENECKS = 3;
/**
 * Below this share of all request time in the capture, a cause is not worth a
 * line. CPU has its own floors; an N+1 is always listed: its cost grows with
 * the lists it walks, so what is cheap today is not tomorrow.
 */
const MIN_IMPACT_SHARE = 0.01;
/** A pool is a bottleneck once waiting is this share of the time its queries spent in it. */
const MIN_WAIT_SHARE = 0.2;

/** Everything one capture measured, for ranking. */
export interface CaptureFindings {
  readonly tallies: readonly RouteTally[];
  readonly requests: number;
  readonly windowMs: number;
  readonly answers: readonly SourceAnswer[];
  readonly cpu: CpuProfileReport | null;
  /** Sampled answers of a route (ETags), for the cache advice. */
  readonly samplesOf: (method: string, route: string) => RouteSamples | undefined;
  readonly nPlusOne: number;
}

/** A bottleneck before it is scored and ranked (`Omit` for each member of the union). */
type Unranked = Bottleneck extends infer B
  ? B extends Bottleneck
    ? Omit<B, 'rank' | 'score'>
    : never
  : never;

/**
 * The bottlenecks of a capture, most worth fixing first: each one's impact
 * (user-seconds per minute it cost, measured) divided by the weight of its
 * kind of fix (index 1 < cache 2 < pool size 3 < code change 4); ties go to
 * the larger share of the budget overshoot. See docs/decisions/0024-optimise-ranking.md.
 */
export function rankBottlenecks(f: CaptureFindings): Bottleneck[] {
  const perMinute = (ms: number) => round((ms / 1000) * (60_000 / f.windowMs));
  const share = (part: number, whole: number) => (whole > 0 ? round(Math.min(1, part / whole)) : 0);
  const overshoot = (tally: RouteTally, excessMs: number) =>
    tally.targetMs === null ? null : share(excessMs, tally.profiledExcessMs);
  const traffic = (tally: RouteTally) => share(tally.requests, f.requests);
  const label = (tally: RouteTally) => `${tally.method} ${tally.route}`;
  const found: Unranked[] = [];

  // Indexes: a database source's advice for a fingerprint, charged where it cost most.
  const indexes = new Map<string, IndexAdvice>();
  for (const answer of f.answers) for (const ix of answer.indexes) indexes.set(ix.fingerprint, ix);
  for (const [fingerprint, advice] of indexes) {
    let total = 0;
    let calls = 0;
    let worst: RouteTally | undefined;
    for (const tally of f.tallies) {
      const fp = tally.fingerprints.get(fingerprint);
      if (!fp) continue;
      total += fp.ms;
      calls += fp.calls;
      if (!worst || fp.ms > worst.fingerprints.get(fingerprint)!.ms) worst = tally;
    }
    if (!worst || total <= 0) continue;
    const spent = perMinute(total);
    const after = advice.costAfter;
    found.push({
      kind: 'index',
      effort: 'index',
      route: label(worst),
      fingerprint,
      impact: {
        userSecondsPerMinute: spent,
        overshootShare: overshoot(worst, worst.fingerprints.get(fingerprint)!.excessMs),
        trafficShare: traffic(worst),
      },
      expectedGain:
        after === null || advice.costBefore <= 0
          ? null
          : {
              userSecondsPerMinute: round(spent * Math.max(0, 1 - after / advice.costBefore)),
              basis: `planner cost ${round(advice.costBefore)} → ${round(after)} with a hypothetical index (hypopg)`,
            },
      title: `${round(total / calls)} ms per call, ${calls} calls, scanning ${advice.table} without an index on (${advice.columns.join(', ')}): ${fingerprint}`,
      fix: advice.statement,
      details: advice,
    });
  }

  for (const tally of f.tallies) {
    // Caching: a GET route not cached yet whose answers repeat.
    const samples =
      tally.method === 'GET' && tally.cacheHits === 0 ? f.samplesOf('GET', tally.route) : undefined;
    const estimate = samples && estimateCache(samples, tally.requests / (f.windowMs / 1000));
    if (estimate) {
      const spent = perMinute(tally.wallMs * estimate.expectedHitRatio);
      const pct = Math.round(estimate.expectedHitRatio * 100);
      found.push({
        kind: 'cache',
        effort: 'cache',
        route: label(tally),
        impact: {
          userSecondsPerMinute: spent,
          overshootShare: tally.targetMs === null ? null : tally.excessMs > 0 ? estimate.expectedHitRatio : 0,
          trafficShare: traffic(tally),
        },
        expectedGain: {
          userSecondsPerMinute: spent,
          basis: `expected hit ratio ${pct} % at ${estimate.ttlSeconds} s`,
        },
        title: `${label(tally)} answers the same for ${Math.round(estimate.unchangedShare * 100)} % of repeated requests (${estimate.samples} sampled)`,
        fix: `cache GET ${tally.route} for ${estimate.ttlSeconds} s with Keel's response cache (Express: k.cache({ ttl: ${estimate.ttlSeconds * 1000} }) on the route; Fastify: config: { keel: { cache: { ttl: ${estimate.ttlSeconds * 1000} } } }): expected hit ratio ${pct} %`,
        details: { method: 'GET', route: tally.route, ...estimate },
      });
    }

    // N+1: one fingerprint many times per request.
    for (const [fingerprint, fp] of tally.fingerprints) {
      const perRequest = fp.calls / fp.requests;
      if (perRequest < f.nPlusOne) continue;
      const k = Math.round(perRequest);
      const spent = perMinute(fp.ms);
      found.push({
        kind: 'n-plus-one',
        effort: 'code',
        route: label(tally),
        fingerprint,
        impact: {
          userSecondsPerMinute: spent,
          overshootShare: overshoot(tally, fp.excessMs),
          trafficShare: traffic(tally),
        },
        expectedGain: {
          userSecondsPerMinute: round(spent * (1 - 1 / perRequest)),
          basis: `${k} queries become one (assuming it costs what one of them did)`,
        },
        title: `N+1: ${k} identical queries per request on ${label(tally)} (up to ${fp.maxPerRequest}): ${fingerprint}`,
        fix: `N+1: ${k} identical queries per request (${fingerprint}): load them in one query (WHERE … = ANY($1)) or a JOIN`,
        details: {
          perRequest: round(perRequest),
          maxPerRequest: fp.maxPerRequest,
          meanMs: round(fp.ms / fp.calls),
        },
      });
    }
  }

  // The pool: requests waiting for a connection.
  const profiledWall = sum(f.tallies, (t) => t.profiledWallMs);
  const acquired = sum(f.tallies, (t) => t.acquireMs);
  for (const answer of f.answers) {
    const pool = answer.pool;
    if (!pool || pool.waitMs <= 0 || pool.waitMs < MIN_WAIT_SHARE * (pool.waitMs + pool.busyMs)) continue;
    const spent = perMinute(pool.waitMs);
    const { waitMs: _w, busyMs: _b, ...advice } = pool;
    const withTarget = f.tallies.filter((t) => t.targetMs !== null);
    const excess = sum(withTarget, (t) => t.profiledExcessMs);
    const room = pool.to > pool.from;
    found.push({
      kind: 'pool',
      effort: 'pool',
      route: null,
      impact: {
        userSecondsPerMinute: spent,
        overshootShare:
          withTarget.length === 0
            ? null
            : share(
                sum(withTarget, (t) => t.acquireExcessMs),
                excess,
              ),
        trafficShare: share(
          sum(
            f.tallies.filter((t) => t.acquireMs > 0),
            (t) => t.requests,
          ),
          f.requests,
        ),
      },
      expectedGain: room
        ? {
            userSecondsPerMinute: round(
              spent * Math.min(1, (pool.to - pool.from) / Math.max(1e-9, pool.demand - pool.from)),
            ),
            basis: `the pool needed ${pool.demand} connections on average (in use + waited for)`,
          }
        : null,
      title: `queries waited ${Math.round(share(pool.waitMs, pool.waitMs + pool.busyMs) * 100)} % of their time in pool ${pool.pool} for a free connection (max ${pool.from})`,
      fix: room
        ? `raise pool max from ${pool.from} to ${pool.to} (createPool(keel, { pg: { max: ${pool.to} } }))${pool.maxConnections === null ? '' : `: fits max_connections ${pool.maxConnections} with ${pool.instances} instance(s)`}`
        : `pool ${pool.pool} needs ${pool.demand} connections but the server has no room (${pool.serverConnections} of max_connections ${pool.maxConnections} in use, ${pool.instances} instance(s)): put a pooler (PgBouncer) in front or raise max_connections`,
      details: { ...advice, acquireShare: share(acquired, profiledWall) },
    });
  }

  // CPU: functions of the app or its dependencies with a large share of the samples.
  if (f.cpu && f.cpu.samples * (1 - f.cpu.idleShare) >= MIN_CPU_SAMPLES) {
    const cpu = f.cpu;
    for (const fn of cpu.top
      .filter((x) => x.origin !== 'node' && x.selfShare >= MIN_CPU_SHARE)
      .slice(0, MAX_CPU_BOTTLENECKS)) {
      const pct = Math.round(fn.selfShare * 1000) / 10;
      const where = `${fn.file}:${fn.line}`;
      found.push({
        kind: 'cpu',
        effort: 'code',
        route: null,
        impact: {
          // Main-thread CPU: while it runs no request moves, so its time is every waiting user's.
          userSecondsPerMinute: round((fn.selfSamples / Math.max(1, cpu.samples)) * 60),
          overshootShare: null,
          trafficShare: 1,
        },
        expectedGain: null,
        title: `function ${fn.function} (${where}) takes ${pct} % of CPU samples`,
        fix: `CPU: function ${fn.function} (${where}) takes ${pct} % of samples: make it cheaper, cache its result, or move it off the request path`,
        details: fn,
      });
    }
  }

  const floor = perMinute(sum(f.tallies, (t) => t.wallMs)) * MIN_IMPACT_SHARE;
  return found
    .filter((b) => b.kind === 'cpu' || b.kind === 'n-plus-one' || b.impact.userSecondsPerMinute >= floor)
    .map((b) => ({ ...b, score: round(b.impact.userSecondsPerMinute / EFFORT_WEIGHTS[b.effort]) }))
    .sort((a, b) => b.score - a.score || (b.impact.overshootShare ?? 0) - (a.impact.overshootShare ?? 0))
    .slice(0, MAX_BOTTLENECKS)
    .map((b, i) => ({ ...b, rank: i + 1 }) as Bottleneck);
}

function sum<T>(items: readonly T[], of: (item: T) => number): number {
  let total = 0;
  for (const item of items) total += of(item);
  return total;
}
