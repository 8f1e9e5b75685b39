// The composition root: builds each concept's object from the config, connects them and exposes
// the public API. What each does lives in its own folder (docs/architecture.md).
//
// One piece at a little over 400 lines, on purpose: it is the `Keel` class, which a file split
// would only cut into a class and helpers reaching into its private fields. What is left is the
// constructor's wiring, the public methods (delegations, with about 100 lines of TSDoc) and
// `recordRequest`, the per-request path every adapter calls, kept inline as measured (decision
// 0010). New behaviour goes in a concept folder, not here.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { Registry } from 'prom-client';
import type { CircuitBreakerOptions } from './breaker/breaker-options.js';
import { BreakerSet } from './breaker/breaker-set.js';
import type { CircuitBreaker } from './breaker/circuit-breaker.js';
import type { BudgetSnapshot } from './budgets/budget.js';
import { type AssertBudgetsOptions, BudgetSet } from './budgets/budget-set.js';
import type { KeelCache } from './cache/cache.js';
import type { CacheOptions } from './cache/cache-options.js';
import { CacheSet } from './cache/cache-set.js';
import { type Capacity, createCapacity } from './capacity/capacity.js';
import type { KeelOutcome } from './context/keel-outcome.js';
import { type RequestContext, RequestContexts } from './context/request-context.js';
import { ErrorReporter, invalidOptionOf } from './errors.js';
import { Emitter } from './events.js';
import type { DependencyCheckOptions } from './health/checks.js';
import { DependencyChecks } from './health/dependency-checks.js';
import { HealthEvaluator } from './health/health-evaluator.js';
import { HealthSections } from './health/health-sections.js';
import { Heartbeat } from './health/heartbeat.js';
import { ReadinessGate } from './health/readiness.js';
import type { HealthReport, KeelEvents, Readiness, ReportOptions } from './health/report.js';
import { AdminPort, type AdminServer } from './http/admin-server.js';
import type { EndpointName } from './http/endpoint-options.js';
import type { EndpointHandler } from './http/endpoints.js';
import { instanceEndpoints } from './http/instance-endpoints.js';
import type { OptimiseReport } from './optimise/optimise-report.js';
import { type OptimiseRunOptions, Optimiser } from './optimise/optimiser.js';
import type { TrafficRecorder } from './optimise/traffic-recorder.js';
import { type KeelConfig, type KeelOptions, resolveOptions } from './options.js';
import { LoadShedder } from './pressure/load-shedder.js';
import { MetricsRenderer } from './prometheus/metrics-renderer.js';
import { RuntimeSampler, type RuntimeSnapshot } from './runtime/runtime-sampler.js';
import { holdTickObjectShapes } from './runtime/tick-shapes.js';
import { CleanupList } from './shutdown/cleanup-list.js';
import { DB_SIGNAL, HTTP_SIGNAL, TTI_SIGNAL } from './signals/built-in-signals.js';
import { ABORTED_STATUS } from './signals/http-signal.js';
import { IntervalTicker } from './signals/interval-ticker.js';
import type { Signal } from './signals/signal.js';
import { SignalSet } from './signals/signal-set.js';
import { VitalsCollector } from './vitals/collector.js';

/**
 * One Keel engine. Everything it measures, judges and serves belongs to the
 * instance: two instances in one process share nothing.
 */
export class Keel {
  readonly config: KeelConfig;
  /** prom-client registry served after Keel's own metrics at `/metrics`; register your metrics here. */
  readonly registry: Registry;
  /** `http.server.request.duration`, labels: method, route, status code. */
  readonly http: Signal;
  /** `db.client.operation.duration`, labels: operation, query summary (fingerprint). */
  readonly db: Signal;
  /** `web_vitals.tti`, label: page group. */
  readonly tti: Signal;
  /** The endpoint handlers, for frameworks that mount them one by one. */
  readonly handlers: Readonly<Record<EndpointName, EndpointHandler>>;
  /** Paths the endpoints answer at (with `endpoints.prefix`). */
  readonly paths: Readonly<Record<EndpointName, string>>;
  readonly errors: ErrorReporter;
  /** The request context (deadline, db and cache time) of the request being handled. */
  readonly context: RequestContexts;
  /** Whether new requests should be shed right now; adapters read `shedder.shedding`. */
  readonly shedder: LoadShedder;
  /** The `@keel/web-vitals` beacon collector the adapters mount, or `undefined` with `vitals: false`. */
  readonly vitals: VitalsCollector | undefined;
  /** What one instance serves (measured) and what a change in capacity costs; `/health`'s `capacity`. */
  readonly capacity: Capacity;
  /** The optimisation loop (`keel.optimise()`, its reports and sources), or `undefined` with `optimise: false`. */
  readonly optimiser: Optimiser | undefined;
  /** What adapters sample the traffic profile into (see `TrafficRecorder`); `undefined` when off. */
  readonly traffic: TrafficRecorder | undefined;

