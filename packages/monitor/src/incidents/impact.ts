import type { HealthReport } from '@keel/core';
import { round } from '../measure.js';
import type { BudgetImpact, Incident } from './incident.js';

/**
 * Adds one closed interval to the incident's impact: events and bad events
 * per triggering budget, and the share of the error budget they consumed.
 */
export function accountImpact(
  open: Incident,
  report: HealthReport,
  counts: Record<string, { total: number; bad: number }>,
): void {
  for (const name of open.triggers) {
    const c = counts[name];
    const b = report.budgets.find((x) => x.name === name);
    if (!c || !b) continue;
    const prev = open.impact[name] ?? {
      total: 0,
      bad: 0,
      peakErrorBudgetUsed: null,
      errorBudgetConsumed: null,
    };
    const total = prev.total + c.total;
    const bad = prev.bad + c.bad;
    const allowed = total * (1 - b.objective);
    const impact: BudgetImpact = {
      total,
      bad,
      peakErrorBudgetUsed:
        b.errorBudgetUsed === null
          ? prev.peakErrorBudgetUsed
          : Math.max(prev.peakErrorBudgetUsed ?? 0, round(b.errorBudgetUsed)),
      errorBudgetConsumed: allowed > 0 ? round(bad / allowed) : null,
    };
    open.impact[name] = impact;
  }
}

/** Adds the requests Keel refused (by outcome) since the previous evaluation. */
export function accountRefused(open: Incident, refused: Readonly<Record<string, number>>): void {
  open.refused ??= {};
  const total = open.refused;
  for (const [outcome, n] of Object.entries(refused)) if (n > 0) total[outcome] = (total[outcome] ?? 0) + n;
}
