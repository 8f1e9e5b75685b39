import type { CircuitStats } from '../breaker/circuit-breaker.js';
import type { BudgetChangeEvent, BudgetSnapshot } from '../budgets/budget.js';
import type { KeelOutcome } from '../context/keel-outcome.js';
import type { SheddingSnapshot } from '../pressure/load-shedder.js';
import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';
import type { DependencyStatus } from './checks.js';
import type { ComponentScore, HealthStatus } from './score.js';

export interface GroupStats {
  readonly group: string;
  readonly samples: number;
  /** Share of bad events, 0..1. */
  readonly errorRatio: number;
  /** Total time consumed in the window, in the signal's unit: what ranks hotspots. */
  readonly total: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
}

export interface SignalStats {
  readonly name: string;
  readonly unit: string;
  readonly samples: number;
  readonly errorRatio: number;
  readonly p50: number | null;
  readonly p95: number | null;
  readonly p99: number | null;
  readonly series: number;
  /** Samples sent to the overflow series (series cap reached or invalid label). */
  readonly overflowed: number;
  /** The groups (routes, fingerprints, page groups) that consumed the most time. */
  readonly top: readonly GroupStats[];
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, in words; empty when ready. */
  readonly reasons: readonly string[];
}

export interface HealthReport {
  readonly service: string;
  readonly status: HealthStatus;
  readonly score: number;
  readonly healthy: boolean;
  /** Healthy without a break for the stability window. */
  readonly stable: boolean;
  /** Since when the score has been >= 8 (epoch ms), or `null`. */
  readonly stableSince: number | null;
  readonly readiness: Readiness;
  readonly budgets: readonly BudgetSnapshot[];
  readonly components: readonly ComponentScore[];
  readonly dependencies: readonly DependencyStatus[];
  /** Every circuit breaker made with `keel.breaker`, as of the report (live in `keel.health()`). */
  readonly breakers: readonly CircuitStats[];
  readonly runtime: RuntimeSnapshot | null;
  readonly signals: readonly SignalStats[];
  /** Load shedding as of the evaluation; `shed` counts requests turned away since start. */
  readonly shedding: SheddingSnapshot;
  readonly evaluatedAt: number;
  readonly startedAt: number;
  /** Sections added with `keel.addHealthSection`, rendered once, when this is first read. */
  readonly sections?: Readonly<Record<string, unknown>> | undefined;
}

/** What a report or a readiness answer may show. */
export interface ReportOptions {
  /**
   * Show dependency error messages (`connect ECONNREFUSED 10.0.0.5:5432`);
   * without, a failing dependency is named but reads `failing`. The
   * endpoints show them only to authorised callers (`endpoints.details`).
   * @default true
   */
  details?: boolean;
}

export interface HealthChangeEvent {
  readonly from: HealthStatus;
  readonly to: HealthStatus;
  readonly score: number;
  readonly at: number;
}

/** Keel answered a request itself (shed, an open circuit, not ready, cut off): the `answer` event. */
export interface SelfAnswerEvent {
  readonly outcome: KeelOutcome;
  readonly method: string;
  readonly route: string;
  readonly status: number;
}

export interface KeelEvents {
  /** A budget changed state (after hysteresis). */
  budget: BudgetChangeEvent;
  /** The health status (healthy / degraded / unhealthy) changed. */
  health: HealthChangeEvent;
  /** Every evaluation, once per interval. */
  evaluation: HealthReport;
  /**
   * Keel answered a request itself, reported by `recordRequest` with an
   * outcome, synchronously, so a listener still sees the request's context
   * (its active span).
   */
  answer: SelfAnswerEvent;
  /** `beginShutdown` was called: a planned shutdown began (emitted once). */
  shutdown: { readonly at: number };
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** Keys of the `/health` JSON; `healthJson` must write exactly these (checked by its `satisfies`). */
const HEALTH_KEYS = [
  'service',
  'status',
  'score',
  'healthy',
  'stable',
  'stableSince',
  'ready',
  'readinessReasons',
  'budgets',
  'components',
  'dependencies',
  'breakers',
  'runtime',
  'signals',
  'shedding',
  'evaluatedAt',
  'uptimeSeconds',
] as const;

/** Keys of the `/health` JSON a section added with `keel.addHealthSection` may not take. */
export const RESERVED_HEALTH_KEYS: ReadonlySet<string> = new Set(HEALTH_KEYS);

/** The `/health` body: the report with timestamps as ISO strings. */
export function healthJson(report: HealthReport) {
  const body = {
    service: report.service,
    status: report.status,
    score: report.score,
    healthy: report.healthy,
    stable: report.stable,
    stableSince: iso(report.stableSince),
    ready: report.readiness.ready,
    readinessReasons: report.readiness.reasons,
    budgets: report.budgets.map((b) => ({
      name: b.name,
      description: b.description,
      state: b.state,
      since: iso(b.since),
      value: b.value === null ? null : round(b.value),
      target: b.target,
      unit: b.unit,
      samples: b.samples,
      lastSampleAt: iso(b.lastSampleAt),
      // How long a budget without data in its window has been silent.
      silentForSeconds:
        b.errorBudgetUsed === null && b.lastSampleAt !== null
          ? Math.round((report.evaluatedAt - b.lastSampleAt) / 1000)
          : null,
      errorBudgetUsed: b.errorBudgetUsed === null ? null : round(b.errorBudgetUsed),
      burnRates: b.burnRates.map((r) => ({
        windows: `${r.shortWindow}/${r.longWindow}`,
        short: r.short === null ? null : round(r.short),
        long: r.long === null ? null : round(r.long),
        factor: r.factor,
        alerting: r.alerting,
      })),
    })),
    components: report.components,
    dependencies: report.dependencies.map((d) => ({ ...d, checkedAt: iso(d.checkedAt) })),
    breakers: report.breakers.map((b) => ({
      name: b.name,
      state: b.state,
      since: iso(b.since),
      forced: b.forced,
      reason: b.reason,
      failureRatio: b.failureRatio === null ? null : round(b.failureRatio),
      slowCallRatio: b.slowCallRatio === null ? null : round(b.slowCallRatio),
      calls: b.calls,
      rejected: b.rejected,
      opened: b.opened,
    })),
    runtime: report.runtime && { ...report.runtime, sampledAt: iso(report.runtime.sampledAt) },
    signals: report.signals,
    shedding: report.shedding,
    evaluatedAt: iso(report.evaluatedAt),
    uptimeSeconds: Math.round((report.evaluatedAt - report.startedAt) / 1000),
  } satisfies Record<(typeof HEALTH_KEYS)[number], unknown>;
  return { ...body, ...report.sections };
}

/** To 0.001: what reports and `/health` show of a measured value. */
export function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** The JSON `/health` answers with. */
export type HealthJson = ReturnType<typeof healthJson>;
