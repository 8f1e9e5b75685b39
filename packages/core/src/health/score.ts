import type { BudgetSnapshot } from '../budgets/budget.js';
import type { Thresholds } from '../option-readers.js';

export type HealthStatus = 'healthy' | 'degraded' | 'unhealthy';

export interface ComponentScore {
  /** e.g. `budget:api_latency`, `runtime:event_loop_delay`, `dependency:postgres`. */
  readonly name: string;
  /** 0..10, 10 = no concern. */
  readonly score: number;
  /** How many points of the overall score this component took away. */
  readonly cost: number;
  readonly detail: string;
}

export interface HealthScore {
  readonly score: number;
  readonly status: HealthStatus;
  readonly components: readonly ComponentScore[];
}

export const HEALTHY_SCORE = 8;
export const DEGRADED_SCORE = 5;
/** A component at or above this is "fine" and costs the others nothing. */
const FINE_SCORE = 9;
/** Each point a second component falls below "fine" costs this much more. */
const SECONDARY_WEIGHT = 0.25;

/**
 * Scores a budget from its state and how far it is over. Ranges do not
 * overlap, so a worse state always scores lower:
 *   ok 9..10 · at_risk 9 · breached 0..7.5 · no_data 10 (nothing to judge).
 * A breached latency budget loses 2.5 points per doubling of its percentile
 * over target (p95 of 400 ms against 200 ms scores 5); error-rate and
 * availability budgets per doubling of the error budget they used.
 */
export function budgetScore(
  budget: Pick<BudgetSnapshot, 'state' | 'errorBudgetUsed'> &
    Partial<Pick<BudgetSnapshot, 'kind' | 'value' | 'target'>>,
): number {
  const used = budget.errorBudgetUsed ?? 0;
  switch (budget.state) {
    case 'no_data':
      return 10;
    case 'ok':
      return 10 - clamp(used, 0, 1);
    case 'at_risk':
      return FINE_SCORE;
    case 'breached': {
      const { kind, value, target } = budget;
      const overshoot =
        kind === 'latency' && value != null && target !== undefined && target > 0 ? value / target : used;
      return clamp(7.5 - 2.5 * Math.log2(Math.max(overshoot, 1)), 0, 7.5);
    }
  }
}

/**
 * Piecewise-linear and non-increasing: 10 up to `ok`, 9 at `warn`, 7 at
 * `bad`, 0 at `critical` and beyond.
 */
export function thresholdScore(value: number, t: Thresholds): number {
  if (!(value > t.ok)) return 10;
  if (value <= t.warn) return 10 - lerp(value, t.ok, t.warn);
  if (value <= t.bad) return 9 - 2 * lerp(value, t.warn, t.bad);
  if (value < t.critical) return 7 - 7 * lerp(value, t.bad, t.critical);
  return 0;
}

/**
 * Overall score: the worst component, less a quarter point per point every
 * other component falls below 9. So all components fine gives >= 9, any
 * component below 8 (a breached budget) gives < 8, and lowering any component
 * never raises the result.
 */
export function combineScores(
  inputs: readonly { name: string; score: number; detail: string }[],
): HealthScore {
  if (inputs.length === 0) return { score: 10, status: 'healthy', components: [] };
  let worst = 0;
  for (let i = 1; i < inputs.length; i++) if (inputs[i]!.score < inputs[worst]!.score) worst = i;
  let score = inputs[worst]!.score;
  const components: ComponentScore[] = inputs.map((c, i) => {
    const cost = i === worst ? 10 - c.score : SECONDARY_WEIGHT * Math.max(0, FINE_SCORE - c.score);
    if (i !== worst) score -= cost;
    return Object.freeze({ name: c.name, score: round(c.score), cost: round(cost), detail: c.detail });
  });
  const final = round(clamp(score, 0, 10));
  return Object.freeze({ score: final, status: statusOf(final), components: Object.freeze(components) });
}

export function statusOf(score: number): HealthStatus {
  return score >= HEALTHY_SCORE ? 'healthy' : score >= DEGRADED_SCORE ? 'degraded' : 'unhealthy';
}

function lerp(value: number, from: number, to: number): number {
  return to > from ? (value - from) / (to - from) : 1;
}

function clamp(value: number, min: number, max: number): number {
  return Math.max(min, Math.min(value, max));
}

/** Rounds down to 0.01 so rounding can never lift a score across 8 or 9. */
function round(value: number): number {
  return Math.floor(value * 100 + 1e-9) / 100;
}
