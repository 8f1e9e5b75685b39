// What one optimisation capture found: the typed results that `/health`, the
// admin endpoint, `keel optimise`, the monitor and dashboards read. Plain data
// (JSON as it is); times are epoch ms from the Keel clock, durations ms.

/** The kinds of fix, cheapest first: the effort a bottleneck's impact is weighed against. */
export type OptimiseEffort = 'index' | 'cache' | 'pool' | 'code';

/** Weight of each effort in the ranking (impact ÷ weight); see docs/decisions/0024-optimise-ranking.md. */
export const EFFORT_WEIGHTS: Readonly<Record<OptimiseEffort, number>> = Object.freeze({
  index: 1,
  cache: 2,
  pool: 3,
  code: 4,
});

/** One query fingerprint on one route, over a capture. */
export interface FingerprintBreakdown {
  /** The fingerprint as `/metrics` labels it (`db.query.summary`). */
  readonly fingerprint: string;
  readonly calls: number;
  /** Requests of the route that ran it. */
  readonly requests: number;
  /** Mean calls per request that ran it. */
  readonly perRequest: number;
  /** Most calls in one request. */
  readonly maxPerRequest: number;
  readonly meanMs: number;
  readonly totalMs: number;
  /** Its time as a share of the route's wall time. */
  readonly share: number;
}

/** Mean time per request of a route, split by where it went, ms. */
export interface TimeSplit {
  /** Query time (each query counted: parallel queries can add up to more than the wall time). */
  readonly dbMs: number;
  /** Waiting for a pooled connection. */
  readonly acquireMs: number;
  /** Answering from a cache (hits). */
  readonly cacheMs: number;
  /** Loading into a cache on a miss (the loader's own queries are in `dbMs` too). */
  readonly cacheLoadMs: number;
  /** The rest: the app's own code, and whatever Keel does not see (other I/O). */
  readonly restMs: number;
}

/** One route over a capture. */
export interface RouteBreakdown {
  readonly method: string;
  readonly route: string;
  readonly requests: number;
  readonly errors: number;
  readonly perMinute: number;
  /** Its requests as a share of all requests in the capture. */
  readonly trafficShare: number;
  readonly meanMs: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  /** The latency budget that applies to it (its own, else the overall HTTP one), or `null`. */
  readonly budget: string | null;
  readonly targetMs: number | null;
  /** Requests over `targetMs`. */
  readonly overTarget: number;
  /** Where the time went, from requests that carried a profile; `null` without request contexts. */
  readonly split: TimeSplit | null;
  /** Requests the split is measured from. */
  readonly profiled: number;
  readonly cacheHits: number;
  readonly cacheMisses: number;
  readonly queriesPerRequest: number | null;
  /** Most time first. */
  readonly fingerprints: readonly FingerprintBreakdown[];
}

/** How much a bottleneck costs, measured over the capture. */
export interface Impact {
  /** Time users spent waiting on it, seconds per minute of traffic (request time it consumed). */
  readonly userSecondsPerMinute: number;
  /** Share of the time the route spent over its latency target that this explains (0..1), or `null` without a target. */
  readonly overshootShare: number | null;
  /** The route's share of all requests (0..1); 1 for a process-wide cause (CPU). */
  readonly trafficShare: number;
}

interface BottleneckBase {
  /** 1 is the fix most worth doing. */
  readonly rank: number;
  readonly effort: OptimiseEffort;
  /** `impact.userSecondsPerMinute` ÷ the effort's weight: what the list is sorted by. */
  readonly score: number;
  /** `GET /api/orders`, or `null` for a process-wide cause. */
  readonly route: string | null;
  readonly impact: Impact;
  /** What fixing it would save, user-seconds per minute, when it can be estimated; `basis` says how. */
  readonly expectedGain: { readonly userSecondsPerMinute: number; readonly basis: string } | null;
  /** One line: what is slow. */
  readonly title: string;
  /** The concrete fix: a statement to run, or a change to make. */
  readonly fix: string;
  /**
   * What the fix costs or saves in capacity, priced with `cost` (`keel.capacity.costOf`):
   * a bigger pool's connections, or the event-loop time a cache or a CPU fix frees.
   * Absent when it changes no capacity of the app (an index, an N+1) or before capacity is known.
   */
  readonly cost?: BottleneckCost;
}

/** A fix's price: `monthly` and `currency` are `null` without a `cost` option; `text` says it in one line. */
export interface BottleneckCost {
  readonly monthly: number | null;
  readonly currency: string | null;
  readonly text: string;
}

/** A query on a table scan that an index would serve. */
export interface IndexBottleneck extends BottleneckBase {
  readonly kind: 'index';
  readonly fingerprint: string;
  readonly details: IndexAdvice;
}

/** A GET route whose answers repeat: Keel's response cache would serve most of them. */
export interface CacheBottleneck extends BottleneckBase {
  readonly kind: 'cache';
  readonly details: {
    readonly method: string;
    readonly route: string;
    readonly ttlSeconds: number;
    /** Expected share of requests answered from the cache at that TTL. */
    readonly expectedHitRatio: number;
    /** Share of repeated requests (same URL) whose ETag had not changed. */
    readonly unchangedShare: number;
    /** Requests sampled (with an ETag) the estimate rests on. */
    readonly samples: number;
  };
}

/** Requests waiting for a pooled connection. */
export interface PoolBottleneck extends BottleneckBase {
  readonly kind: 'pool';
  readonly details: PoolAdvice & {
    /** Share of request time spent waiting for a connection. */
    readonly acquireShare: number;
  };
}

