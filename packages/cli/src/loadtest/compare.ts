import { UsageError } from '../cli/usage-error.js';
import { type BudgetResult, type LoadReport, p95Bounds, type RouteLoad } from './load-report.js';

export type Verdict = 'worse' | 'better' | 'same' | 'new' | 'gone';

export interface RouteChange {
  readonly route: string;
  readonly before: RouteLoad | null;
  readonly after: RouteLoad | null;
  /** after.p95 ÷ before.p95 − 1 (−0.97: 97 % faster), or `null` when one side is missing. */
  readonly p95Change: number | null;
  readonly verdict: Verdict;
  /** Why it is worse (or better), in words, with the numbers. */
  readonly why: readonly string[];
}

export interface BudgetChange {
  readonly name: string;
  readonly before: BudgetResult | null;
  readonly after: BudgetResult | null;
}

export interface Comparison {
  /** A change smaller than this share is noise, whatever the intervals say (`--noise`). */
  readonly noise: number;
  readonly routes: readonly RouteChange[];
  readonly budgets: readonly BudgetChange[];
  /** What got worse beyond noise, one line each: exit 1. */
  readonly worse: readonly string[];
}

/** A `--compare` file: `keel loadtest --json` output (the envelope or its `result`). */
export function readLoadReport(json: unknown, source: string): LoadReport {
  const envelope = json as { schema?: string; result?: unknown } | null;
  const report = (
    envelope?.schema === 'keel-cli/1' ? envelope.result : envelope
  ) as Partial<LoadReport> | null;
  if (report?.schema !== 'keel-loadtest/1' || !Array.isArray(report.routes) || !report.overall)
    throw new UsageError(`${source}: not a keel loadtest result (keel loadtest <url> --json > before.json)`);
  return report as LoadReport;
}

const overlapsOrBelow = (a: readonly [number, number], b: readonly [number, number]) => a[0] <= b[1];

/**
 * Before and after, per route and for all routes. A route got worse beyond
 * noise when its p95 rose by more than `noise` (a share: 0.1 is 10 %) **and**
 * the 95 % confidence intervals of the two p95s do not overlap (the after
 * interval lies wholly above); its error rate, when the 95 % Wilson intervals
 * do not overlap. Better is the same test the other way. Either test alone
 * is not enough: with many samples a 2 % shift is "significant" yet no one
 * would act on it; with few, a 30 % shift can be chance.
 */
export function compareRuns(before: LoadReport, after: LoadReport, noise: number): Comparison {
  const keys = [...new Set([...before.routes, ...after.routes].map((r) => r.route)), 'all'];
  const find = (report: LoadReport, route: string) =>
    route === 'all' ? report.overall : (report.routes.find((r) => r.route === route) ?? null);
  const worse: string[] = [];
  const routes = keys.map((route): RouteChange => {
    const b = find(before, route);
    const a = find(after, route);
    if (!b || b.requests === 0)
      return { route, before: b, after: a, p95Change: null, verdict: 'new', why: [] };
    if (!a || a.requests === 0)
      return { route, before: b, after: a, p95Change: null, verdict: 'gone', why: [] };
    const change = b.p95 > 0 ? a.p95 / b.p95 - 1 : a.p95 > 0 ? Number.POSITIVE_INFINITY : 0;
    const why: string[] = [];
    let verdict: Verdict = 'same';
    const [aP95, bP95] = [p95Bounds(a), p95Bounds(b)];
    if (change > noise && !overlapsOrBelow(aP95, bP95)) {
      verdict = 'worse';
      why.push(
        `p95 ${b.p95} → ${a.p95} ms (+${Math.round(change * 100)} %, beyond ${Math.round(noise * 100)} % and the 95 % intervals)`,
      );
    }
    if (!overlapsOrBelow(a.errorRateInterval, b.errorRateInterval)) {
      verdict = 'worse';
      why.push(`error rate ${percent(b.errorRate)} → ${percent(a.errorRate)} (95 % intervals apart)`);
    }
    if (verdict === 'same' && change < -noise && !overlapsOrBelow(bP95, aP95)) {
      verdict = 'better';
      why.push(`p95 ${b.p95} → ${a.p95} ms (${Math.round(change * 100)} %)`);
    }
    if (verdict === 'worse') worse.push(`${route}: ${why.join('; ')}`);
    return {
      route,
      before: b,
      after: a,
      p95Change: Number.isFinite(change) ? Math.round(change * 1000) / 1000 : null,
      verdict,
      why,
    };
  });
  const names = [...new Set([...before.budgets, ...after.budgets].map((b) => b.name))];
  const budgets = names.map((name) => ({
    name,
    before: before.budgets.find((b) => b.name === name) ?? null,
    after: after.budgets.find((b) => b.name === name) ?? null,
  }));
  return { noise, routes, budgets, worse };
}

export function percent(share: number): string {
  return `${Math.round(share * 10000) / 100} %`;
}
