import { type MetricFamily, scaleOf } from '../prometheus/exposition.js';
import { type KeelMetricsSource, keelMetricFamilies } from '../prometheus/keel-metrics.js';
import type { Series, Signal } from '../signals/signal.js';

/*
 * Everything `/metrics` shows of Keel, as OpenTelemetry metric data, made
 * when the SDK collects: the histograms from the same cumulative series the
 * Prometheus exposition reads, the gauges from the same families. Nothing is
 * recorded per request through OpenTelemetry. The shapes are the SDK's
 * (`@opentelemetry/sdk-metrics` 2.x `MetricProducer`), written structurally so
 * core imports no OpenTelemetry package.
 */

/** `[seconds, nanoseconds]`, OpenTelemetry's `HrTime`. */
type HrTime = [number, number];
type Attributes = Record<string, string | number>;

/** `DataPointType` and `AggregationTemporality` of `@opentelemetry/sdk-metrics`; `ValueType.DOUBLE` of the API. */
const HISTOGRAM = 0;
const GAUGE = 2;
const SUM = 3;
const CUMULATIVE = 1;
const DOUBLE = 1;

interface Descriptor {
  readonly name: string;
  readonly description: string;
  readonly unit: string;
  readonly valueType: number;
}

export interface OtelDataPoint<T> {
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly attributes: Attributes;
  readonly value: T;
}

export interface OtelHistogramValue {
  readonly buckets: { readonly boundaries: number[]; readonly counts: number[] };
  readonly sum: number;
  readonly count: number;
}

/** One metric in the SDK's `MetricData` shape. */
export type OtelMetricData =
  | {
      readonly descriptor: Descriptor;
      readonly aggregationTemporality: number;
      readonly dataPointType: typeof HISTOGRAM;
      readonly dataPoints: OtelDataPoint<OtelHistogramValue>[];
    }
  | {
      readonly descriptor: Descriptor;
      readonly aggregationTemporality: number;
      readonly dataPointType: typeof GAUGE;
      readonly dataPoints: OtelDataPoint<number>[];
    }
  | {
      readonly descriptor: Descriptor;
      readonly aggregationTemporality: number;
      readonly dataPointType: typeof SUM;
      readonly isMonotonic: boolean;
      readonly dataPoints: OtelDataPoint<number>[];
    };

/** The SDK's `MetricProducer`: pass it in a `MetricReader`'s `metricProducers`. */
export interface KeelMetricProducer {
  collect(): Promise<{
    resourceMetrics: {
      /**
       * Not Keel's to say: the reader keeps its MeterProvider's resource. Typed `never` so the
       * producer fits the SDK's `MetricProducer` without core importing its `Resource` type.
       */
      resource: never;
      scopeMetrics: { scope: { name: string }; metrics: OtelMetricData[] }[];
    };
    errors: unknown[];
  }>;
}

/** What the producer reads: an instance, as `/metrics` sees it, plus where errors go. */
export interface OtelProducerSource extends KeelMetricsSource {
  reportError(where: string, error: unknown): void;
}

/**
 * Prometheus label names of the built-in signals and their OpenTelemetry
 * attribute names (semantic conventions); other labels keep their names.
 */
const ATTRIBUTE_NAMES: Readonly<Record<string, string>> = {
  http_request_method: 'http.request.method',
  http_route: 'http.route',
  http_response_status_code: 'http.response.status_code',
  keel_outcome: 'keel.outcome',
  db_operation_name: 'db.operation.name',
  db_query_summary: 'db.query.summary',
};
const INTEGER_ATTRIBUTES: ReadonlySet<string> = new Set(['http.response.status_code']);

/**
 * Keel's gauges and counters under their OpenTelemetry names and units (the
 * core README's table "OpenTelemetry names → Prometheus names"), chosen so a
 * collector's Prometheus exporter writes the names `/metrics` has: unit `1`
 * adds `_ratio` to a gauge, `s` `_seconds`, `By` `_bytes`, a counter `_total`;
 * a unit in braces (`{request}`) says what is counted and adds nothing.
 */