/** The same query run many times per request. */
export interface NPlusOneBottleneck extends BottleneckBase {
  readonly kind: 'n-plus-one';
  readonly fingerprint: string;
  readonly details: { readonly perRequest: number; readonly maxPerRequest: number; readonly meanMs: number };
}

/** A function taking a large share of the CPU profile. */
export interface CpuBottleneck extends BottleneckBase {
  readonly kind: 'cpu';
  readonly details: CpuFunction;
}

export type Bottleneck =
  | IndexBottleneck
  | CacheBottleneck
  | PoolBottleneck
  | NPlusOneBottleneck
  | CpuBottleneck;
export type BottleneckKind = Bottleneck['kind'];

/** One function of a CPU profile, by self time. */
export interface CpuFunction {
  readonly function: string;
  /** Path relative to the working directory when under it; `node:…` for Node's own code; `''` for native code. */
  readonly file: string;
  /** 1-based, of the code as loaded (a build's lines for compiled code). */
  readonly line: number;
  /** `app` (your code), `dependency` (under node_modules) or `node` (Node and V8). */
  readonly origin: 'app' | 'dependency' | 'node';
  readonly selfSamples: number;
  /** Self samples as a share of the non-idle samples (0..1). */
  readonly selfShare: number;
}

export interface CpuProfileReport {
  readonly startedAt: number;
  readonly durationMs: number;
  readonly samplingUs: number;
  readonly samples: number;
  /** Share of samples where the thread was idle (waiting for I/O). */
  readonly idleShare: number;
  /** Share of samples in garbage collection. */
  readonly gcShare: number;
  /** The functions with the most self time, most first (at most 10). */
  readonly top: readonly CpuFunction[];
  /**
   * What profiling cost the app, measured: time the event loop was blocked to
   * start the profiler, to stop it and to read the profile, ms. The sampling
   * itself costs a few per cent of CPU while it runs (docs/benchmarks.md).
   */
  readonly costMs: number;
  /**
   * Of `costMs`, the start: V8 lists the code already compiled. It happens
   * before the capture's window opens, so the window's requests do not wait on it.
   */
  readonly startCostMs: number;
}

/** What a capture found, ranked. `schema` names this shape. */
export interface OptimiseReport {
  readonly schema: 'keel-optimise/1';
  /** `opt-<startedAt>`. */
  readonly id: string;
  readonly service: string;
  /** Why it ran: the trigger, or who asked. */
  readonly reason: string;
  readonly startedAt: number;
  readonly endedAt: number;
  readonly windowMs: number;
  readonly requests: number;
  /** The routes that consumed most time, most first (at most `maxRoutes`). */
  readonly routes: readonly RouteBreakdown[];
  /** Most worth fixing first. */
  readonly bottlenecks: readonly Bottleneck[];
  /** `null` when none was taken; `cpuSkipped` says why. */
  readonly cpu: CpuProfileReport | null;
  readonly cpuSkipped: string | null;
  /** What limited the analysis (no request contexts, hypopg missing, a source that failed). */
  readonly notes: readonly string[];
}

/** A capture in progress. */
export interface OptimiseCapture {
  readonly id: string;
  readonly reason: string;
  readonly startedAt: number;
  readonly endsAt: number;
}

// ---- sources: what a database adapter (@keel/pg) tells the optimiser ----

/** An index a database source suggests for a fingerprint, with the planner's estimate. */
export interface IndexAdvice {
  readonly fingerprint: string;
  /** `CREATE INDEX CONCURRENTLY ...;`, ready to run. */
  readonly statement: string;
  /** `schema.table` (`table` in the `public` schema). */
  readonly table: string;
  readonly columns: readonly string[];
  /** The planner's total cost of the query now. */
  readonly costBefore: number;
  /** With a hypothetical index (hypopg), or `null` when hypopg is not installed. */
  readonly costAfter: number | null;
  /** Whether `costAfter` comes from hypopg. */
  readonly hypopg: boolean;
}

/** A pool's size and the room the database server leaves for it. */
export interface PoolAdvice {
  readonly pool: string;
  /** `max` now. */
  readonly from: number;
  /** Suggested `max` (equal to `from` when the server leaves no room). */
  readonly to: number;
  /** Connections the pool needed on average over the capture: in use plus waited for (Little's law). */
  readonly demand: number;
  readonly maxConnections: number | null;
  /** Connections the server had open (all clients) when checked. */
  readonly serverConnections: number | null;
  /** Instances sharing the server (`optimise.instances`): growth is divided among them. */
  readonly instances: number;
}

/** What a capture asks a source about. */
export interface SourceQuestion {
  /** The fingerprints that consumed most time, most first. */
  readonly fingerprints: readonly {
    readonly fingerprint: string;
    readonly meanMs: number;
    readonly calls: number;
  }[];
  readonly windowMs: number;
  readonly instances: number;
}

export interface SourceAnswer {
  readonly indexes: readonly IndexAdvice[];
  /** This source's pool, when it has one: its waits over the capture and what it could grow to. */
  readonly pool: (PoolAdvice & { readonly waitMs: number; readonly busyMs: number }) | null;
  readonly notes: readonly string[];
}

/**
 * A database (or other dependency) the optimiser can ask about its part of
 * the time: `@keel/pg`'s pool registers one with `keel.optimiser.addSource`.
 */
export interface OptimiseSource {
  /** Names it in notes, e.g. `pg:main`. */
  readonly name: string;
  /** A capture starts: note counters now. */
  begin?(): void;
  /** The capture ended: suggest what this source can fix. Should settle within seconds. */
  analyse(question: SourceQuestion): Promise<SourceAnswer>;
}
