import type { ResolvedBudget } from '../budgets/budget-options.js';
import type { Clock, TimerHandle } from '../clock.js';
import type { RequestContext, RequestContexts } from '../context/request-context.js';
import { type ErrorReporter, invalidOptionOf, KeelError, KeelErrorCode } from '../errors.js';
import { Emitter } from '../events.js';
import { HTTP_SIGNAL } from '../signals/built-in-signals.js';
import { OVERFLOW_LABEL } from '../signals/labels.js';
import type { Signal } from '../signals/signal.js';
import type { WindowSummary } from '../signals/window.js';
import { type CapacityPricer, priceBottleneck } from './bottleneck-cost.js';
import { type RunningProfile, startCpuProfile } from './cpu-profiler.js';
import type { OptimiseConfig } from './optimise-options.js';
import type { CpuProfileReport, OptimiseCapture, OptimiseReport, OptimiseSource } from './optimise-report.js';
import { type OptimiseStatus, optimiseStatus } from './optimise-status.js';
import { rankBottlenecks } from './ranking.js';
import { routeBreakdown } from './route-breakdown.js';
import { RouteTallies, RouteTally } from './route-tally.js';
import { askSources, questionOf } from './source-questions.js';
import { type TrafficProfile, TrafficRecorder } from './traffic-recorder.js';

/** The longest on-demand capture, ms. */
const MAX_WINDOW_MS = 600_000;

/** What the optimiser reads from its Keel instance. */
export interface OptimiserHost {
  readonly config: {
    readonly service: string;
    readonly clock: Clock;
    readonly budgets: readonly ResolvedBudget[];
    readonly minSamples: number;
  };
  readonly http: Signal;
  readonly context: RequestContexts;
  readonly errors: ErrorReporter;
  /** Prices fixes that change capacity; absent: no prices. */
  readonly capacity?: CapacityPricer;
}

export interface OptimiseEvents {
  /** A capture started. */
  capture: OptimiseCapture;
  /** A capture was analysed. */
  report: OptimiseReport;
}

export interface OptimiseRunOptions {
  /** Why (shown in the report and `/health`). @default 'on demand' */
  reason?: string;
  /** How long to capture, ms. @default `optimise.captureMs` */
  windowMs?: number;
}

/**
 * The optimisation loop of one Keel instance. Idle, it costs a field read
 * per request. When a route's p95 passes `triggerMs` (checked once per
 * interval), or on demand, it captures for a window: requests started then
 * carry a `RequestProfile` that `@keel/pg` and the caches fill in, finished
 * ones are tallied per route, every request's URL is sampled, and a CPU
 * profile runs (at most once per cooldown). Then it asks its sources (the
 * database pools) about the costliest queries and the pool, ranks the
 * bottlenecks, and publishes the report (`report` event, `/health`, the
 * admin endpoint).
 */
export class Optimiser {
  readonly config: OptimiseConfig;
  /** The traffic recorder `keel loadtest` replays from, or `undefined` with `optimise.traffic: false`. */
  readonly traffic: TrafficRecorder | undefined;
  /** Whether a capture is recording: `keel.recordRequest` passes requests on only then. */
  capturing = false;

  readonly #host: OptimiserHost;
  readonly #events: Emitter<OptimiseEvents>;
  readonly #sources = new Set<OptimiseSource>();
  readonly #reports: OptimiseReport[] = [];
  readonly #summary: WindowSummary;
  readonly #since: number;
  #tallies: RouteTallies | null = null;
  #capture: OptimiseCapture | null = null;
  #analysing = false;
  #running: Promise<OptimiseReport> | null = null;
  #automaticFrom = Number.NEGATIVE_INFINITY;
  #profileFrom = Number.NEGATIVE_INFINITY;
  #lastProfile: { at: number; costMs: number } | null = null;
  #stop: (() => void) | undefined;
  #closed = false;

  constructor(host: OptimiserHost, config: OptimiseConfig) {
    this.#host = host;
    this.config = config;
    this.#events = new Emitter(host.errors);
    this.#summary = host.http.newSummary();
    this.#since = host.config.clock.now();
    this.traffic = config.traffic ? new TrafficRecorder(config.traffic, host.config.clock) : undefined;
  }

  /** A finished request, while `capturing`; `context` is its request context when contexts propagate. */
  record(
    method: string,
    route: string,
    durationMs: number,
    ok: boolean,
    context: RequestContext | undefined,
  ): void {
    const tally = this.#tallies?.get(method, route);
    if (tally === undefined) return;
    if (context === undefined) tally.record(durationMs, ok, undefined, 0, 0);
    else tally.record(durationMs, ok, context.profile, context.cacheHits, context.cacheMisses);
  }

