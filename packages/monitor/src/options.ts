import { checkKnownKeys, invalidOptionOf, type KeelError } from '@keel/core';
import type { GracefulRestartOptions } from './mitigations/graceful-restart.js';
import type { Mitigation } from './mitigations/mitigation.js';
import type { OpenCircuitOptions } from './mitigations/open-circuit.js';
import type { ServeStaleOptions } from './mitigations/serve-stale.js';
import type { DeliveryConfig } from './notify/dispatcher.js';
import type { Notifier } from './notify/notifier.js';

export interface BuiltInMitigations {
  /** @default true */
  serveStale?: boolean | ServeStaleOptions;
  /** @default true */
  openCircuit?: boolean | OpenCircuitOptions;
  /** @default true */
  shedLoad?: boolean;
  /** Opt-in: a fleet-wide cause would drain every instance. @default false */
  readinessOff?: boolean;
  /** Opt-in, irreversible. @default false */
  gracefulRestart?: boolean | GracefulRestartOptions;
}

export interface MonitorOptions {
  /** A cycle runs this often even without a breach, ms; `false` for breach-triggered only. @default 14400000 (4 h) */
  schedule?: number | false;
  /** How long after applying a mitigation its effect is measured, ms. @default 600000 (10 min) */
  validateAfter?: number;
  /** How long the score must hold >= `healthyScore` for a cycle to end "stable", ms. @default the Keel's `health.stabilityWindow` (30 min) */
  stabilityWindow?: number;
  /** A score below this triggers a cycle and an incident. @default 8 */
  healthyScore?: number;
  /**
   * A mitigation is kept when good requests per second (served within the latency budget, not a
   * server error, not refused by Keel) rose by at least this share of the requests per second
   * offered. @default 0.05
   */
  minGoodGain?: number;
  /**
   * A mitigation that refuses more than this share of requests (shed, circuit open, not ready) is
   * kept only as a stated last resort, when no other mitigation is left to try. @default 0.5
   */
  maxRefusedShare?: number;
  /**
   * Without HTTP traffic to judge by, a mitigation is kept when it raised the score by at least
   * this (or brought it back to healthy); also how far the score may fall when one is released. @default 0.25
   */
  minImprovement?: number;
  /** After a mitigation was applied it is not applied again for this long, ms (each mitigation may override). @default 1800000 (30 min) */
  cooldown?: number;
  /** Actions (applies) allowed per rolling hour. @default 6 */
  maxActionsPerHour?: number;
  /** Only recommend: analyse and record the mitigation it would apply, never apply it. @default false */
  dryRun?: boolean;
  /** Once stable, roll kept mitigations back one at a time, re-applying one the score still needs. @default true */
  releaseWhenStable?: boolean;
  /** What happens when every mitigation was tried and the breach persists. */
  escalation?: EscalationOptions;
  /** The built-in mitigations. */
  builtIns?: BuiltInMitigations;
  /** Your own mitigations (and `resizePool(...)`, `recyclePool(...)`), tried by `priority`. */
  mitigations?: Mitigation[];
  /** Where incident news goes: `webhookNotifier`, `slackNotifier`, `functionNotifier`. @default none */
  notifiers?: Notifier[];
  /**
   * Retries and bounds of notification delivery: each message is retried
   * with backoff until delivered or `expireAfter` old (or `maxAttempts`
   * spent, when set); with a `dir` undelivered messages survive restarts.
   */
  delivery?: Partial<DeliveryConfig>;
  /** An incident resolves once its budgets have stayed recovered this long, ms. @default `stabilityWindow` */
  recoveryWindow?: number;
  /** Directory for the durable record (`monitor.jsonl`) and post-mortems (`postmortems/<id>.md`). @default none: kept in memory */
  dir?: string;
  /** Journal size before rotation, bytes. @default 10485760 (10 MiB) */
  maxFileBytes?: number;
  /** Rotated journals kept. @default 3 */
  maxFiles?: number;
  /** How records that cannot be written at once (a full disk, a read-only directory) are kept and retried. */
  journal?: JournalOptions;
  /** Steps and resolved incidents kept in memory (and reloaded). @default 200 steps, 20 incidents */
  keepSteps?: number;
  keepIncidents?: number;
  /** Adds `monitor` and `incidents` to `/health`. @default true */
  healthSections?: boolean;
}

