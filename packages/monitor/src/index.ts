export type { BreachScope } from './breach-scope.js';
export type { CycleOutcome, CyclePhase, CycleState, MonitorStep, StepKind } from './cycle/cycle-state.js';
export {
  affectedShare,
  assessSeverity,
  type BudgetImpact,
  type Incident,
  type IncidentAction,
  type Severity,
  type TimelineEntry,
  type TimelineKind,
  type TriedMitigation,
} from './incidents/incident.js';
export { IncidentManager } from './incidents/incident-manager.js';
export { renderPostMortem } from './incidents/post-mortem.js';
export type { Analysis, Measurement, Trend } from './measure.js';
export { type GracefulRestartOptions, gracefulRestart } from './mitigations/graceful-restart.js';
export type { Mitigation, MitigationContext } from './mitigations/mitigation.js';
export { type OpenCircuitOptions, openCircuit } from './mitigations/open-circuit.js';
export {
  type PoolLike,
  type RecyclePoolOptions,
  type ResizePoolOptions,
  recyclePool,
  resizePool,
} from './mitigations/pool.js';
export { readinessOff } from './mitigations/readiness-off.js';
export { type ServeStaleOptions, serveStale } from './mitigations/serve-stale.js';
export { shedLoad } from './mitigations/shed-load.js';
export { createMonitor, Monitor, type MonitorEvents } from './monitor.js';
export type { DeliveryConfig, GiveUpReason, NotifierStats } from './notify/dispatcher.js';
export {
  functionNotifier,
  type IncidentNotification,
  type MemoryNotifier,
  memoryNotifier,
  type NotificationType,
  type Notifier,
  type SlackNotifierOptions,
  signWebhook,
  slackNotifier,
  type WebhookNotifierOptions,
  webhookNotifier,
} from './notify/notifier.js';
export type {
  BuiltInMitigations,
  EscalationOptions,
  JournalOptions,
  MonitorConfig,
  MonitorOptions,
} from './options.js';
export type { JournalStats } from './store/journal.js';
export type { TrafficCounts, TrafficRates } from './traffic/traffic-meter.js';
