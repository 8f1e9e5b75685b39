import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { CircuitBreakerOptions } from './breaker/breaker-options.js';
import { CircuitBreaker } from './breaker/circuit-breaker.js';
import { type BudgetSnapshot, BudgetTracker } from './budgets/budget.js';
import { formatBudgetReport } from './budgets/budget-report.js';
import { createCache, type KeelCache } from './cache/cache.js';
import type { CacheOptions } from './cache/cache-options.js';
import type { TimerHandle } from './clock.js';
import type { KeelOutcome } from './context/keel-outcome.js';
import { RequestContexts } from './context/request-context.js';
import { ErrorReporter, KeelError, KeelErrorCode } from './errors.js';
import { Emitter } from './events.js';
import { DependencyCheck, type DependencyCheckOptions, resolveCheckOptions } from './health/checks.js';
import { Heartbeat } from './health/heartbeat.js';
import {
  type GroupStats,
  type HealthReport,
  type KeelEvents,
  RESERVED_HEALTH_KEYS,
  type Readiness,
  type SignalStats,
} from './health/report.js';
import { budgetScore, combineScores, HEALTHY_SCORE, thresholdScore } from './health/score.js';
import type { EndpointName } from './http/endpoint-options.js';
import { createEndpoints, type EndpointHandler } from './http/endpoints.js';
import { type KeelConfig, type KeelOptions, resolveOptions } from './options.js';
import { LoadShedder, sheddingSnapshot } from './pressure/load-shedder.js';
import { decodeMetrics, MetricsWriter } from './prometheus/exposition.js';
import { renderKeelMetrics } from './prometheus/keel-metrics.js';
import { RuntimeSampler, type RuntimeSnapshot } from './runtime/runtime-sampler.js';
import { holdTickObjectShapes } from './runtime/tick-shapes.js';
import { DB_SIGNAL, HTTP_SIGNAL, TTI_SIGNAL } from './signals/built-in-signals.js';
import type { LabelValue } from './signals/labels.js';
import { Signal } from './signals/signal.js';
import type { WindowSummary } from './signals/window.js';
import { VitalsCollector } from './vitals/collector.js';

/** The single label every request that matched no route shares, so random 404 paths cannot create series. */
export const UNMATCHED_ROUTE = '__unmatched__';

/**
 * Status recorded for a request the client gave up on before the answer was
 * sent (nginx's "client closed request"). It is not a server error, so it
 * does not count against availability or the error rate.
 */
export const ABORTED_STATUS = 499;

/**
 * Status recorded for a request graceful shutdown cut off when its drain
 * timed out (or a second signal forced it): the server gave no answer, so
 * it counts as a server error, against availability.
 */
export const CUT_OFF_STATUS = 503;

/** How many groups per signal `/health` lists as hotspots. */
const TOP_GROUPS = 5;

export interface AssertBudgetsOptions {
  /** Judge only these budgets. @default all */
  budgets?: string[];
  /** Fail when a judged budget has no data. @default false */
  requireData?: boolean;
}