const FAMILY_NAMES: Readonly<Record<string, { name: string; unit: string }>> = {
  keel_health_score: { name: 'keel.health.score', unit: '{score}' },
  keel_healthy: { name: 'keel.healthy', unit: '' },
  keel_stable: { name: 'keel.stable', unit: '' },
  keel_ready: { name: 'keel.ready', unit: '' },
  keel_health_component_score: { name: 'keel.health.component.score', unit: '{score}' },
  keel_budget_state: { name: 'keel.budget.state', unit: '' },
  keel_budget_error_budget_used_ratio: { name: 'keel.budget.error_budget_used', unit: '1' },
  keel_budget_burn_rate: { name: 'keel.budget.burn_rate', unit: '{burn_rate}' },
  keel_dependency_up: { name: 'keel.dependency.up', unit: '' },
  keel_signal_overflow_total: { name: 'keel.signal.overflow', unit: '{sample}' },
  keel_signal_rejected_total: { name: 'keel.signal.rejected', unit: '{sample}' },
  keel_shedding: { name: 'keel.shedding', unit: '' },
  keel_http_requests_shed_total: { name: 'keel.http.requests.shed', unit: '{request}' },
  keel_internal_errors_total: { name: 'keel.internal.errors', unit: '{error}' },
  nodejs_eventloop_delay_p99_seconds: { name: 'nodejs.eventloop.delay.p99', unit: 's' },
  nodejs_eventloop_utilization_ratio: { name: 'nodejs.eventloop.utilization', unit: '1' },
  v8js_memory_heap_used_bytes: { name: 'v8js.memory.heap.used', unit: 'By' },
  v8js_memory_heap_limit_bytes: { name: 'v8js.memory.heap.limit', unit: 'By' },
  process_memory_usage_bytes: { name: 'process.memory.usage', unit: 'By' },
  v8js_gc_duration_seconds_total: { name: 'v8js.gc.duration', unit: 's' },
  keel_cache_requests_total: { name: 'keel.cache.requests', unit: '{request}' },
  keel_cache_loads_total: { name: 'keel.cache.loads', unit: '{load}' },
  keel_cache_evictions_total: { name: 'keel.cache.evictions', unit: '{entry}' },
  keel_cache_entries: { name: 'keel.cache.entries', unit: '{entry}' },
  keel_cache_size_bytes: { name: 'keel.cache.size', unit: 'By' },
  keel_circuit_breaker_state: { name: 'keel.circuit_breaker.state', unit: '' },
  keel_circuit_breaker_rejected_total: { name: 'keel.circuit_breaker.rejected', unit: '{call}' },
  keel_web_vitals_beacons_total: { name: 'keel.web_vitals.beacons', unit: '{beacon}' },
  keel_web_vitals_tti_censored_total: { name: 'keel.web_vitals.tti.censored', unit: '{beacon}' },
  keel_web_vitals_page_groups: { name: 'keel.web_vitals.page_groups', unit: '{group}' },
};

/** The OpenTelemetry name and unit of one of `/metrics`' families. */
export function otelNameOf(prometheusFamily: string): { name: string; unit: string } {
  return FAMILY_NAMES[prometheusFamily] ?? { name: prometheusFamily.replace(/_total$/, ''), unit: '' };
}

/** The OpenTelemetry unit of a signal as exported (`ms` leaves as seconds, like `/metrics`). */
function signalUnit(signal: Signal): string {
  const unit = signal.definition.unit;
  return unit === 'ms' ? 's' : unit;
}

const EMPTY_RESOURCE = Object.freeze({ attributes: {} });

const hrTime = (ms: number): HrTime => [Math.floor(ms / 1000), Math.round((ms % 1000) * 1e6)];