export interface EscalationOptions {
  /**
   * After a cycle tried every mitigation (or hit the hourly cap) and the breach persists, the
   * monitor looks again this often, trying mitigations whose cooldown has passed, until the
   * budgets recover or a person acknowledges the incident, ms. @default `validateAfter`
   */
  recheckAfter?: number;
  /**
   * The registered mitigation (e.g. `'readiness-off'`, with `builtIns.readinessOff: true`) applied
   * once per incident when no mitigation helped; it is not tried before that. `false`: none.
   * @default false
   */
  lastResort?: string | false;
}

export interface JournalOptions {
  /** Records kept waiting for the disk, at most; past it the oldest steps are dropped (and counted). @default 1000 */
  maxPending?: number;
  /** Wait before retrying a failed write, ms; doubled each time. @default 1000 */
  retryDelay?: number;
  /** Longest wait between retries, ms. @default 60000 */
  maxRetryDelay?: number;
}

export interface MonitorConfig {
  readonly schedule: number | false;
  readonly validateAfter: number;
  readonly stabilityWindow: number;
  readonly healthyScore: number;
  readonly minImprovement: number;
  readonly minGoodGain: number;
  readonly maxRefusedShare: number;
  readonly cooldown: number;
  readonly maxActionsPerHour: number;
  readonly dryRun: boolean;
  readonly releaseWhenStable: boolean;
  readonly escalation: Readonly<{ recheckAfter: number; lastResort: string | false }>;
  readonly builtIns: Readonly<BuiltInMitigations>;
  readonly mitigations: readonly Mitigation[];
  readonly notifiers: readonly Notifier[];
  readonly delivery: DeliveryConfig;
  readonly recoveryWindow: number;
  readonly dir: string | undefined;
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  readonly journal: Readonly<Required<JournalOptions>>;
  readonly keepSteps: number;
  readonly keepIncidents: number;
  readonly healthSections: boolean;
}

const KNOWN = new Set([
  'schedule',
  'validateAfter',
  'stabilityWindow',
  'healthyScore',
  'minImprovement',
  'minGoodGain',
  'maxRefusedShare',
  'cooldown',
  'maxActionsPerHour',
  'dryRun',
  'releaseWhenStable',
  'escalation',
  'builtIns',
  'mitigations',
  'notifiers',
  'delivery',
  'recoveryWindow',
  'dir',
  'maxFileBytes',
  'maxFiles',
  'journal',
  'keepSteps',
  'keepIncidents',
  'healthSections',
]);
const BUILT_INS = new Set(['serveStale', 'openCircuit', 'shedLoad', 'readinessOff', 'gracefulRestart']);
const DELIVERY = new Set(['maxQueue', 'maxAttempts', 'backoff', 'maxBackoff', 'timeout', 'expireAfter']);
const JOURNAL = new Set(['maxPending', 'retryDelay', 'maxRetryDelay']);
const ESCALATION = new Set(['recheckAfter', 'lastResort']);
// Node clamps longer timer delays to 1 ms: a typo'd schedule would fire constantly.
const MAX_TIMER_MS = 2 ** 31 - 1;

function invalid(path: string, rule: string, got: unknown): KeelError {
  return invalidOptionOf('createMonitor', path, rule, got);
}

function duration(path: string, value: unknown, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!(Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= MAX_TIMER_MS))
    throw invalid(path, `must be an integer number of ms from ${min} to ${MAX_TIMER_MS}`, value);
  return value as number;
}