export interface AdminServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

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
  /** The four endpoint handlers, for frameworks that mount them one by one. */
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

  readonly #signals = new Map<string, Signal>();
  readonly #trackers: BudgetTracker[] = [];
  readonly #summaries = new Map<Signal, WindowSummary>();
  readonly #checks = new Map<string, DependencyCheck>();
  readonly #events: Emitter<KeelEvents>;
  readonly #runtime: RuntimeSampler | undefined;
  readonly #handle: (req: IncomingMessage, res: ServerResponse) => boolean;
  readonly #startedAt: number;
  #timer: TimerHandle | undefined;
  #slotEnd: number;
  #lastTick: number;
  #lastRuntimeSample = Number.NEGATIVE_INFINITY;
  #slotReadyMs = 0;
  #slotElapsedMs = 0;
  #started: boolean;
  #shuttingDown = false;
  #closed = false;
  #stableSince: number | null = null;
  // Assigned by the first evaluation in the constructor.
  #report!: HealthReport;
  #admin: AdminServer | undefined;
  readonly #heartbeat: Heartbeat | undefined;
  readonly #cleanups: { name: string; fn: () => unknown }[] = [];
  readonly #caches = new Map<string, KeelCache<unknown>>();
  /** Size of the last `/metrics` text, bytes: where the next render's buffer starts. */
  #metricsBytes = 64 * 1024;
  /**
   * The writer between scrapes, emptied (`take()`), and kept alive on purpose:
   * with none alive, a full GC between scrapes let V8 drop the optimized
   * render code (decision 0012), and the next scrape ran deoptimized, 4-19 ms
   * instead of 1-2.
   */
  #idleWriter: MetricsWriter | undefined = undefined;
  readonly #breakers = new Map<string, CircuitBreaker>();
  readonly #sections = new Map<string, () => unknown>();
  readonly #readinessHolds = new Set<{ reason: string }>();

  constructor(options?: KeelOptions) {
    this.config = resolveOptions(options);
    holdTickObjectShapes();
    const { clock } = this.config;
    this.errors = new ErrorReporter(this.config.onError);
    this.#events = new Emitter(this.errors);
    this.context = new RequestContexts(clock);
    this.shedder = new LoadShedder(this.config.shedding);
    this.registry = options?.registry ?? new Registry();
    const now = clock.now();
    this.#startedAt = now;
    this.#lastTick = now;
    this.#slotEnd = now + this.config.interval;
    this.#started = !this.config.manualStartup;

    for (const definition of this.config.signals) {
      const signal = new Signal(definition, this.config.windowIntervals);
      this.#signals.set(definition.name, signal);
      this.#summaries.set(signal, signal.newSummary());
    }
    this.http = this.#signals.get(HTTP_SIGNAL)!;
    this.db = this.#signals.get(DB_SIGNAL)!;
    this.tti = this.#signals.get(TTI_SIGNAL)!;
    for (const budget of this.config.budgets) {
      const signal = this.#signals.get(budget.signal)!;
      this.#trackers.push(new BudgetTracker(budget, signal.definition, this.config, now));
    }

    this.vitals = this.config.vitals ? new VitalsCollector(this, this.config.vitals) : undefined;

    const endpoints = createEndpoints(this);
    this.handlers = Object.freeze(endpoints.handlers);
    this.paths = endpoints.paths;
    this.#handle = endpoints.handle;

    if (this.config.heartbeatFile) {
      this.#heartbeat = new Heartbeat(this.config.heartbeatFile);
      // The previous run's silence counts as time not ready, capped at the longest window kept.
      const gap = Math.min(
        this.#heartbeat.gapSince(now),
        this.config.historyIntervals * this.config.interval,
      );
      this.#slotElapsedMs += gap;
      this.#beat(now);
    }
    if (this.config.runtime) {
      this.#runtime = new RuntimeSampler();
      this.#runtime.start();
    }
    this.#report = this.#evaluate(now);
    this.#schedule();
    if (this.config.endpoints.adminPort !== undefined) {
      this.listen(this.config.endpoints.adminPort, this.config.endpoints.adminHost).catch((error) =>
        this.errors.report('admin-server', error),
      );
    }
  }

  // ---- recording (hot path) -------------------------------------------------

  /**
   * Records one finished HTTP request. `route` is the route template
   * (`/users/:id`), or `UNMATCHED_ROUTE` when none matched. `outcome` says
   * why Keel answered the request itself (`shed`, ...); leave it out when the
   * app answered. A self-answer counts like any other answer (a 503 is a
   * server error), so refusing users can never look like health.
   */
  recordRequest(
    method: string,
    route: string,
    status: number,
    durationMs: number,
    outcome: KeelOutcome | '' = '',
  ): void {
    const ok = status === ABORTED_STATUS || (this.config.clientErrorsAreErrors ? status < 400 : status < 500);
    this.http.record(durationMs, ok, method, route, status, outcome);
  }

  /** Records one database operation under its fingerprint (`summary`). */
  recordQuery(operation: string, summary: string, durationMs: number, ok = true): void {
    this.db.record(durationMs, ok, operation, summary);
  }

  /** A signal by name: the built-ins or one defined in `options.signals`. */
  signal(name: string): Signal {
    const signal = this.#signals.get(name);
    if (!signal) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `keel.signal: no signal named "${name}"; define it in createKeel({ signals: { "${name}": {...} } }).`,
      );
    }
    return signal;
  }

  get signals(): readonly Signal[] {
    return [...this.#signals.values()];
  }

  // ---- health ---------------------------------------------------------------

  /**
   * The latest evaluation (made once per interval), with readiness,
   * dependencies and shedding as they are right now. Sections added with
   * `addHealthSection` are rendered when `sections` is first read, so callers
   * that only want the score or the budgets (a `/metrics` scrape, OTel gauges)
   * do not pay for them.
   */
  health(): HealthReport {
    const report = this.#report;
    const live = {
      ...report,
      sections: undefined as HealthReport['sections'],
      readiness: this.#readinessAt(report.score),
      dependencies: Object.freeze([...this.#checks.values()].map((c) => c.status)),
      shedding: sheddingSnapshot(this.shedder),
    };
    if (this.#sections.size > 0) {
      let rendered: HealthReport['sections'];
      Object.defineProperty(live, 'sections', {
        enumerable: true,
        get: () => {
          rendered ??= this.#renderSections();
          return rendered;
        },
      });
    }
    return live;
  }

  /** Re-evaluates now, from the closed intervals, and returns the report. */
  evaluate(): HealthReport {
    this.#report = this.#evaluate(this.config.clock.now());
    return this.#report;
  }

  budgets(): readonly BudgetSnapshot[] {
    return this.#report.budgets;
  }

  readiness(): Readiness {
    return this.#readinessAt(this.#report.score);
  }

  #readinessAt(score: number): Readiness {
    const reasons: string[] = [];
    if (this.#closed) reasons.push('closed');
    else if (this.#shuttingDown) reasons.push('shutting down');
    else if (!this.#started) reasons.push('starting');
    for (const hold of this.#readinessHolds) reasons.push(hold.reason);
    for (const check of this.#checks.values()) {
      const s = check.status;
      if (s.critical && !s.ok) reasons.push(`dependency ${s.name}: ${s.error ?? 'failing'}`);
    }
    const floor = this.config.readinessMinScore;
    if (floor > 0 && score < floor) reasons.push(`health score ${score} below ${floor}`);
    return { ready: reasons.length === 0, reasons };
  }

  /** Startup is done: with `health.manualStartup`, readiness waits for this. */
  markStarted(): void {
    this.#started = true;
  }

  /**
   * Turns readiness off (with a reason) until the returned function is called,
   * e.g. so an orchestrator drains this instance; liveness stays 200.
   * Unlike `beginShutdown` it can be undone.
   */
  holdReadiness(reason: string): () => void {
    const hold = { reason: String(reason) };
    this.#readinessHolds.add(hold);
    return () => {
      this.#readinessHolds.delete(hold);
    };
  }

  /**
   * Adds a top-level section to the `/health` JSON (e.g. `monitor`, `incidents`),
   * computed on each request by `render`. A throwing `render` is reported and
   * its section reads `null`. Returns a function that removes it.
   */
  addHealthSection(name: string, render: () => unknown): () => void {
    if (typeof name !== 'string' || !/^[A-Za-z][\w]{0,63}$/.test(name) || RESERVED_HEALTH_KEYS.has(name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addHealthSection: \`name\` must be 1-64 letters, digits or "_", starting with a letter, and not one of /health's own keys (${[...RESERVED_HEALTH_KEYS].join(', ')}).`,
      );
    }
    if (typeof render !== 'function') {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addHealthSection(${name}): \`render\` must be a function.`,
      );
    }
    if (this.#sections.has(name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addHealthSection: a section named "${name}" is already registered.`,
      );
    }
    this.#sections.set(name, render);
    return () => {
      if (this.#sections.get(name) === render) this.#sections.delete(name);
    };
  }

  #renderSections(): Readonly<Record<string, unknown>> {
    const out: Record<string, unknown> = {};
    for (const [name, render] of this.#sections) {
      try {
        out[name] = render();
      } catch (error) {
        this.errors.report(`health-section:${name}`, error, KeelErrorCode.CallbackFailed);
        out[name] = null;
      }
    }
    return Object.freeze(out);
  }

  /**
   * Turns readiness off so load balancers stop sending traffic; liveness
   * stays 200. The first call emits `shutdown`, so the monitor can stand
   * down: a planned shutdown is not an outage.
   */
  beginShutdown(): void {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    this.#events.emit('shutdown', { at: this.config.clock.now() });
  }

  /** Whether `beginShutdown` was called (a planned shutdown is under way). */
  get shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  /**
   * Registers a dependency check. It runs at once and then on its interval;
   * readiness and the score use its last result. Returns a function that removes it.
   */
  addCheck(options: DependencyCheckOptions): () => void {
    const resolved = resolveCheckOptions(options);
    if (this.#checks.has(resolved.name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `addCheck: a check named "${resolved.name}" is already registered.`,
      );
    }
    const check = new DependencyCheck(resolved, this.config.clock, this.errors);
    this.#checks.set(check.name, check);
    if (!this.#closed) check.start();
    return () => {
      check.stop();
      if (this.#checks.get(check.name) === check) this.#checks.delete(check.name);
    };
  }

  /** Runs every dependency check now and waits for the results. */
  async runChecks(): Promise<void> {
    await Promise.all([...this.#checks.values()].map((c) => c.run()));
  }

  /**
   * For tests and load tests: judges every budget over its window including
   * the interval in progress, without hysteresis, and throws a
   * `KEEL_BUDGET_BREACHED` error with a readable report if one is breached.
   */
  assertBudgets(options: AssertBudgetsOptions = {}): readonly BudgetSnapshot[] {
    const now = this.config.clock.now();
    const selected = this.#trackers.filter(
      (t) => !options.budgets || options.budgets.includes(t.budget.name),
    );
    if (options.budgets) {
      const unknown = options.budgets.filter((name) => !this.#trackers.some((t) => t.budget.name === name));
      if (unknown.length)
        throw new KeelError(
          KeelErrorCode.InvalidOption,
          `assertBudgets: unknown budget(s) ${unknown.join(', ')}.`,
        );
    }
    const results = selected.map((t) => {
      const signal = this.#signals.get(t.budget.signal)!;
      const summary = signal.summarize(
        this.#summaries.get(signal)!,
        t.budget.windowIntervals - 1,
        t.budget.group,
        true,
      );
      const history = t.history(t.budget.windowIntervals - 1);
      const a = t.assess(
        summary,
        history.readyMs + this.#slotReadyMs,
        history.elapsedMs + this.#slotElapsedMs,
      );
      return {
        ...t.last,
        state: a.candidate,
        value: a.value,
        samples: a.samples,
        errorBudgetUsed: a.errorBudgetUsed,
        since: now,
      };
    });
    const failed = results.filter(
      (r) => r.state === 'breached' || (options.requireData && r.state === 'no_data'),
    );
    if (failed.length) throw new KeelError(KeelErrorCode.BudgetBreached, formatBudgetReport(results, failed));
    return results;
  }

  // ---- events ---------------------------------------------------------------

  /** Subscribes to `budget`, `health` or `evaluation` events; returns an unsubscribe function. */
  on<K extends keyof KeelEvents>(event: K, listener: (payload: KeelEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  // ---- endpoints ------------------------------------------------------------

  /**
   * Answers Keel's endpoint paths and returns `true`; returns `false` for any
   * other path so the caller can pass the request on.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    return this.#handle(req, res);
  }

  /** Prometheus text: Keel's metrics, then the registry's. */
  async metrics(): Promise<string> {
    const bytes = await this.metricsBuffer();
    const text = decodeMetrics(bytes);
    // The string is a copy: the bytes can serve the next render.
    this.releaseMetricsBuffer(bytes);
    return text;
  }

  /** The same as `metrics()`, as the UTF-8 bytes `/metrics` sends (no string to build and flatten). */
  async metricsBuffer(): Promise<Buffer> {
    // A scrape that overlaps another (both wait for the registry) takes a writer of its own.
    const out = this.#idleWriter ?? new MetricsWriter(0);
    this.#idleWriter = undefined;
    out.restart(this.#metricsBytes);
    renderKeelMetrics(out, this, this.#runtime?.last ?? null);
    const others = await this.registry.metrics();
    if (others) out.text(others.endsWith('\n') ? others : `${others}\n`);
    const bytes = out.take();
    // Room for some growth next time; bounded by what the series caps allow.
    this.#metricsBytes = Math.ceil(bytes.length * 1.1) + 1024;
    this.#idleWriter = out;
    return bytes;
  }

  /**
   * Gives `/metrics` bytes from `metricsBuffer()` back once they have been
   * sent and nothing reads them any more, so the next render writes into them
   * instead of a fresh buffer. Keel's own endpoint does it when the response
   * finishes; bytes given back must not be used again.
   */
  releaseMetricsBuffer(bytes: Buffer): void {
    this.#idleWriter?.giveBack(bytes);
  }

  /** Serves the endpoints on their own port (the admin port). `port` 0 picks a free one. */
  listen(
    port = this.config.endpoints.adminPort ?? 0,
    host = this.config.endpoints.adminHost,
  ): Promise<AdminServer> {
    if (this.#admin) return Promise.resolve(this.#admin);
    const server = createServer((req, res) => {
      if (!this.#handle(req, res)) {
        res.statusCode = 404;
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.end('not found\n');
      }
    });
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        server.on('error', (error) => this.errors.report('admin-server', error));
        const admin: AdminServer = {
          server,
          port: (server.address() as AddressInfo).port,
          close: () => closeServer(server),
        };
        this.#admin = admin;
        resolve(admin);
      });
    });
  }

  /**
   * A cache on this Keel's clock: TTL, stale-while-revalidate, single-flight
   * loads. Failures go to `onError`, counters to `/metrics`. Names are unique per instance.
   */
  cache<V>(options: CacheOptions<V>): KeelCache<V> {
    if (typeof options?.name === 'string' && this.#caches.has(options.name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `keel.cache: option \`cache.name\` must be unique; "${options.name}" is taken.`,
      );
    }
    const cache = createCache<V>(
      { clock: this.config.clock, reportError: (where, error) => this.errors.report(where, error) },
      options,
    );
    this.#caches.set(cache.name, cache as KeelCache<unknown>);
    return cache;
  }

  get caches(): readonly KeelCache<unknown>[] {
    return [...this.#caches.values()];
  }

  /**
   * A circuit breaker on this Keel's clock, for one dependency: trips on a
   * failure ratio, probes half-open, and can be held open by the monitor.
   * A call slower than the request deadline counts as slow unless `slowCallMs`
   * says otherwise. Names are unique per instance.
   */
  breaker(options: CircuitBreakerOptions): CircuitBreaker {
    if (typeof options?.name === 'string' && this.#breakers.has(options.name)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `keel.breaker: option \`name\` must be unique; "${options.name}" is taken.`,
      );
    }
    const breaker = new CircuitBreaker(this.config.clock, options, this.config.requestDeadline ?? 1000);
    this.#breakers.set(breaker.name, breaker);
    return breaker;
  }

  get breakers(): readonly CircuitBreaker[] {
    return [...this.#breakers.values()];
  }

  /**
   * Registers a cleanup for graceful shutdown (close a pool, flush a queue).
   * Cleanups run newest first, after in-flight requests have drained.
   * Returns a function that removes it.
   */
  onShutdown(fn: () => unknown, name = fn.name || 'cleanup'): () => void {
    if (typeof fn !== 'function')
      throw new KeelError(KeelErrorCode.InvalidOption, 'onShutdown: `fn` must be a function.');
    const entry = { name, fn };
    this.#cleanups.push(entry);
    return () => {
      const i = this.#cleanups.indexOf(entry);
      if (i >= 0) this.#cleanups.splice(i, 1);
    };
  }

  /** The registered cleanups, oldest first. */
  shutdownCleanups(): { name: string; fn: () => unknown }[] {
    return this.#cleanups.slice();
  }

  /** Reports a failure caught by an adapter: counted, logged once, never thrown. */
  reportError(where: string, error: unknown): void {
    this.errors.report(where, error);
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Stops timers, checks and the admin server. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.config.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const check of this.#checks.values()) check.stop();
    this.#runtime?.stop();
    // The last sign of life: a restart measures its downtime from here.
    await this.#heartbeat
      ?.beat(this.config.clock.now())
      .catch((error) => this.errors.report('heartbeat', error));
    const admin = this.#admin;
    this.#admin = undefined;
    await admin?.close();
  }

  // ---- the background tick --------------------------------------------------

  #schedule(): void {
    if (this.#closed) return;
    const now = this.config.clock.now();
    let delay = this.#slotEnd - now;
    if (this.config.runtime) delay = Math.min(delay, this.config.runtime.sampleInterval);
    this.#timer = this.config.clock.setTimeout(() => this.#tick(), Math.max(1, delay));
  }

  #tick(): void {
    this.#timer = undefined;
    try {
      const now = this.config.clock.now();
      this.#accountReadiness(now);
      if (this.#runtime && now - this.#lastRuntimeSample >= this.config.runtime!.sampleInterval) {
        this.shedder.update(this.#runtime.sample(now));
        this.#lastRuntimeSample = now;
      }
      if (now >= this.#slotEnd) this.#catchUp(now);
    } catch (error) {
      this.errors.report('tick', error);
    }
    this.#schedule();
  }

  /** Time ready vs. elapsed, for the availability budget. */
  #accountReadiness(now: number): void {
    const elapsed = Math.max(0, now - this.#lastTick);
    this.#lastTick = now;
    this.#slotElapsedMs += elapsed;
    if (this.readiness().ready) this.#slotReadyMs += elapsed;
  }

  #catchUp(now: number): void {
    const { interval, historyIntervals } = this.config;
    const due = Math.floor((now - this.#slotEnd) / interval) + 1;
    // After a long pause (a suspended laptop, a fake clock jump) older intervals are empty anyway.
    const rotations = Math.min(due, historyIntervals + 1);
    for (let i = 0; i < rotations; i++) this.#rotate();
    this.#slotEnd += due * interval;
    // Expired entries leave the cache within one interval, so its gauges tell the truth.
    for (const cache of this.#caches.values()) cache.prune();
    this.#report = this.#evaluate(now);
    this.#beat(now);
  }

  #beat(now: number): void {
    this.#heartbeat?.beat(now).catch((error) => this.errors.report('heartbeat', error));
  }

  #rotate(): void {
    const totals = this.#trackers.map(() => ({
      good: 0,
      total: 0,
      readyMs: this.#slotReadyMs,
      elapsedMs: this.#slotElapsedMs,
    }));
    for (const [name, signal] of this.#signals) {
      const related = this.#trackers.map((t, i) => [t, i] as const).filter(([t]) => t.budget.signal === name);
      signal.rotate(
        related.length === 0
          ? undefined
          : (group, slot) => {
              for (const [tracker, i] of related) {
                if (tracker.budget.group !== undefined && tracker.budget.group !== group.key) continue;
                totals[i]!.good +=
                  tracker.budget.kind === 'latency'
                    ? slot.countAtOrBelow(tracker.boundary)
                    : slot.count - slot.bad;
                totals[i]!.total += slot.count;
              }
            },
      );
    }
    for (const [i, tracker] of this.#trackers.entries()) tracker.push(totals[i]!);
    this.#slotReadyMs = 0;
    this.#slotElapsedMs = 0;
  }

  #evaluate(now: number): HealthReport {
    const previous = this.#report as HealthReport | undefined;
    const budgets = this.#trackers.map((tracker) => {
      const signal = this.#signals.get(tracker.budget.signal)!;
      const summary = signal.summarize(
        this.#summaries.get(signal)!,
        tracker.budget.windowIntervals,
        tracker.budget.group,
      );
      const history = tracker.history(tracker.budget.windowIntervals);
      const { snapshot, changedFrom } = tracker.evaluate(
        tracker.assess(summary, history.readyMs, history.elapsedMs),
        now,
      );
      if (changedFrom !== null) {
        this.#events.emit('budget', {
          budget: snapshot.name,
          from: changedFrom,
          to: snapshot.state,
          snapshot,
          at: now,
        });
      }
      return snapshot;
    });

    const inputs = budgets.map((b) => ({
      name: `budget:${b.name}`,
      score: budgetScore(b),
      detail:
        b.value === null ? `${b.state}` : `${b.state}: ${round(b.value)} ${b.unit} vs ${b.target} ${b.unit}`,
    }));
    const runtime = this.#runtime?.last ?? null;
    if (runtime && this.config.runtime) inputs.push(...runtimeComponents(runtime, this.config.runtime));
    for (const check of this.#checks.values()) {
      const s = check.status;
      const score = s.checkedAt === null || s.ok ? 10 : s.critical ? 4 : 7;
      inputs.push({ name: `dependency:${s.name}`, score, detail: s.ok ? 'ok' : (s.error ?? 'failing') });
    }
    const score = combineScores(inputs);

    if (score.score >= HEALTHY_SCORE) this.#stableSince ??= now;
    else this.#stableSince = null;
    const stable = this.#stableSince !== null && now - this.#stableSince >= this.config.stabilityWindow;

    const report: HealthReport = Object.freeze({
      service: this.config.service,
      status: score.status,
      score: score.score,
      healthy: score.score >= HEALTHY_SCORE,
      stable,
      stableSince: this.#stableSince,
      readiness: this.#readinessAt(score.score),
      budgets: Object.freeze(budgets),
      components: score.components,
      dependencies: Object.freeze([...this.#checks.values()].map((c) => c.status)),
      runtime,
      signals: Object.freeze(this.#signalStats()),
      shedding: sheddingSnapshot(this.shedder),
      evaluatedAt: now,
      startedAt: this.#startedAt,
    });
    if (previous && previous.status !== report.status) {
      this.#events.emit('health', { from: previous.status, to: report.status, score: report.score, at: now });
    }
    if (this.#events.hasListeners('evaluation')) this.#events.emit('evaluation', report);
    return report;
  }

  #signalStats(): SignalStats[] {
    const window = this.config.windowIntervals;
    return [...this.#signals.values()].map((signal) => {
      const summary = signal.summarize(this.#summaries.get(signal)!, window);
      // Rank groups by time consumed from the cheap per-slot totals; build quantiles for the top few only.
      const ranked = [...signal.groups.values()]
        .map((group) => {
          let total = 0;
          let samples = 0;
          for (const slot of group.ring.closed(window)) {
            total += slot.sum;
            samples += slot.count;
          }
          return { group, total, samples };
        })
        .filter((g) => g.samples > 0)
        .sort((a, b) => b.total - a.total)
        .slice(0, TOP_GROUPS);
      const overall = statsOf(summary);
      const top: GroupStats[] = ranked.map(({ group }) => {
        const s = signal.summarize(signal.newSummary(), window, group.key);
        return { group: group.key, ...statsOf(s), total: round(s.sum) };
      });
      return {
        name: signal.definition.name,
        unit: signal.definition.unit,
        ...overall,
        series: signal.seriesCount,
        overflowed: signal.overflowed,
        top,
      };
    });
  }
}

/**
 * Closes a server without waiting for clients' keep-alive sockets: idle ones
 * go at once, busy ones get a short grace period to finish their answer.
 */
function closeServer(server: Server, graceMs = 2000): Promise<void> {
  return new Promise<void>((done) => {
    server.close(() => done());
    server.closeIdleConnections();
    setTimeout(() => server.closeAllConnections(), graceMs).unref();
  });
}

function statsOf(s: WindowSummary) {
  return {
    samples: s.count,
    errorRatio: s.count === 0 ? 0 : round(s.bad / s.count),
    p50: nullableRound(s.quantile(0.5)),
    p95: nullableRound(s.quantile(0.95)),
    p99: nullableRound(s.quantile(0.99)),
  };
}

function runtimeComponents(r: RuntimeSnapshot, t: NonNullable<KeelConfig['runtime']>) {
  const heapRatio = r.heapLimitBytes > 0 ? r.heapUsedBytes / r.heapLimitBytes : 0;
  return [
    {
      name: 'runtime:event_loop_delay',
      score: thresholdScore(r.eventLoopDelayP99, t.eventLoopDelay),
      detail: `p99 ${round(r.eventLoopDelayP99)} ms`,
    },
    {
      name: 'runtime:event_loop_utilization',
      score: thresholdScore(r.eventLoopUtilization, t.eventLoopUtilization),
      detail: `${round(r.eventLoopUtilization * 100)} %`,
    },
    {
      name: 'runtime:heap',
      score: thresholdScore(heapRatio, t.heap),
      detail: `${round(heapRatio * 100)} % of limit`,
    },
  ];
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

function nullableRound(value: number | null): number | null {
  return value === null ? null : round(value);
}

/** Creates an instance. Invalid options throw a `KeelError` with code `KEEL_INVALID_OPTION`. */
export function createKeel(options?: KeelOptions): Keel {
  return new Keel(options);
}

export type { LabelValue };
