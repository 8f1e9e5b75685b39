import type { MitigationContext } from './mitigation.js';

const HTTP_BUDGET_KINDS = new Set(['latency', 'error_rate', 'availability']);

/** Budgets on the HTTP signal that are breached now: what users of this app feel. */
export function httpBreached(ctx: MitigationContext): boolean {
  const http = ctx.keel.http.definition.name;
  return ctx.report.budgets.some(
    (b) => b.state === 'breached' && b.signal === http && HTTP_BUDGET_KINDS.has(b.kind),
  );
}
