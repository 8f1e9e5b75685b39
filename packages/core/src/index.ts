export type { CircuitBreakerConfig, CircuitBreakerOptions } from './breaker/breaker-options.js';
export { CircuitBreaker, type CircuitState, type CircuitStats } from './breaker/circuit-breaker.js';
export {
  type BudgetChangeEvent,
  type BudgetSnapshot,
  type BudgetState,
  type BurnRate,
  formatDuration,
} from './budgets/budget.js';
export type {
  BudgetKind,
  BudgetOptions,
  BudgetRulesOptions,
  BudgetsOption,
  BurnRateWindow,
  DefaultBudgetName,
  ResolvedBudget,
} from './budgets/budget-options.js';
export type { AssertBudgetsOptions } from './budgets/budget-set.js';
export { budgetObjective } from './budgets/objective.js';
export { type CacheDeps, type CacheLoader, type CacheStats, createCache, KeelCache } from './cache/cache.js';
export type { CacheConfig, CacheOptions } from './cache/cache-options.js';
export {
  type CachedResponse,
  type CacheOwner,
  etagMatches,
  ResponseCache,
  type ResponseCacheOptions,
} from './cache/response-cache.js';
export { Capacity } from './capacity/capacity.js';
export type { CapacitySnapshot, RouteTraffic } from './capacity/capacity-model.js';
export {
  type CapacityConfig,
  type CapacityOptions,
  type CostConfig,
  type CostOptions,
  HOURS_PER_MONTH,
} from './capacity/capacity-options.js';
export type { CapacityChange, CostEstimate } from './capacity/cost.js';
export { type Clock, createFakeClock, type FakeClock, systemClock, type TimerHandle } from './clock.js';
export {
  defineConfig,
  type KeelFileConfig,
  type KeelFileOptions,
  resolveConfigFile,
  type ShutdownFileOptions,
} from './config/define-config.js';
export type { KubernetesConfig, KubernetesOptions } from './config/kubernetes-options.js';
export type { PrometheusConfig, PrometheusOptions } from './config/prometheus-options.js';
export { KEEL_OUTCOMES, type KeelOutcome } from './context/keel-outcome.js';
export { outcomeAtClose, RequestContext, RequestContexts } from './context/request-context.js';
export { MAX_REQUEST_FINGERPRINTS, RequestProfile } from './context/request-profile.js';
export type { DashboardData } from './dashboard/dashboard-endpoint.js';
export type { HealthHistoryJson } from './dashboard/health-history.js';
export {
  checkKnownKeys,
  type ErrorHandler,
  invalidOptionOf,
  isKeelError,
  KeelError,
  KeelErrorCode,
} from './errors.js';
export { Emitter } from './events.js';
export type { DependencyCheckOptions, DependencyStatus } from './health/checks.js';
export type { CacheScoreOptions, HealthOptions } from './health/health-options.js';
export type {
  GroupStats,
  HealthChangeEvent,
  HealthJson,
  HealthReport,
  KeelEvents,
  Readiness,
  ReportOptions,
  SelfAnswerEvent,
  SignalStats,
} from './health/report.js';
export { healthJson } from './health/report.js';
export {
  budgetScore,
  type ComponentScore,
  combineScores,
  type HealthScore,
  type HealthStatus,
  thresholdScore,
} from './health/score.js';
export type { AdminServer } from './http/admin-server.js';
export type { EndpointDetails, EndpointName, EndpointOptions } from './http/endpoint-options.js';
export { type EndpointHandler, PROMETHEUS_CONTENT_TYPE, pathOf } from './http/endpoints.js';
export { OPTIMISE_PATHS } from './http/optimise-endpoints.js';
export {
  addServerTiming,
  appendServerTiming,
  type HeaderMethods,
  serverTiming,
  type WriteHead,
} from './http/server-timing.js';
export { createKeel, Keel } from './keel.js';
export type { CapacityPricer } from './optimise/bottleneck-cost.js';
export { summariseProfile } from './optimise/cpu-profiler.js';
export type {
  OptimiseConfig,
  OptimiseOptions,
  TrafficConfig,
  TrafficOptions,
} from './optimise/optimise-options.js';
export {
  type Bottleneck,
  type BottleneckCost,
  type BottleneckKind,
  type CacheBottleneck,
  type CpuBottleneck,
  type CpuFunction,
  type CpuProfileReport,
  EFFORT_WEIGHTS,
  type FingerprintBreakdown,
  type Impact,
  type IndexAdvice,
  type IndexBottleneck,
  type NPlusOneBottleneck,
  type OptimiseCapture,
  type OptimiseEffort,
  type OptimiseReport,
  type OptimiseSource,
  type PoolAdvice,
  type PoolBottleneck,
  type RouteBreakdown,
  type SourceAnswer,
  type SourceQuestion,
  type TimeSplit,
} from './optimise/optimise-report.js';
export type { BottleneckSummary, OptimiseStatus } from './optimise/optimise-status.js';
export {
  type OptimiseEvents,
  type OptimiseRunOptions,
  Optimiser,
  type OptimiserHost,
} from './optimise/optimiser.js';
export { type KeptUrl, keepUrl } from './optimise/traffic-privacy.js';
export {
  type TrafficProfile,
  TrafficRecorder,
  type TrafficRoute,
} from './optimise/traffic-recorder.js';
export type { Thresholds } from './option-readers.js';
export type { KeelConfig, KeelOptions } from './options.js';
export { checkAdapterOptionKeys } from './options.js';
export {
  createOtelMetricProducer,
  type KeelMetricProducer,
  type OtelMetricData,
  type OtelProducerSource,
  otelNameOf,
} from './otel/metric-producer.js';
export {
  KeelSpanProcessor,
  type KeelSpanProcessorOptions,
  type MeterLike,
  type OtelMetricsSource,
  type OtelSpanSink,
  type ReadableSpanLike,
  registerOtelMetrics,
} from './otel/otel.js';
export { registerOtelTracing, type SpanLike, type TraceApiLike } from './otel/otel-tracing.js';
export { LoadShedder, type SheddingSnapshot } from './pressure/load-shedder.js';
export type { SheddingConfig, SheddingOptions } from './pressure/shedding-options.js';
export { bucketLabel, prometheusName } from './prometheus/exposition.js';
export { KEEL_METRICS } from './prometheus/metric-names.js';
export type { RuntimeOptions } from './runtime/runtime-options.js';
export type { RuntimeSnapshot } from './runtime/runtime-sampler.js';
export {
  type AttachOptions,
  type CleanupResult,
  GracefulShutdown,
  type GracefulShutdownOptions,
  handleSignals,
  resolveShutdownOptions,
  type ShutdownHost,
  type ShutdownReport,
  type SignalHandlingOptions,
} from './shutdown/graceful-shutdown.js';
export { DB_SIGNAL, HTTP_SIGNAL, TTI_SIGNAL } from './signals/built-in-signals.js';
export type { HttpOptions } from './signals/http-signal.js';
export { ABORTED_STATUS, CUT_OFF_STATUS, UNMATCHED_ROUTE } from './signals/http-signal.js';
export { type LabelValue, OVERFLOW_LABEL } from './signals/labels.js';
export type { Signal, SignalDefinition } from './signals/signal.js';
export type { SignalLimitsOptions, SignalOptions } from './signals/signal-options.js';
export type { WindowOptions } from './signals/window-options.js';
export { checkBeacon, type VitalsBeacon } from './vitals/beacon-schema.js';
export {
  VitalsCollector,
  type VitalsRejection,
  type VitalsSink,
  type VitalsStats,
} from './vitals/collector.js';
export {
  VITAL_METRICS,
  type VitalMetric,
  type VitalName,
  type VitalsConfig,
  type VitalsOptions,
  type VitalsPerClientOptions,
} from './vitals/vitals-options.js';
