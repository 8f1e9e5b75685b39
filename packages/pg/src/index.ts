export {
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
export type {
  ClientHeldEvent,
  DirtyReleaseEvent,
  PgEvent,
  SlowQueryEvent,
  SlowQueryRecord,
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
export {
  describeEvent,
  type HealthCheckOptions,
  type KeelPoolOptions,
  type SlowQueryOptions,
} from './options.js';
export { createPool, type FingerprintStats, KeelPool } from './pool.js';
