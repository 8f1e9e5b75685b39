import {
  type BudgetSnapshot,
  createFakeClock,
  createKeel,
  HTTP_SIGNAL,
  type KeelFileOptions,
} from '@keel/core';

/** 1.96: the two-sided 95 % normal quantile, for the confidence intervals below. */
const Z = 1.96;

/** Latencies of one route, with 95 % confidence intervals from order statistics (no distribution assumed). */
export interface RouteLoad {
  /** `GET /api/orders`, or `all`. */
  readonly route: string;
  readonly requests: number;
  /** Answers Keel counts as errors (5xx; 4xx too with `http.clientErrorsAreErrors`). */
  readonly errors: number;
  readonly errorRate: number;
  /** 95 % Wilson interval of the error rate. */
  readonly errorRateInterval: readonly [number, number];
  readonly perSecond: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly p50Interval: readonly [number, number];
  readonly p95Interval: readonly [number, number];
  readonly p99Interval: readonly [number, number];
}

export interface BudgetResult {
  readonly name: string;
  readonly description: string;
  readonly state: BudgetSnapshot['state'];
  readonly value: number | null;
  readonly target: number;
  readonly unit: string;
  readonly samples: number;
}

/** What one `keel loadtest` run measured. `schema` names this shape; `--compare` reads it back. */
export interface LoadReport {
  readonly schema: 'keel-loadtest/1';
  readonly url: string;
  /** Where the traffic profile came from (a file, or the app's endpoint). */
  readonly profile: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly connections: number;
  readonly rate: number | null;
  /** Requests that got no answer (connection errors, timeouts). */
  readonly transportErrors: number;
  readonly overall: RouteLoad;
  /** Busiest first. */
  readonly routes: readonly RouteLoad[];
  /** The config's HTTP latency and error-rate budgets, judged by core over the run (`keel.judgeBudgets`). */
  readonly budgets: readonly BudgetResult[];
  readonly skipped: readonly { readonly route: string; readonly reason: string }[];
}

/**
 * Collects a run's answers: per route, every duration (for exact percentiles)
 * and a Keel instance built from the config, recorded into as the app's
 * adapter would, so the budgets are judged by core itself.
 */
export class LoadRecorder {
  readonly #samples = new Map<string, { ms: number[]; errors: number }>();
  readonly #keel: ReturnType<typeof createKeel>;
  readonly #judged: string[];
  readonly #clientErrors: boolean;

  constructor(options: KeelFileOptions) {
    // The app's budgets on a clock that does not move: every answer lands in the interval being judged.
    // Nothing here serves, samples, profiles or writes: only the budgets are used.
    this.#keel = createKeel({
      ...options,
      clock: createFakeClock(),
      runtime: false,
      optimise: false,
      vitals: false,
      endpoints: { ...options.endpoints, adminPort: undefined },
      health: { ...options.health, heartbeatFile: undefined },
    });
    this.#clientErrors = this.#keel.config.clientErrorsAreErrors;
    this.#judged = this.#keel.config.budgets
      .filter((b) => b.signal === HTTP_SIGNAL && (b.kind === 'latency' || b.kind === 'error_rate'))
      .map((b) => b.name);
  }

  record(method: string, route: string, status: number, ms: number): void {
    const key = `${method} ${route}`;
    let s = this.#samples.get(key);
    if (!s) {
      s = { ms: [], errors: 0 };
      this.#samples.set(key, s);
    }
    s.ms.push(ms);
    if (this.#clientErrors ? status >= 400 : status >= 500) s.errors++;
    this.#keel.recordRequest(method, route, status, ms);
  }

  get answers(): number {
    let n = 0;
    for (const s of this.#samples.values()) n += s.ms.length;
    return n;
  }

  /** The per-route statistics and the judged budgets; closes the Keel instance. */
  async finish(run: Omit<LoadReport, 'schema' | 'overall' | 'routes' | 'budgets'>): Promise<LoadReport> {
    const seconds = run.durationMs / 1000;
    const routes = [...this.#samples.entries()]
      .map(([route, s]) => routeLoad(route, s.ms, s.errors, seconds))
      .sort((a, b) => b.requests - a.requests);
    const all = [...this.#samples.values()];
    const overall = routeLoad(
      'all',
      all.flatMap((s) => s.ms),
      all.reduce((n, s) => n + s.errors, 0),
      seconds,
    );
    const budgets = this.#keel.judgeBudgets({ budgets: this.#judged }).map((b) => ({
      name: b.name,
      description: b.description,
      state: b.state,
      value: b.value === null ? null : round(b.value),
      target: b.target,
      unit: b.unit,
      samples: b.samples,
    }));
    await this.#keel.close();
    return { schema: 'keel-loadtest/1', ...run, overall, routes, budgets };
  }
}

/** The 1-based ranks a 95 % interval of the q-quantile of n samples spans: n·q ± z·√(n·q·(1−q)). */
function intervalRanks(n: number, q: number): readonly [number, number] {
  const spread = Z * Math.sqrt(n * q * (1 - q));
  return [Math.ceil(n * q - spread), Math.ceil(n * q + spread + 1)];
}

/**
 * A run's p95 interval for judging a change: an end whose rank falls outside
 * the samples is open (±Infinity), since no sample bounds the quantile there.
 * The report clamps such an end to the smallest or largest sample, which
 * with fewer than about 110 requests would let the p95 of a handful of
 * samples look precisely known (four samples' p95 exceeds their maximum 81 %
 * of the time).
 */
export function p95Bounds(load: RouteLoad): readonly [number, number] {
  const [low, high] = intervalRanks(load.requests, 0.95);
  return [
    low < 1 ? Number.NEGATIVE_INFINITY : load.p95Interval[0],
    high > load.requests ? Number.POSITIVE_INFINITY : load.p95Interval[1],
  ];
}

function routeLoad(route: string, times: number[], errors: number, seconds: number): RouteLoad {
  const sorted = Float64Array.from(times).sort();
  const n = sorted.length;
  const at = (q: number) => {
    if (n === 0) return { value: 0, interval: [0, 0] as const };
    // Nearest rank, and the ranks of its 95 % interval, clamped to the samples (see p95Bounds).
    const rank = (r: number) => sorted[Math.min(n - 1, Math.max(0, r - 1))]!;
    const [low, high] = intervalRanks(n, q);
    return {
      value: round(rank(Math.ceil(n * q))),
      interval: [round(rank(low)), round(rank(high))] as const,
    };
  };
  const p50 = at(0.5);
  const p95 = at(0.95);
  const p99 = at(0.99);
  return {
    route,
    requests: n,
    errors,
    errorRate: n === 0 ? 0 : round(errors / n, 6),
    errorRateInterval: wilson(errors, n),
    perSecond: round(n / Math.max(seconds, 1e-9)),
    p50: p50.value,
    p95: p95.value,
    p99: p99.value,
    p50Interval: p50.interval,
    p95Interval: p95.interval,
    p99Interval: p99.interval,
  };
}

/** The 95 % Wilson score interval of `k` successes in `n`. */
function wilson(k: number, n: number): readonly [number, number] {
  if (n === 0) return [0, 1];
  const p = k / n;
  const d = 1 + (Z * Z) / n;
  const centre = (p + (Z * Z) / (2 * n)) / d;
  const half = (Z * Math.sqrt((p * (1 - p)) / n + (Z * Z) / (4 * n * n))) / d;
  return [round(Math.max(0, centre - half), 6), round(Math.min(1, centre + half), 6)];
}

function round(n: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
