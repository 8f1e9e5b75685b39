export {
  CircuitBreaker,
  type CircuitBreakerConfig,
  type CircuitBreakerOptions,
  type CircuitState,
  type CircuitStats,
} from './breaker/circuit-breaker.js';
export type { BudgetSnapshot, BudgetState, BurnRate } from './budgets/budget.js';
export { type CacheDeps, type CacheLoader, type CacheStats, createCache, KeelCache } from './cache/cache.js';
export type { CacheConfig, CacheOptions } from './cache/cache-options.js';
export {
  type CachedResponse,
  type CacheOwner,
  etagMatches,
  ResponseCache,
  type ResponseCacheOptions,
} from './cache/response-cache.js';
export { type Clock, createFakeClock, type FakeClock, systemClock, type TimerHandle } from './clock.js';
export { KEEL_OUTCOMES, type KeelOutcome } from './context/keel-outcome.js';
export { outcomeAtClose, RequestContext, RequestContexts } from './context/request-context.js';
export {
  checkKnownKeys,
  type ErrorHandler,
  invalidOptionOf,
  isKeelError,
  KeelError,
  KeelErrorCode,
} from './errors.js';
export type { DependencyCheckOptions, DependencyStatus } from './health/checks.js';
export type {
  BudgetChangeEvent,
  GroupStats,
  HealthChangeEvent,
  HealthJson,
  HealthReport,
  KeelEvents,
  Readiness,
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
export { type EndpointHandler, PROMETHEUS_CONTENT_TYPE, pathOf } from './http/endpoints.js';
export {
  addServerTiming,
  appendServerTiming,
  type HeaderMethods,
  serverTiming,
  type WriteHead,
} from './http/server-timing.js';
export {
  ABORTED_STATUS,
  type AdminServer,
  type AssertBudgetsOptions,
  CUT_OFF_STATUS,
  createKeel,
  Keel,
  UNMATCHED_ROUTE,
} from './keel.js';
export {
  type BudgetKind,
  type BudgetOptions,
  type BudgetsOption,
  type BurnRateWindow,
  DB_SIGNAL,
  type DefaultBudgetName,
  type EndpointName,
  type EndpointOptions,
  HTTP_SIGNAL,
  type KeelConfig,
  type KeelOptions,
  type ResolvedBudget,
  type RuntimeOptions,
  type SignalOptions,
  type Thresholds,
  TTI_SIGNAL,
} from './options.js';
export {
  KeelSpanProcessor,
  type KeelSpanProcessorOptions,
  type MeterLike,
  type ReadableSpanLike,
  registerOtelMetrics,
} from './otel/otel.js';
export { LoadShedder, type SheddingConfig, type SheddingSnapshot } from './pressure/load-shedder.js';
export { prometheusName } from './prometheus/exposition.js';
export type { RuntimeSnapshot } from './runtime/runtime-sampler.js';
export {
  type AttachOptions,
  type CleanupResult,
  GracefulShutdown,
  type GracefulShutdownOptions,
  handleSignals,
  type ShutdownReport,
  type SignalHandlingOptions,
} from './shutdown/graceful-shutdown.js';
export { type LabelValue, OVERFLOW_LABEL } from './signals/labels.js';
export type { Signal, SignalDefinition } from './signals/signal.js';
export {
  checkBeacon,
  type VitalsBeacon,
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
} from './vitals/vitals-options.js';
