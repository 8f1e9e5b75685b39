export {
  affectedShare,
  assessSeverity,
  type BudgetImpact,
  type Incident,
  type IncidentAction,
  type Severity,
  type TimelineEntry,
  type TimelineKind,
} from './incidents/incident.js';
export { IncidentManager } from './incidents/incident-manager.js';
export { renderPostMortem } from './incidents/post-mortem.js';
export type { Analysis, Measurement, Trend } from './measure.js';
export {
  type GracefulRestartOptions,
  gracefulRestart,
  type OpenCircuitOptions,
  openCircuit,
  type PoolLike,
  type RecyclePoolOptions,
  type ResizePoolOptions,
  readinessOff,
  recyclePool,
  resizePool,
  type ServeStaleOptions,
  serveStale,
  shedLoad,
} from './mitigations/built-ins.js';
export type { Mitigation, MitigationContext } from './mitigations/mitigation.js';
export {
  type CycleOutcome,
  type CyclePhase,
  type CycleState,
  createMonitor,
  Monitor,
  type MonitorEvents,
  type MonitorStep,
  type StepKind,
} from './monitor.js';
export type { DeliveryConfig, NotifierStats } from './notify/dispatcher.js';
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
export type { BuiltInMitigations, MonitorConfig, MonitorOptions } from './options.js';
