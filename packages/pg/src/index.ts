export {
  type AdvisedPool,
  type AdviseOptions,
  type AdvisorReport,
  type AdvisorTarget,
  type AdvisorThresholds,
  advise,
  type Finding,
  type FindingKind,
  type Severity,
  type StatementStats,
} from './advisor/advisor.js';
export { exitCode, type FailOn, formatReport } from './advisor/report.js';
export {
  type CircuitChangedEvent,
  type ClientHeldEvent,
  type DirtyReleaseEvent,
  describeEvent,
  type PgEvent,
  type PoolRecycle,
  type PoolRecycledEvent,
  type PoolResize,
  type PoolResizedEvent,
  type SlowQueryEvent,
  type SlowQueryRecord,
} from './events.js';
export { explainGeneric, type PlanNode, type PlanSummary, type RunSql } from './explain.js';
export { type Fingerprint, fingerprint } from './fingerprint.js';
export {
  createMaintenance,
  type MaintenanceOptions,
  type MaintenancePass,
  type MaintenanceRun,
  type MaintenanceRunner,
} from './maintenance.js';
export type {
  HealthCheckOptions,
  KeelPoolOptions,
  PoolBreakerOptions,
  SlowQueryOptions,
} from './options.js';
export { createPool, type FingerprintStats, KeelPool } from './pool.js';
