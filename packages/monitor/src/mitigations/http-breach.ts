import type { HealthReport } from '@keel/core';
import type { MitigationContext } from './mitigation.js';

const HTTP_BUDGET_KINDS = new Set(['latency', 'error_rate', 'availability']);

/**
 * Any budget breached now: a promise to users broken. What a mitigation that
 * takes capacity away (draining, restarting) needs before it is offered (0026).
 */
export function budgetBreached(report: Pick<HealthReport, 'budgets'>): boolean {
  return report.budgets.some((b) => b.state === 'breached');
}

/** Budgets on the HTTP signal that are breached now: what users of this app feel. */
export function httpBreached(ctx: MitigationContext): boolean {
  const http = ctx.keel.http.definition.name;
  return ctx.report.budgets.some(
    (b) => b.state === 'breached' && b.signal === http && HTTP_BUDGET_KINDS.has(b.kind),
  );
}
