import { checkKnownKeys, invalidOptionOf } from '../errors.js';
import type { HealthReport, KeelEvents } from '../health/report.js';
import { UNMATCHED_ROUTE } from '../signals/http-signal.js';
import { BreachedBudgets, type SpanLike } from './otel-tracing.js';

/*
 * Structural types for the few OpenTelemetry shapes Keel touches. Core does
 * not import `@opentelemetry/api`, so an app without OpenTelemetry pays
 * nothing, and any API 1.x / SDK 2.x object fits.
 */
type Attributes = Record<string, unknown>;

export interface ObservableResultLike {
  observe(value: number, attributes?: Attributes): void;
}

export interface ObservableLike {
  addCallback(callback: (result: ObservableResultLike) => void): void;
  removeCallback(callback: (result: ObservableResultLike) => void): void;
}

export interface MeterLike {
  createObservableGauge(name: string, options?: { description?: string; unit?: string }): ObservableLike;
}

export interface ReadableSpanLike {
  readonly kind: number;
  readonly attributes: Attributes;
  /** [seconds, nanoseconds] */
  readonly duration: readonly [number, number];
  readonly status?: { readonly code: number };
}

/** What `registerOtelMetrics` reads: a Keel, or anything that reports health the same way. */
export interface OtelMetricsSource {
  health(): HealthReport;
  reportError(where: string, error: unknown): void;
}

/** What `KeelSpanProcessor` records into: a Keel, or anything that records the same way. */
export interface OtelSpanSink {
  recordRequest(method: string, route: string, status: number, durationMs: number): void;
  recordQuery(operation: string, summary: string, durationMs: number, ok?: boolean): void;
  reportError(where: string, error: unknown): void;
  /** With it, server spans started while budgets are breached get `keel.budgets.breached`. */
  on?(event: 'budget', listener: (payload: KeelEvents['budget']) => void): () => void;
}

/** `SpanKind` values of `@opentelemetry/api`. */
const SPAN_KIND_SERVER = 1;
const SPAN_KIND_CLIENT = 2;
/** `SpanStatusCode.ERROR`. */
const STATUS_ERROR = 2;

const STATE_VALUE = { ok: 0, at_risk: 1, breached: 2, no_data: -1 } as const;

/**
 * Publishes Keel's score, budgets and signal percentiles as observable
 * gauges on an OpenTelemetry meter. With no SDK registered the API hands out
 * a no-op meter whose callbacks never run, so this costs nothing. Returns a
 * function that removes the callbacks.
 *
 * @example
 * import { metrics } from '@opentelemetry/api';
 * registerOtelMetrics(keel, metrics.getMeter('keel'));
 */
export function registerOtelMetrics(keel: OtelMetricsSource, meter: MeterLike): () => void {
  const registrations: (() => void)[] = [];
  const gauge = (
    name: string,
    description: string,
    unit: string,
    observe: (result: ObservableResultLike) => void,
  ) => {
    const instrument = meter.createObservableGauge(name, { description, unit });
    const callback = (result: ObservableResultLike) => {
      try {
        observe(result);
      } catch (error) {
        keel.reportError('otel-metrics', error);
      }
    };
    instrument.addCallback(callback);
    registrations.push(() => instrument.removeCallback(callback));
  };

  // Units in braces are annotations, which an OTLP-to-Prometheus conversion drops: `keel.health.score`
  // becomes `keel_health_score`, as `/metrics` names it. A unit of "1" on a gauge becomes `_ratio`.
  gauge('keel.health.score', 'Health score, 0 to 10.', '{score}', (r) => r.observe(keel.health().score));
  gauge('keel.budget.state', 'Budget state: 0 ok, 1 at risk, 2 breached, -1 no data.', '{state}', (r) => {
    for (const b of keel.health().budgets) r.observe(STATE_VALUE[b.state], { 'keel.budget': b.name });
  });
  gauge(
    'keel.budget.error_budget_used',
    'Share of the error budget used over the budget window.',
    '1',
    (r) => {
      for (const b of keel.health().budgets) {
        if (b.errorBudgetUsed !== null) r.observe(b.errorBudgetUsed, { 'keel.budget': b.name });
      }
    },
  );
  gauge('keel.budget.burn_rate', 'Error-budget burn rate per window.', '{burn_rate}', (r) => {
    for (const b of keel.health().budgets) {
      for (const rate of b.burnRates) {
        if (rate.short !== null)
          r.observe(rate.short, { 'keel.budget': b.name, 'keel.window': rate.shortWindow });
        if (rate.long !== null)
          r.observe(rate.long, { 'keel.budget': b.name, 'keel.window': rate.longWindow });
      }
    }
  });
  gauge(
    'keel.signal.percentile',
    'Percentiles of each signal over the budget window, in the signal unit.',
    '{value}',
    (r) => {
      for (const s of keel.health().signals) {
        for (const [p, value] of [
          ['50', s.p50],
          ['95', s.p95],
          ['99', s.p99],
        ] as const) {
          if (value !== null)
            r.observe(value, { 'keel.signal': s.name, 'keel.percentile': p, 'keel.unit': s.unit });
        }
      }
    },
  );
  return () => {
    for (const remove of registrations.splice(0)) remove();
  };
}