/** Validates and applies the defaults; the only place defaults live. */
export function resolveMonitorOptions(
  options: MonitorOptions | undefined,
  keelStability: number,
): MonitorConfig {
  const o = options ?? {};
  if (typeof o !== 'object' || Array.isArray(o)) throw invalid('', 'must be an object', o);
  checkKnownKeys(o, KNOWN, invalid);
  const schedule = o.schedule === false ? false : duration('schedule', o.schedule, 4 * 3_600_000, 1000);
  const stabilityWindow = duration('stabilityWindow', o.stabilityWindow, keelStability, 0);
  const healthyScore = o.healthyScore ?? 8;
  if (!(typeof healthyScore === 'number' && healthyScore > 0 && healthyScore <= 10))
    throw invalid('healthyScore', 'must be a number in (0, 10]', healthyScore);
  const minImprovement = o.minImprovement ?? 0.25;
  if (!(typeof minImprovement === 'number' && minImprovement >= 0 && minImprovement <= 10))
    throw invalid('minImprovement', 'must be a number from 0 to 10', minImprovement);
  const share = (path: string, v: unknown, fallback: number) => {
    if (v === undefined) return fallback;
    if (!(typeof v === 'number' && v >= 0 && v <= 1)) throw invalid(path, 'must be a number from 0 to 1', v);
    return v;
  };
  const minGoodGain = share('minGoodGain', o.minGoodGain, 0.05);
  const maxRefusedShare = share('maxRefusedShare', o.maxRefusedShare, 0.5);
  const maxActionsPerHour = o.maxActionsPerHour ?? 6;
  if (!(Number.isSafeInteger(maxActionsPerHour) && maxActionsPerHour >= 1))
    throw invalid('maxActionsPerHour', 'must be an integer >= 1', maxActionsPerHour);
  for (const key of ['mitigations', 'notifiers'] as const) {
    if (o[key] !== undefined && !Array.isArray(o[key])) throw invalid(key, 'must be an array', o[key]);
  }
  for (const [i, n] of (o.notifiers ?? []).entries()) {
    if (typeof n?.send !== 'function' || typeof n.name !== 'string')
      throw invalid(`notifiers[${i}]`, 'must have a `name` and a `send` function (see webhookNotifier)', n);
  }
  if (o.dir !== undefined && (typeof o.dir !== 'string' || o.dir.length === 0))
    throw invalid('dir', 'must be a directory path', o.dir);
  const d = o.delivery ?? {};
  for (const [path, value, known] of [
    ['builtIns', o.builtIns, BUILT_INS],
    ['delivery', d, DELIVERY],
    ['journal', o.journal, JOURNAL],
    ['escalation', o.escalation, ESCALATION],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      throw invalid(path, 'must be an object', value);
    checkKnownKeys(value, known, (key, rule, got) => invalid(`${path}.${key}`, rule, got));
  }
  const positiveInt = (path: string, v: unknown, fallback: number) => {
    if (v === undefined) return fallback;
    if (!(Number.isSafeInteger(v) && (v as number) >= 1)) throw invalid(path, 'must be an integer >= 1', v);
    return v as number;
  };
  const delivery: DeliveryConfig = Object.freeze({
    maxQueue: positiveInt('delivery.maxQueue', d.maxQueue, 100),
    maxAttempts:
      d.maxAttempts === Number.POSITIVE_INFINITY
        ? d.maxAttempts
        : positiveInt('delivery.maxAttempts', d.maxAttempts, Number.POSITIVE_INFINITY),
    backoff: duration('delivery.backoff', d.backoff, 1000),
    maxBackoff: duration('delivery.maxBackoff', d.maxBackoff, 60_000),
    timeout: duration('delivery.timeout', d.timeout, 5000),
    expireAfter: duration('delivery.expireAfter', d.expireAfter, 86_400_000),
  });
  const validateAfter = duration('validateAfter', o.validateAfter, 600_000);
  const e = o.escalation ?? {};
  const lastResort = e.lastResort ?? false;
  if (lastResort !== false && !(typeof lastResort === 'string' && lastResort.length > 0))
    throw invalid(
      'escalation.lastResort',
      'must be the name of a registered mitigation, or false',
      lastResort,
    );
  const escalation = Object.freeze({
    recheckAfter: duration('escalation.recheckAfter', e.recheckAfter, validateAfter),
    lastResort,
  });
  const j = o.journal ?? {};
  const journal = Object.freeze({
    maxPending: positiveInt('journal.maxPending', j.maxPending, 1000),
    retryDelay: duration('journal.retryDelay', j.retryDelay, 1000),
    maxRetryDelay: duration('journal.maxRetryDelay', j.maxRetryDelay, 60_000),
  });
  return Object.freeze({
    schedule,
    validateAfter,
    stabilityWindow,
    healthyScore,
    minImprovement,
    minGoodGain,
    maxRefusedShare,
    cooldown: duration('cooldown', o.cooldown, 1_800_000, 0),
    maxActionsPerHour,
    dryRun: o.dryRun === true,
    releaseWhenStable: o.releaseWhenStable !== false,
    escalation,
    builtIns: Object.freeze({ ...o.builtIns }),
    mitigations: Object.freeze([...(o.mitigations ?? [])]),
    notifiers: Object.freeze([...(o.notifiers ?? [])]),
    delivery,
    recoveryWindow: duration('recoveryWindow', o.recoveryWindow, stabilityWindow, 0),
    dir: o.dir,
    maxFileBytes: positiveInt('maxFileBytes', o.maxFileBytes, 10 * 1024 * 1024),
    maxFiles: positiveInt('maxFiles', o.maxFiles, 3),
    journal,
    keepSteps: positiveInt('keepSteps', o.keepSteps, 200),
    keepIncidents: positiveInt('keepIncidents', o.keepIncidents, 20),
    healthSections: o.healthSections !== false,
  });
}
