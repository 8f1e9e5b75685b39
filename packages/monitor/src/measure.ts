import type { BudgetState, HealthReport, HealthStatus, Keel } from '@keel/core';
import { type BreachScope, breachScope } from './breach-scope.js';
import type { TrafficRates } from './traffic/traffic-meter.js';

/** What one evaluation said, reduced to what a before/after comparison needs. */
export interface Measurement {
  /** Epoch ms of the evaluation. */
  readonly at: number;
  readonly score: number;
  readonly status: HealthStatus;
  readonly budgets: Readonly<
    Record<
      string,
      {
        readonly state: BudgetState;
        readonly value: number | null;
        readonly target: number;
        readonly unit: string;
        readonly errorBudgetUsed: number | null;
      }
    >
  >;
  /** HTTP requests in the budget window, their p95 (ms) and share of errors. */
  readonly requests: number;
  readonly p95: number | null;
  readonly errorRatio: number;
  /**
   * What users felt over the period this measurement stands for (before or
   * after a mitigation): good and refused requests. `null` where no period
   * applies (a baseline); absent in records written before it existed.
   */
  readonly traffic?: TrafficRates | null;
}

export type Trend = 'improving' | 'worsening' | 'steady' | 'unknown';

/** The analyse step: what costs the score, and where it is heading. */
export interface Analysis {
  readonly at: number;
  readonly score: number;
  readonly healthy: boolean;
  /** Budgets breached now. */
  readonly breached: readonly string[];
  readonly atRisk: readonly string[];
  /** Components that cost the score points, most expensive first. */
  readonly costs: readonly { readonly name: string; readonly cost: number; readonly detail: string }[];
  /** Score over the last evaluations: the newest third against the oldest third. */
  readonly trend: Trend;
  /** The routes in breach (or the whole app): what a scoped mitigation acts on. */
  readonly scope: BreachScope;
  /** Routes / fingerprints that consumed the most time in the window. */
  readonly hotspots: readonly {
    readonly signal: string;
    readonly group: string;
    readonly p95: number | null;
  }[];
}

/** Three decimals: enough for ratios and ms, short in JSON and prose. */
export const round = (v: number) => Math.round(v * 1000) / 1000;

export function measure(
  report: HealthReport,
  httpSignal: string,
  traffic: TrafficRates | null = null,
): Measurement {
  const budgets: Record<string, Measurement['budgets'][string]> = {};
  for (const b of report.budgets) {
    budgets[b.name] = {
      state: b.state,
      value: b.value === null ? null : round(b.value),
      target: b.target,
      unit: b.unit,
      errorBudgetUsed: b.errorBudgetUsed === null ? null : round(b.errorBudgetUsed),
    };
  }
  const http = report.signals.find((s) => s.name === httpSignal);
  return {
    at: report.evaluatedAt,
    score: report.score,
    status: report.status,
    budgets,
    requests: http?.samples ?? 0,
    p95: http?.p95 ?? null,
    errorRatio: http?.errorRatio ?? 0,
    traffic,
  };
}

export function analyse(
  report: HealthReport,
  recentScores: readonly number[],
  healthyScore: number,
): Analysis {
  const costs = report.components
    .filter((c) => c.cost > 0)
    .sort((a, b) => b.cost - a.cost)
    .map((c) => ({ name: c.name, cost: c.cost, detail: c.detail }));
  const hotspots = report.signals.flatMap((s) =>
    s.top.slice(0, 3).map((g) => ({ signal: s.name, group: g.group, p95: g.p95 })),
  );
  return {
    at: report.evaluatedAt,
    score: report.score,
    healthy: report.score >= healthyScore,
    breached: report.budgets.filter((b) => b.state === 'breached').map((b) => b.name),
    atRisk: report.budgets.filter((b) => b.state === 'at_risk').map((b) => b.name),
    costs,
    trend: trendOf(recentScores),
    scope: breachScope(report),
    hotspots,
  };
}

function trendOf(scores: readonly number[]): Trend {
  if (scores.length < 3) return 'unknown';
  const third = Math.max(1, Math.floor(scores.length / 3));
  const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const delta = mean(scores.slice(-third)) - mean(scores.slice(0, third));
  // Half a point is about one budget moving between "ok" and "at risk": below that it is noise.
  if (delta >= 0.5) return 'improving';
  if (delta <= -0.5) return 'worsening';
  return 'steady';
}

/**
 * Requests and bad events per budget in the last closed interval, for an
 * incident's impact ("requests affected"). Counted from the same windows the
 * budgets are judged on, so the numbers agree with `/health`.
 */
export class IntervalCounter {
  readonly #keel: Keel;
  readonly #summaries = new Map<string, ReturnType<Keel['http']['newSummary']>>();

  constructor(keel: Keel) {
    this.#keel = keel;
  }

  /** `{ total, bad }` per budget over the newest closed interval. */
  count(report: HealthReport): Record<string, { total: number; bad: number }> {
    const out: Record<string, { total: number; bad: number }> = {};
    for (const b of report.budgets) {
      const signal = this.#keel.signals.find((s) => s.definition.name === b.signal);
      if (!signal) continue;
      let summary = this.#summaries.get(b.signal);
      if (!summary) {
        summary = signal.newSummary();
        this.#summaries.set(b.signal, summary);
      }
      signal.summarize(summary, 1, b.group);
      let bad = summary.bad;
      if (b.kind === 'latency') {
        const index = signal.definition.boundaries.indexOf(b.target);
        bad = index < 0 ? 0 : summary.count - summary.countAtOrBelow(index);
      }
      out[b.name] = { total: summary.count, bad };
    }
    return out;
  }
}