  readonly #events: Emitter<KeelEvents>;
  readonly #signals: SignalSet;
  readonly #budgets: BudgetSet;
  readonly #checks: DependencyChecks;
  readonly #sections: HealthSections;
  readonly #readiness: ReadinessGate;
  readonly #health: HealthEvaluator;
  readonly #runtime: RuntimeSampler | undefined;
  readonly #heartbeat: Heartbeat | undefined;
  readonly #ticker: IntervalTicker;
  readonly #metrics: MetricsRenderer;
  readonly #handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  readonly #admin: AdminPort;
  readonly #caches: CacheSet;
  readonly #breakers: BreakerSet;
  readonly #cleanups = new CleanupList();

  constructor(options?: KeelOptions) {
    const config = resolveOptions(options);
    this.config = config;
    holdTickObjectShapes();
    const { clock } = config;
    this.errors = new ErrorReporter(config.onError);
    const reportError = (where: string, error: unknown) => this.errors.report(where, error);
    this.#events = new Emitter(this.errors);
    this.context = new RequestContexts(clock);
    this.shedder = new LoadShedder(config.shedding);
    this.registry = options?.registry ?? new Registry();
    this.#caches = new CacheSet({ clock, reportError });
    this.#breakers = new BreakerSet(clock, config.requestDeadline);
    const now = clock.now();

    this.#signals = new SignalSet(config.signals, config.windowIntervals);
    this.http = this.#signals.get(HTTP_SIGNAL);
    this.db = this.#signals.get(DB_SIGNAL);
    this.tti = this.#signals.get(TTI_SIGNAL);
    const { capacity, model } = createCapacity(config, this.http, now);
    this.capacity = capacity;
    this.optimiser = config.optimise ? new Optimiser(this, config.optimise) : undefined;
    this.traffic = this.optimiser?.traffic;
    this.#budgets = new BudgetSet(config, this.#signals, now);
    this.#checks = new DependencyChecks(clock, this.errors);
    this.#sections = new HealthSections(this.errors);
    this.#sections.add('capacity', () => capacity.json(this.#health.report.budgets));
    this.#readiness = new ReadinessGate(config, this.#checks, now);
    this.vitals = config.vitals ? new VitalsCollector(this, config.vitals) : undefined;

    const optimiser = this.optimiser;
    const endpoints = instanceEndpoints(this, optimiser);
    this.handlers = endpoints.handlers;
    this.paths = endpoints.paths;
    this.#handle = endpoints.handle;
    this.#admin = new AdminPort(endpoints.handleAdmin, config.endpoints, reportError);
    if (optimiser) this.#sections.add('optimise', () => optimiser.status());

    if (config.heartbeatFile) {
      const maxGap = config.historyIntervals * config.interval;
      this.#heartbeat = Heartbeat.start(config.heartbeatFile, this.errors, now, maxGap, (ms) =>
        this.#readiness.addDowntime(ms),
      );
    }
    const runtime = config.runtime ? new RuntimeSampler() : undefined;
    this.#runtime = runtime;
    runtime?.start();
    this.#health = new HealthEvaluator(
      {
        config,
        budgets: this.#budgets,
        signals: this.#signals,
        checks: this.#checks,
        readiness: this.#readiness,
        shedder: this.shedder,
        sections: this.#sections,
        events: this.#events,
        runtime: () => this.runtimeSample,
        breakers: () => this.#breakers.stats(),
        caches: () => this.#caches.stats(),
      },
      now,
    );
    this.#metrics = new MetricsRenderer(this, this.registry);
    this.#ticker = new IntervalTicker(
      clock,
      { ...config, sampleInterval: config.runtime?.sampleInterval },
      {
        every: (at) => this.#readiness.account(at, this.#accountable()),
        sample: (at) => this.shedder.update(runtime!.sample(at)),
        rotate: (end) => this.#budgets.rotate(this.#readiness.closeInterval(), end),
        closed: (at) => {
          this.#caches.prune();
          model.update(at);
          this.#health.evaluate(at);
          optimiser?.check(at);
          void this.#heartbeat?.beat(at);
        },
      },
      this.errors,
      now,
    );
    this.#ticker.start();
    this.#admin.start();
  }

  /**
   * Records one finished HTTP request. `route` is the route template
   * (`/users/:id`), or `UNMATCHED_ROUTE` when none matched. `outcome` says
   * why Keel answered the request itself (`shed`, ...); leave it out when the
   * app answered. A self-answer counts like any other answer (a 503 is a
   * server error), so refusing users can never look like health. Adapters
   * pass the request's `context` (when contexts propagate) so an
   * optimisation capture sees where its time went.
   */
  recordRequest(
    method: string,
    route: string,
    status: number,
    durationMs: number,
    outcome: KeelOutcome | '' = '',
    context?: RequestContext,
  ): void {
    const ok = status === ABORTED_STATUS || (this.config.clientErrorsAreErrors ? status < 400 : status < 500);
    this.http.record(durationMs, ok, method, route, status, outcome);
    if (outcome !== '' && this.#events.hasListeners('answer'))
      this.#events.emit('answer', { outcome, method, route, status });
    const optimiser = this.optimiser;
    if (optimiser?.capturing) optimiser.record(method, route, durationMs, ok, context);
  }

  /**
   * Captures where requests' time goes for `optimise.captureMs` (or
   * `windowMs`), with a CPU profile outside the cooldown, and resolves with
   * the ranked bottlenecks; joins a capture already running. Rejects with
   * `KEEL_INVALID_OPTION` when the loop is off (`optimise: false`).
   */
  optimise(options?: OptimiseRunOptions): Promise<OptimiseReport> {
    if (!this.optimiser)
      return Promise.reject(invalidOptionOf('keel.optimise', 'optimise', 'is false: the loop is off', false));
    return this.optimiser.run(options);
  }

  /** Records one database operation under its fingerprint (`summary`). */
  recordQuery(operation: string, summary: string, durationMs: number, ok = true): void {
    this.db.record(durationMs, ok, operation, summary);
  }

  /** A signal by name: the built-ins or one defined in `options.signals`. */
  signal(name: string): Signal {
    return this.#signals.get(name);
  }

  get signals(): readonly Signal[] {
    return this.#signals.list();
  }

  /**
   * The latest evaluation (once per interval), with readiness, dependencies,
   * breakers and shedding as they are now. `addHealthSection` sections render
   * when `sections` is first read, so a `/metrics` scrape does not pay for
   * them. `{ details: false }` hides dependency errors, as `/health` does.
   */
  health(options?: ReportOptions): HealthReport {
    return this.#health.live(options?.details !== false);
  }

  /** Re-evaluates now, from the closed intervals, and returns the report. */
  evaluate(): HealthReport {
    return this.#health.evaluate(this.config.clock.now());
  }

  budgets(): readonly BudgetSnapshot[] {
    return this.#health.report.budgets;
  }

  /** Whether `/readyz` answers 200 now, and why not; `{ details: false }` hides dependency error messages. */
  readiness(options?: ReportOptions): Readiness {
    return this.#readiness.at(this.#health.report.score, options?.details !== false);
  }

  /** Startup is done: with `health.manualStartup`, readiness waits for this. */
  markStarted(): void {
    this.#readiness.markStarted();
  }

  /**
   * Turns readiness off (with a reason) until the returned function is called,
   * e.g. so an orchestrator drains this instance; liveness stays 200.
   * Unlike `beginShutdown` it can be undone.
   */
  holdReadiness(reason: string): () => void {
    return this.#readiness.hold(reason);
  }

  /**
   * Adds a top-level section to the `/health` JSON (e.g. `monitor`, `incidents`),
   * computed on each request by `render`. A throwing `render` is reported and
   * its section reads `null`. Returns a function that removes it.
   */
  addHealthSection(name: string, render: () => unknown): () => void {
    return this.#sections.add(name, render);
  }

  /**
   * Turns readiness off so load balancers stop sending traffic; liveness stays
   * 200. A planned shutdown is not an outage: no time counts against
   * availability from here, and the first call emits `shutdown`.
   */
  beginShutdown(): void {
    const now = this.config.clock.now();
    if (this.#readiness.beginShutdown(now, this.#accountable())) this.#events.emit('shutdown', { at: now });
  }

  /** Whether `beginShutdown` was called (a planned shutdown is under way). */
  get shuttingDown(): boolean {
    return this.#readiness.shuttingDown;
  }

  /**
   * Registers a dependency check. It runs at once and then on its interval;
   * readiness and the score use its last result. Returns a function that removes it.
   */
  addCheck(options: DependencyCheckOptions): () => void {
    return this.#checks.add(options, !this.#readiness.closed);
  }

  /** Runs every dependency check now and waits for the results. */
  async runChecks(): Promise<void> {
    await this.#checks.runAll();
  }

  /**
   * For tests and load tests: judges every budget over its window including
   * the interval in progress, without hysteresis, and throws a
   * `KEEL_BUDGET_BREACHED` error with a readable report if one is breached.
   */
  assertBudgets(options: AssertBudgetsOptions = {}): readonly BudgetSnapshot[] {
    return this.#budgets.assert(options, this.config.clock.now(), this.#readiness.current());
  }

  /** What `assertBudgets` judges, returned whatever the states instead of thrown (`keel loadtest` reports them). */
  judgeBudgets(options: AssertBudgetsOptions = {}): readonly BudgetSnapshot[] {
    return this.#budgets.judge(options, this.config.clock.now(), this.#readiness.current());
  }

  /** Subscribes to `budget`, `health`, `evaluation`, `answer` or `shutdown` events; returns an unsubscribe function. */
  on<K extends keyof KeelEvents>(event: K, listener: (payload: KeelEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Answers Keel's endpoint paths and returns `true`; returns `false` for any
   * other path so the caller can pass the request on.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    return this.#handle(req, res);
  }

  /**
   * The latest runtime sample (event-loop delay and utilisation, heap, GC), or
   * `null` with `runtime: false` or before the first. Newer than
   * `health().runtime`, which is the sample the last evaluation scored;
   * `/metrics` and the OpenTelemetry producer both serve this one.
   */
  get runtimeSample(): RuntimeSnapshot | null {
    return this.#runtime?.last ?? null;
  }

  /** Readiness as the availability budget counts it (`ReadinessGate.accountable`). */
  #accountable(): boolean | null {
    return this.#readiness.accountable(this.#health.report.score);
  }

  /** Prometheus text: Keel's metrics, then the registry's. */
  metrics(): Promise<string> {
    return this.#metrics.text();
  }

  /** The same as `metrics()`, as the UTF-8 bytes `/metrics` sends (no string to build and flatten). */
  metricsBuffer(): Promise<Buffer> {
    return this.#metrics.buffer();
  }

  /**
   * Gives `/metrics` bytes from `metricsBuffer()` back once they have been
   * sent and nothing reads them any more, so the next render writes into them
   * instead of a fresh buffer. Keel's own endpoint does it when the response
   * finishes; bytes given back must not be used again.
   */
  releaseMetricsBuffer(bytes: Buffer): void {
    this.#metrics.release(bytes);
  }

  /** Serves the endpoints on an admin port (authorised for `endpoints.details`); 0 picks a free one. */
  listen(port?: number, host?: string): Promise<AdminServer> {
    return this.#admin.listen(port, host);
  }

  /**
   * A cache on this Keel's clock: TTL, stale-while-revalidate, single-flight
   * loads. Failures go to `onError`, counters to `/metrics`. Names are unique per instance.
   */
  cache<V>(options: CacheOptions<V>): KeelCache<V> {
    return this.#caches.create(options);
  }

  get caches(): readonly KeelCache<unknown>[] {
    return this.#caches.list();
  }

  /**
   * A circuit breaker on this Keel's clock, for one dependency: trips on a
   * failure ratio, probes half-open, and can be held open by the monitor.
   * A call slower than the request deadline counts as slow unless `slowCallMs`
   * says otherwise. Names are unique per instance.
   */
  breaker(options: CircuitBreakerOptions): CircuitBreaker {
    return this.#breakers.create(options);
  }

  get breakers(): readonly CircuitBreaker[] {
    return this.#breakers.list();
  }

  /**
   * Registers a cleanup for graceful shutdown (close a pool, flush a queue).
   * Cleanups run newest first, after in-flight requests have drained.
   * Returns a function that removes it.
   */
  onShutdown(fn: () => unknown, name = fn.name || 'cleanup'): () => void {
    return this.#cleanups.add(fn, name);
  }

  /** The registered cleanups, oldest first. */
  shutdownCleanups(): { name: string; fn: () => unknown }[] {
    return this.#cleanups.list();
  }

  /** Reports a failure caught by an adapter: counted, logged once, never thrown. */
  reportError(where: string, error: unknown): void {
    this.errors.report(where, error);
  }

  get closed(): boolean {
    return this.#readiness.closed;
  }

  /** Stops timers, checks and the admin server. Idempotent. */
  async close(): Promise<void> {
    if (this.#readiness.closed) return;
    this.#readiness.markClosed();
    this.#ticker.stop();
    this.#checks.stopAll();
    this.#runtime?.stop();
    this.optimiser?.close();
    // The last sign of life: a restart measures its downtime from here, unless this was a planned shutdown.
    await this.#heartbeat?.beat(this.config.clock.now(), this.#readiness.shuttingDown);
    await this.#admin.close();
  }
}

/** Creates an instance. Invalid options throw a `KeelError` with code `KEEL_INVALID_OPTION`. */
export function createKeel(options?: KeelOptions): Keel {
  return new Keel(options);
}