  /**
   * Once per closed interval: starts a capture when a route's p95 (or the
   * overall one) over `triggerWindow` is above `triggerMs`, from
   * `minSamples` samples on, unless one ran within the cooldown.
   */
  check(now: number): void {
    if (this.#closed || this.#running !== null || now < this.#automaticFrom) return;
    const { http, config } = this.#host;
    const intervals = this.config.triggerIntervals;
    const over = (summary: WindowSummary): number | null => {
      if (summary.count < config.minSamples) return null;
      const p95 = summary.quantile(0.95);
      return p95 !== null && p95 > this.config.triggerMs ? p95 : null;
    };
    let reason: string | null = null;
    let worst = 0;
    for (const group of http.groups.values()) {
      if (group.key === OVERFLOW_LABEL) continue;
      const p95 = over(http.summarize(this.#summary, intervals, group.key));
      if (p95 !== null && p95 > worst) {
        worst = p95;
        reason = `route ${group.key}: p95 ${Math.round(p95)} ms over the last ${intervals} interval(s) > ${this.config.triggerMs} ms`;
      }
    }
    if (reason === null) {
      const p95 = over(http.summarize(this.#summary, intervals));
      if (p95 !== null)
        reason = `all routes: p95 ${Math.round(p95)} ms over the last ${intervals} interval(s) > ${this.config.triggerMs} ms`;
    }
    if (reason !== null) this.trigger(reason);
  }

  /**
   * Starts a capture the way the automatic trigger does (the monitor uses it
   * when a latency incident opens): not while one runs, not within the
   * cooldown. Returns whether it started; a failure is reported, not thrown.
   */
  trigger(reason: string): boolean {
    if (this.#closed || this.#running !== null || this.#host.config.clock.now() < this.#automaticFrom)
      return false;
    this.run({ reason }).catch((error) => {
      if (!(error instanceof KeelError && error.code === KeelErrorCode.Closed))
        this.#host.errors.report('optimise', error);
    });
    return true;
  }

  /**
   * Captures now (or joins the capture running) and resolves with its
   * report. Outside the cooldown it includes a CPU profile.
   */
  run(options: OptimiseRunOptions = {}): Promise<OptimiseReport> {
    if (this.#closed) return Promise.reject(new KeelError(KeelErrorCode.Closed, 'optimise: Keel is closed.'));
    if (this.#running !== null) return this.#running;
    const windowMs = options.windowMs ?? this.config.captureMs;
    if (!(typeof windowMs === 'number' && windowMs > 0 && windowMs <= MAX_WINDOW_MS))
      return Promise.reject(
        invalidOptionOf('optimise', 'windowMs', `must be a number from 1 to ${MAX_WINDOW_MS} (ms)`, windowMs),
      );
    const reason = String(options.reason ?? 'on demand').slice(0, 300);
    const now = this.#host.config.clock.now();
    // Known at once (the admin endpoint answers with it); its times move if a CPU profiler starts first.
    this.#capture = { id: `opt-${now}`, reason, startedAt: now, endsAt: now + windowMs };
    const running = this.#captureAndAnalyse(this.#capture, windowMs).finally(() => {
      this.#running = null;
    });
    this.#running = running;
    return running;
  }

  /** Adds a source (a database pool) asked at the end of each capture; returns its remover. */
  addSource(source: OptimiseSource): () => void {
    if (typeof source?.analyse !== 'function' || typeof source.name !== 'string')
      throw invalidOptionOf('optimiser.addSource', 'source', 'must have a name and analyse()', source);
    this.#sources.add(source);
    return () => {
      this.#sources.delete(source);
    };
  }

  on<K extends keyof OptimiseEvents>(event: K, listener: (payload: OptimiseEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** The capture running, if any. */
  get capture(): OptimiseCapture | null {
    return this.#capture;
  }

  /** The newest report, if any. */
  get latest(): OptimiseReport | null {
    return this.#reports[0] ?? null;
  }

  /** Reports kept, newest first (`optimise.keepReports`). */
  reports(): readonly OptimiseReport[] {
    return [...this.#reports];
  }

  /** The `optimise` section of `/health`: bounded, whatever the report holds. */
  status(): OptimiseStatus {
    const now = this.#host.config.clock.now();
    return optimiseStatus({
      state: this.#capture === null ? 'idle' : this.#analysing ? 'analysing' : 'capturing',
      triggerMs: this.config.triggerMs,
      capture: this.#capture,
      automaticFrom: this.#automaticFrom > now ? this.#automaticFrom : null,
      lastProfile: this.#lastProfile,
      latest: this.latest,
    });
  }

  /** The app's traffic so far, for `keel loadtest`; `null` when traffic recording is off. */
  trafficProfile(): TrafficProfile | null {
    return this.traffic?.profile(this.#host.config.service, this.#host.http, this.#since) ?? null;
  }

  /** Stops recording; a capture in progress ends without a report. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.traffic?.close();
    this.#stop?.();
  }

  async #captureAndAnalyse(planned: OptimiseCapture, windowMs: number): Promise<OptimiseReport> {
    const host = this.#host;
    const { clock } = host.config;
    const notes: string[] = [];
    const stopped = new Promise<void>((resolve) => {
      this.#stop = resolve;
    });
    // The CPU profiler starts first: starting blocks the event loop, and that must not fall in the window.
    let cpuSkipped: string | null = null;
    let profiler: RunningProfile | null = null;
    if (this.config.profileMs === 0) cpuSkipped = 'off (optimise.profileMs is 0)';
    else if (planned.startedAt < this.#profileFrom)
      cpuSkipped = `one CPU profile per cooldown (optimise.cooldown ${this.config.cooldown} ms): the next from ${new Date(this.#profileFrom).toISOString()}`;
    else {
      this.#profileFrom = planned.startedAt + this.config.cooldown;
      try {
        profiler = await startCpuProfile(this.config.profileSamplingUs, clock);
      } catch (error) {
        cpuSkipped = `the CPU profiler could not start: ${(error as Error).message}`;
      }
    }
    const startedAt = clock.now();
    const capture: OptimiseCapture = { ...planned, startedAt, endsAt: startedAt + windowMs };
    const { reason } = capture;
    const tallies = new RouteTallies(this.config.maxRoutes, (method, route) => {
      const budget = latencyBudgetOf(host.config.budgets, route);
      return new RouteTally(
        method,
        route,
        budget?.name ?? null,
        budget?.target ?? null,
        this.config.maxFingerprints,
      );
    });
    this.#capture = capture;
    this.#tallies = tallies;
    this.capturing = !this.#closed;
    host.context.profiling = this.capturing;
    this.traffic?.force(this.capturing);
    const sources = [...this.#sources];
    for (const source of sources) {
      try {
        source.begin?.();
      } catch (error) {
        notes.push(`${source.name}: begin failed: ${(error as Error).message}`);
      }
    }
    this.#events.emit('capture', capture);
    const profiling: Promise<CpuProfileReport | null> =
      profiler === null
        ? Promise.resolve(null)
        : wait(clock, Math.min(this.config.profileMs, windowMs), stopped)
            .then(() => profiler.stop())
            .catch((error: Error) => {
              cpuSkipped = `the CPU profile failed: ${error.message}`;
              return null;
            });
    await wait(clock, windowMs, stopped);
    this.capturing = false;
    host.context.profiling = false;
    this.traffic?.force(false);
    this.#tallies = null;
    this.#analysing = true;
    try {
      const cpu = await profiling;
      if (cpu) this.#lastProfile = { at: cpu.startedAt, costMs: cpu.costMs };
      if (this.#closed)
        throw new KeelError(KeelErrorCode.Closed, 'optimise: Keel closed during the capture.');
      const endedAt = clock.now();
      const list = tallies.list();
      const answers = await askSources(
        sources,
        questionOf(list, windowMs, this.config.instances),
        clock,
        notes,
      );
      if (tallies.requests === 0) notes.push('no requests during the capture');
      else if (list.every((t) => t.profiled === 0))
        notes.push(
          'no request carried a context: the split into database, cache and the rest needs request contexts (@keel/pg, a response cache, or keel.context.use() at startup)',
        );
      if (tallies.untallied > 0)
        notes.push(`${tallies.untallied} request(s) to routes beyond optimise.maxRoutes were counted only`);
      const routes = list
        .sort((a, b) => b.wallMs - a.wallMs)
        .map((t) => routeBreakdown(t, tallies.requests, windowMs));
      const ranked = rankBottlenecks({
        tallies: list,
        requests: tallies.requests,
        windowMs,
        answers,
        cpu,
        samplesOf: (method, route) => this.traffic?.samplesOf(method, route),
        nPlusOne: this.config.nPlusOne,
      });
      const pricer = host.capacity;
      const bottlenecks = pricer
        ? ranked.map((b) => {
            const cost = priceBottleneck(b, pricer, routes);
            return cost ? { ...b, cost } : b;
          })
        : ranked;
      const report: OptimiseReport = {
        schema: 'keel-optimise/1',
        id: capture.id,
        service: host.config.service,
        reason,
        startedAt,
        endedAt,
        windowMs,
        requests: tallies.requests,
        routes,
        bottlenecks,
        cpu,
        cpuSkipped: cpu ? null : cpuSkipped,
        notes,
      };
      this.#reports.unshift(report);
      this.#reports.length = Math.min(this.#reports.length, this.config.keepReports);
      this.#automaticFrom = endedAt + this.config.cooldown;
      this.#events.emit('report', report);
      return report;
    } finally {
      this.#analysing = false;
      this.#capture = null;
      this.#stop = undefined;
    }
  }
}

/** Resolves after `ms` on `clock`, or as soon as `stopped` does. */
async function wait(clock: Clock, ms: number, stopped: Promise<void>): Promise<void> {
  let timer: TimerHandle | undefined;
  await Promise.race([stopped, new Promise<void>((resolve) => (timer = clock.setTimeout(resolve, ms)))]);
  if (timer !== undefined) clock.clearTimeout(timer);
}

/** The latency budget a route is held to: its own (`group`), else the HTTP signal's overall one. */
function latencyBudgetOf(budgets: readonly ResolvedBudget[], route: string): ResolvedBudget | undefined {
  const http = budgets.filter((b) => b.kind === 'latency' && b.signal === HTTP_SIGNAL);
  return http.find((b) => b.group === route) ?? http.find((b) => b.group === undefined);
}
