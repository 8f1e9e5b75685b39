export type {
  ClientHeldEvent,
  DirtyReleaseEvent,
  PgEvent,
  SlowQueryEvent,
  SlowQueryRecord,
} from './events.js';
export { explainGeneric, type PlanNode, type PlanSummary } from './explain.js';
export { type Fingerprint, fingerprint } from './fingerprint.js';
export {
  describeEvent,
  type HealthCheckOptions,
  type KeelPoolOptions,
  type SlowQueryOptions,
} from './options.js';
export { createPool, type FingerprintStats, KeelPool } from './pool.js';
