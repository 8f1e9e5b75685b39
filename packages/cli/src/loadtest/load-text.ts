import { ms, table } from '../optimise/report-text.js';
import { type Comparison, percent } from './compare.js';
import type { BudgetResult, LoadReport } from './load-report.js';

const RIGHT = new Set([1, 2, 3, 4, 5, 6]);

function budgetLine(b: BudgetResult): string {
  const value = b.value === null ? 'no data' : `${b.value} ${b.unit}`;
  return `  ${b.state.padEnd(9)} ${b.name}: ${b.description}: ${value} (${b.samples} samples)`;
}

/** One run, as `keel loadtest` prints it. */
export function loadText(report: LoadReport): string {
  const rows = [...report.routes, report.overall].map((r) => [
    r.route,
    String(r.requests),
    r.perSecond.toFixed(1),
    percent(r.errorRate),
    ms(r.p50),
    ms(r.p95),
    ms(r.p99),
  ]);
  const lines = [
    `${report.url}, ${Math.round(report.durationMs / 100) / 10} s, ${report.connections} connections${report.rate ? `, ${report.rate} req/s` : ''}, traffic from ${report.profile}`,
    '',
    ...table(['route', 'requests', 'req/s', 'errors', 'p50 ms', 'p95 ms', 'p99 ms'], rows, RIGHT).map(
      (l) => `  ${l}`,
    ),
  ];
  if (report.transportErrors > 0)
    lines.push(`  ${report.transportErrors} request(s) got no answer (connection errors, timeouts)`);
  lines.push('', 'budgets (judged by @keel/core over the run)', ...report.budgets.map(budgetLine));
  if (report.skipped.length > 0)
    lines.push('', 'not replayed', ...report.skipped.map((s) => `  ${s.route}: ${s.reason}`));
  return lines.join('\n');
}

/** Before and after side by side, as `keel loadtest --compare` prints it. */
export function compareText(before: LoadReport, after: LoadReport, comparison: Comparison): string {
  const rows = comparison.routes.map((c) => [
    c.route,
    c.before ? ms(c.before.p95) : '—',
    c.after ? ms(c.after.p95) : '—',
    c.p95Change === null ? '—' : `${c.p95Change > 0 ? '+' : ''}${Math.round(c.p95Change * 100)} %`,
    c.before ? percent(c.before.errorRate) : '—',
    c.after ? percent(c.after.errorRate) : '—',
    c.verdict,
  ]);
  const lines = [
    `before: ${before.startedAt}, ${before.overall.requests} requests; after: ${after.startedAt}, ${after.overall.requests} requests`,
    '',
    ...table(
      ['route', 'p95 before', 'p95 after', 'change', 'errors before', 'errors after', 'verdict'],
      rows,
      new Set([1, 2, 3, 4, 5]),
    ).map((l) => `  ${l}`),
    '',
    'budgets, before → after',
    ...comparison.budgets.map((b) => {
      const side = (r: BudgetResult | null) =>
        r ? `${r.state}${r.value === null ? '' : ` (${r.value} ${r.unit})`}` : '—';
      const width = Math.max(...comparison.budgets.map((x) => x.name.length));
      return `  ${b.name.padEnd(width)}  ${side(b.before)} → ${side(b.after)}, target ${b.after?.target ?? b.before?.target} ${b.after?.unit ?? b.before?.unit ?? ''}`.trimEnd();
    }),
    '',
    `noise: a route is worse when its p95 rose more than ${Math.round(comparison.noise * 100)} % and the 95 % intervals of the two p95s do not overlap, or its error rate's 95 % intervals do not`,
  ];
  return lines.join('\n');
}