export interface KeelSpanProcessorOptions {
  /** Feed SERVER spans into the HTTP signal. Turn off when a Keel adapter already records requests. @default true */
  http?: boolean;
  /** Feed database CLIENT spans into the DB signal. Turn off when `@keel/pg` already records queries. @default true */
  db?: boolean;
}

/**
 * A span processor that turns server and database spans from any
 * OpenTelemetry auto-instrumentation into Keel samples, so frameworks without
 * a Keel adapter still get budgets.
 *
 * @example
 * const provider = new NodeTracerProvider({ spanProcessors: [new KeelSpanProcessor(keel)] });
 */
export class KeelSpanProcessor {
  readonly #keel: OtelSpanSink;
  readonly #http: boolean;
  readonly #db: boolean;
  readonly #breached = new BreachedBudgets();
  readonly #off: (() => void) | undefined;

  constructor(keel: OtelSpanSink, options: KeelSpanProcessorOptions = {}) {
    const o = resolveSpanProcessorOptions(options);
    this.#keel = keel;
    this.#http = o.http;
    this.#db = o.db;
    this.#off = keel.on?.('budget', (e) => this.#breached.update(e));
  }

  /** A server span started while budgets are breached says which: its trace shows the context it ran in. */
  onStart(span: SpanLike & { readonly kind?: number }): void {
    const names = this.#breached.names;
    if (names.length === 0 || span?.kind !== SPAN_KIND_SERVER) return;
    try {
      span.setAttribute('keel.budgets.breached', names.slice());
    } catch (error) {
      this.#keel.reportError('otel-span-processor', error);
    }
  }

  onEnd(span: ReadableSpanLike): void {
    try {
      const a = span.attributes;
      const durationMs = span.duration[0] * 1e3 + span.duration[1] / 1e6;
      if (span.kind === SPAN_KIND_SERVER && this.#http) {
        const method = str(a['http.request.method']) ?? str(a['http.method']);
        if (method === undefined) return;
        const status = Number(a['http.response.status_code'] ?? a['http.status_code'] ?? 0);
        const route = str(a['http.route']) ?? UNMATCHED_ROUTE;
        // A span without a status code never got an answer out: count it as a server error.
        this.#keel.recordRequest(method, route, status > 0 ? status : 500, durationMs);
      } else if (span.kind === SPAN_KIND_CLIENT && this.#db) {
        if (str(a['db.system.name']) === undefined && str(a['db.system']) === undefined) return;
        const text = str(a['db.query.text']) ?? str(a['db.statement']);
        const operation =
          str(a['db.operation.name']) ??
          str(a['db.operation']) ??
          text?.trim().split(/\s/, 1)[0]?.toUpperCase() ??
          'UNKNOWN';
        const collection = str(a['db.collection.name']) ?? str(a['db.sql.table']);
        const summary = str(a['db.query.summary']) ?? (collection ? `${operation} ${collection}` : operation);
        this.#keel.recordQuery(operation, summary, durationMs, span.status?.code !== STATUS_ERROR);
      }
    } catch (error) {
      this.#keel.reportError('otel-span-processor', error);
    }
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this.#off?.();
    return Promise.resolve();
  }
}

const SPAN_PROCESSOR_KEYS: ReadonlySet<string> = new Set(['http', 'db']);

function resolveSpanProcessorOptions(options: KeelSpanProcessorOptions): Required<KeelSpanProcessorOptions> {
  const invalid = (key: string, rule: string, got: unknown) =>
    invalidOptionOf('KeelSpanProcessor', key, rule, got);
  if (typeof options !== 'object' || options === null) throw invalid('options', 'must be an object', options);
  checkKnownKeys(options, SPAN_PROCESSOR_KEYS, invalid);
  for (const key of ['http', 'db'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean')
      throw invalid(key, 'must be a boolean', options[key]);
  }
  return { http: options.http ?? true, db: options.db ?? true };
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}
