import { type BudgetSnapshot, type HealthReport, HTTP_SIGNAL } from '@keel/core';

/** Where users are hurt: the routes in breach, or the whole app. */
export interface BreachScope {
  /** Route templates in breach; `null` when the breach is the whole app's (or cannot be pinned to routes). */
  readonly routes: readonly string[] | null;
  /** Why, in words (`/slow p95 812 ms over 200 ms`). */
  readonly why: string;
}

const round = (v: number) => Math.round(v * 10) / 10;

/**
 * Pins the HTTP budgets in breach to routes: a budget scoped to a route is
 * that route; an app-wide one is the hottest routes (`/health`'s
 * `signals[].top`) that are themselves over its target. When one breached
 * budget has no route over target, the breach is the whole app's.
 */
export function breachScope(report: HealthReport, httpSignal = HTTP_SIGNAL): BreachScope {
  const breached = report.budgets.filter((b) => b.state === 'breached' && b.signal === httpSignal);
  if (breached.length === 0) return { routes: null, why: 'no HTTP budget is breached' };
  const top = report.signals.find((s) => s.name === httpSignal)?.top ?? [];
  const routes = new Set<string>();
  const why: string[] = [];
  for (const b of breached) {
    if (b.group !== undefined) {
      routes.add(b.group);
      why.push(`${b.group} ${b.name}`);
      continue;
    }
    const over = top.filter((g) => overTarget(b, g));
    if (over.length === 0)
      return { routes: null, why: `${b.name} is breached with no single route over its target` };
    for (const g of over) {
      routes.add(g.group);
      why.push(`${g.group} ${describe(b, g)}`);
    }
  }
  return { routes: [...routes], why: why.join('; ') };
}

type Group = HealthReport['signals'][number]['top'][number];

function overTarget(b: BudgetSnapshot, g: Group): boolean {
  if (g.samples === 0) return false;
  if (b.kind === 'latency') return g.p95 !== null && g.p95 > b.target;
  // error_rate's target is the allowed share of errors (%); availability's the share of successes (%).
  const allowed = b.kind === 'error_rate' ? b.target / 100 : 1 - b.target / 100;
  return g.errorRatio > allowed;
}

function describe(b: BudgetSnapshot, g: Group): string {
  if (b.kind === 'latency') return `p95 ${round(g.p95 ?? 0)} ms over ${b.target} ms`;
  return `${round(g.errorRatio * 100)} % errors (${b.name})`;
}
