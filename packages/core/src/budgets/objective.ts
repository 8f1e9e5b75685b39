import type { ResolvedBudget } from './budget-options.js';

/**
 * Share of good events a budget demands: 0.95 for p95 <= target, 0.999 for
 * 99.9 % availability or a 0.1 % error rate. Burn rates divide the bad share
 * by `1 - objective`, in process and in the rules generated from the config.
 */
export function budgetObjective(budget: Pick<ResolvedBudget, 'kind' | 'target' | 'percentile'>): number {
  if (budget.kind === 'latency') return budget.percentile / 100;
  if (budget.kind === 'error_rate') return 1 - budget.target / 100;
  return budget.target / 100;
}