/**
 * An OpenTelemetry `MetricProducer` that exports what `/metrics` has when the
 * SDK collects: each signal as a cumulative histogram with `/metrics`' bucket
 * boundaries (seconds for durations); the score, budget states, burn rates,
 * caches, breakers, the vitals collector and the runtime as gauges and
 * counters, named as the README's table says. Give it to the reader of the app's
 * `MeterProvider`; a failure is reported to Keel and collection goes on.
 *
 * @example
 * import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
 * import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
 * import { NodeSDK } from '@opentelemetry/sdk-node';
 * const reader = new PeriodicExportingMetricReader({
 *   exporter: new OTLPMetricExporter(), // OTEL_EXPORTER_OTLP_ENDPOINT
 *   metricProducers: [createOtelMetricProducer(keel)],
 * });
 * new NodeSDK({ metricReaders: [reader], instrumentations: [] }).start();
 */
export function createOtelMetricProducer(keel: OtelProducerSource): KeelMetricProducer {
  return {
    async collect() {
      const errors: unknown[] = [];
      let metrics: OtelMetricData[] = [];
      try {
        metrics = otelMetrics(keel, Date.now());
      } catch (error) {
        keel.reportError('otel-metric-producer', error);
        errors.push(error);
      }
      return {
        // The reader keeps its MeterProvider's resource and takes only the scope metrics.
        resourceMetrics: {
          resource: EMPTY_RESOURCE as never,
          scopeMetrics: [{ scope: { name: '@keel/core' }, metrics }],
        },
        errors,
      };
    },
  };
}

/** Keel's metrics as OpenTelemetry metric data, at `now` (epoch ms). */
export function otelMetrics(keel: KeelMetricsSource, now: number): OtelMetricData[] {
  const report = keel.health();
  const start = hrTime(report.startedAt);
  const end = hrTime(now);
  const metrics: OtelMetricData[] = keel.signals.map((signal) => histogramOf(signal, start, end));
  for (const family of keelMetricFamilies(keel)) metrics.push(familyOf(family, start, end));
  return metrics;
}

function histogramOf(signal: Signal, startTime: HrTime, endTime: HrTime): OtelMetricData {
  const d = signal.definition;
  const scale = scaleOf(d);
  const boundaries = d.boundaries.map((b) => b * scale);
  const points: OtelDataPoint<OtelHistogramValue>[] = [];
  const add = (series: Series) => {
    const counts = Array.from(series.le);
    let count = 0;
    for (const c of counts) count += c;
    if (count === 0) return;
    points.push({
      startTime,
      endTime,
      attributes: attributesOf(d.labels, series.labelValues),
      value: { buckets: { boundaries, counts }, sum: series.sum * scale, count },
    });
  };
  for (const series of signal.series) add(series);
  add(signal.overflowSeries);
  return {
    descriptor: { name: d.name, description: d.description, unit: signalUnit(signal), valueType: DOUBLE },
    aggregationTemporality: CUMULATIVE,
    dataPointType: HISTOGRAM,
    dataPoints: points,
  };
}

function attributesOf(labels: readonly string[], values: readonly string[]): Attributes {
  const attributes: Attributes = {};
  labels.forEach((label, i) => {
    const value = values[i];
    // An empty value is an absent label in Prometheus too (`keel_outcome` when the app answered).
    if (value === undefined || value === '') return;
    const key = ATTRIBUTE_NAMES[label] ?? label;
    const n = Number(value);
    attributes[key] = INTEGER_ATTRIBUTES.has(key) && Number.isInteger(n) ? n : value;
  });
  return attributes;
}

function familyOf(family: MetricFamily, startTime: HrTime, endTime: HrTime): OtelMetricData {
  const { name, unit } = otelNameOf(family.name);
  const descriptor = { name, description: family.help, unit, valueType: DOUBLE };
  const dataPoints = family.samples.map(([labels, value]) => ({
    startTime,
    endTime,
    attributes: labels ? { ...labels } : {},
    value,
  }));
  return family.type === 'counter'
    ? { descriptor, aggregationTemporality: CUMULATIVE, dataPointType: SUM, isMonotonic: true, dataPoints }
    : { descriptor, aggregationTemporality: CUMULATIVE, dataPointType: GAUGE, dataPoints };
}
