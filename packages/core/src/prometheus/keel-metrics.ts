import type { CircuitStats } from '../breaker/circuit-breaker.js';
import type { CacheStats } from '../cache/cache.js';
import type { HealthReport, Readiness } from '../health/report.js';
import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';
import type { Signal } from '../signals/signal.js';
import type { VitalsStats } from '../vitals/collector.js';
import { breakerMetricFamilies } from './breaker-metrics.js';
import { cacheMetricFamilies } from './cache-metrics.js';
import {
  type GaugeSample,
  type MetricFamily,
  type MetricsWriter,
  renderHistogram,
  renderMetric,
} from './exposition.js';
import { KEEL_METRICS } from './metric-names.js';
import { vitalsMetricFamilies } from './vitals-metrics.js';

/** What Keel's exposition reads: an instance, seen through only what `/metrics` shows. */
export interface KeelMetricsSource {
  health(): HealthReport;
  readiness(): Readiness;
  readonly signals: readonly Signal[];
  readonly caches: readonly { stats(): CacheStats }[];
  readonly breakers: readonly { stats(): CircuitStats }[];
  readonly vitals: { stats(): VitalsStats } | undefined;
  readonly shedder: { readonly shedding: boolean; readonly shed: number };
  readonly errors: { total(): number };
  /** The latest runtime sample (not the one of the last evaluation), or `null`. */
  readonly runtimeSample: RuntimeSnapshot | null;
}

type MetricType = MetricFamily['type'];

const STATES = ['ok', 'at_risk', 'breached', 'no_data'] as const;

/**
 * Keel's own exposition: every signal as a histogram, then the health score,
 * budgets, dependencies and runtime as gauges an HPA or KEDA can scale on,
 * then caches, breakers and the vitals collector.
 */
export function renderKeelMetrics(out: MetricsWriter, keel: KeelMetricsSource): void {
  for (const signal of keel.signals) renderHistogram(out, signal);
  for (const f of keelMetricFamilies(keel)) out.text(renderMetric(f.name, f.type, f.help, f.samples));
}

/**
 * Every gauge and counter `/metrics` serves after the histograms, in its
 * order: the OpenTelemetry producer exports the same list, so the two cannot drift.
 */
export function keelMetricFamilies(keel: KeelMetricsSource): MetricFamily[] {
  const report = keel.health();
  const runtime = keel.runtimeSample;
  const families: MetricFamily[] = [];
  const metric = (name: string, type: MetricType, help: string, samples: readonly GaugeSample[]) =>
    families.push({ name, type, help, samples });
  const single = (name: string, type: MetricType, help: string, value: number) =>
    metric(name, type, help, [[null, value]]);
  single(
    KEEL_METRICS.healthScore,
    'gauge',
    'Health score, 0 (down) to 10 (every budget met, resources fine).',
    report.score,
  );
  single(KEEL_METRICS.healthy, 'gauge', '1 when the health score is at least 8.', report.healthy ? 1 : 0);
  single(
    KEEL_METRICS.stable,
    'gauge',
    '1 when healthy without a break for the stability window.',
    report.stable ? 1 : 0,
  );
  single(KEEL_METRICS.ready, 'gauge', '1 when /readyz answers 200.', keel.readiness().ready ? 1 : 0);
  metric(
    KEEL_METRICS.componentScore,
    'gauge',
    'Score of each health component, 0 to 10.',
    report.components.map((c) => [{ component: c.name }, c.score]),
  );
  metric(
    KEEL_METRICS.budgetState,
    'gauge',
    'Budget state: 1 for the current state, 0 for the others.',
    report.budgets.flatMap((b) =>
      STATES.map((s): GaugeSample => [{ budget: b.name, state: s }, b.state === s ? 1 : 0]),
    ),
  );
  metric(
    KEEL_METRICS.errorBudgetUsed,
    'gauge',
    'Share of the error budget used over the budget window; above 1 means breached.',
    report.budgets
      .filter((b) => b.errorBudgetUsed !== null)
      .map((b) => [{ budget: b.name }, b.errorBudgetUsed!]),
  );
  metric(
    KEEL_METRICS.burnRate,
    'gauge',
    'Error-budget burn rate over a window; 1 spends the budget exactly as fast as allowed.',
    report.budgets
      .flatMap((b) =>
        b.burnRates.flatMap((r) => {
          const samples: GaugeSample[] = [];
          if (r.short !== null) samples.push([{ budget: b.name, window: r.shortWindow }, r.short]);
          if (r.long !== null) samples.push([{ budget: b.name, window: r.longWindow }, r.long]);
          return samples;
        }),
      )
      .filter(uniqueBy((s) => `${s[0]!.budget}/${s[0]!.window}`)),
  );
  if (report.dependencies.length) {
    metric(
      'keel_dependency_up',
      'gauge',
      '1 when the dependency check last passed.',
      report.dependencies.map((d) => [{ dependency: d.name }, d.ok ? 1 : 0]),
    );
  }
  metric(
    'keel_signal_overflow_total',
    'counter',
    'Samples recorded into the overflow series because the series cap was reached or a label was invalid.',
    keel.signals.map((s) => [{ signal: s.definition.name }, s.overflowed]),
  );
  metric(
    'keel_signal_rejected_total',
    'counter',
    'Samples refused because the value was negative, NaN or infinite.',
    keel.signals.map((s) => [{ signal: s.definition.name }, s.rejected]),
  );
  single(
    KEEL_METRICS.shedding,
    'gauge',
    '1 while new requests are being shed (503 + Retry-After).',
    keel.shedder.shedding ? 1 : 0,
  );
  single(
    'keel_http_requests_shed_total',
    'counter',
    'Requests turned away by load shedding; each is also recorded as a 503 (outcome shed), so it counts against availability and the error budget.',
    keel.shedder.shed,
  );
  single(
    'keel_internal_errors_total',
    'counter',
    'Failures caught inside Keel and kept away from the app.',
    keel.errors.total(),
  );

  if (runtime) {
    single(
      'nodejs_eventloop_delay_p99_seconds',
      'gauge',
      'p99 event-loop delay over the last sample interval.',
      runtime.eventLoopDelayP99 / 1000,
    );
    single(
      'nodejs_eventloop_utilization_ratio',
      'gauge',
      'Share of the last sample interval the event loop was busy.',
      runtime.eventLoopUtilization,
    );
    single('v8js_memory_heap_used_bytes', 'gauge', 'V8 heap in use.', runtime.heapUsedBytes);
    single('v8js_memory_heap_limit_bytes', 'gauge', 'V8 heap size limit.', runtime.heapLimitBytes);
    single('process_memory_usage_bytes', 'gauge', 'Resident set size.', runtime.rssBytes);
    single(
      'v8js_gc_duration_seconds_total',
      'counter',
      'Time spent in garbage-collection pauses.',
      runtime.gcPauseTotalMs / 1000,
    );
  }
  families.push(...cacheMetricFamilies(keel.caches), ...breakerMetricFamilies(keel.breakers));
  if (keel.vitals) families.push(...vitalsMetricFamilies(keel.vitals));
  return families;
}

function uniqueBy<T>(key: (item: T) => string): (item: T) => boolean {
  const seen = new Set<string>();
  return (item) => {
    const k = key(item);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  };
}
