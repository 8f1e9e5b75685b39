/**
 * Names of the gauges `/metrics` serves beside the signals' histograms, for
 * tools that query them (rules, dashboards, autoscalers): one spelling, here.
 */
export const KEEL_METRICS = Object.freeze({
  healthScore: 'keel_health_score',
  healthy: 'keel_healthy',
  stable: 'keel_stable',
  ready: 'keel_ready',
  componentScore: 'keel_health_component_score',
  /** Labels `budget`, `state`; 1 for the current state. */
  budgetState: 'keel_budget_state',
  /** Label `budget`. */
  errorBudgetUsed: 'keel_budget_error_budget_used_ratio',
  /** Labels `budget`, `window`. */
  burnRate: 'keel_budget_burn_rate',
  shedding: 'keel_shedding',
} as const);
