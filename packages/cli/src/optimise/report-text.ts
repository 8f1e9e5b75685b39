import type { Bottleneck, OptimiseReport, RouteBreakdown } from '@keel/core';

/** A table: columns padded to their widest cell, numbers right-aligned. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  right: ReadonlySet<number>,
): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (right.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export const ms = (n: number | null | undefined) =>
  n === null || n === undefined ? '—' : n >= 100 ? n.toFixed(0) : n.toFixed(1);
export const pct = (share: number | null | undefined) =>
  share === null || share === undefined ? '—' : `${Math.round(share * 100)} %`;
const num = (n: number) => Math.round(n).toLocaleString('en-US');

function routeRow(r: RouteBreakdown): string[] {
  const over = r.targetMs !== null && r.p95 > r.targetMs;
  return [
    `${r.method} ${r.route}`,
    num(r.perMinute),
    ms(r.p95),
    r.targetMs === null ? '—' : `${ms(r.targetMs)}${over ? ' over' : ''}`,
    ms(r.split?.dbMs),
    ms(r.split?.acquireMs),
    ms(r.split?.cacheMs),
    ms(r.split?.restMs),
    r.queriesPerRequest === null ? '—' : ms(r.queriesPerRequest),
  ];
}

function bottleneckLines(b: Bottleneck): string[] {
  const gain = b.expectedGain ? `, expected gain ${b.expectedGain.userSecondsPerMinute} user-s/min` : '';
  const lines = [
    `${String(b.rank).padStart(2)}. ${b.kind} (effort: ${b.effort})  ${b.route ?? 'all routes'}  ${b.impact.userSecondsPerMinute} user-s/min, ${pct(b.impact.overshootShare)} of the overshoot, ${pct(b.impact.trafficShare)} of traffic${gain}`,
    `    ${b.title}`,
    `    fix: ${b.fix}`,
  ];
  if (b.expectedGain) lines.push(`    (${b.expectedGain.basis})`);
  return lines;
}

/** An optimisation report as `keel optimise` prints it. */
export function reportText(report: OptimiseReport): string {
  const seconds = Math.round(report.windowMs / 100) / 10;
  const lines = [
    `${report.id} for ${report.service}: ${report.reason}`,
    `captured ${seconds} s, ${num(report.requests)} requests; CPU profile: ${
      report.cpu
        ? `${Math.round(report.cpu.durationMs / 100) / 10} s, ${report.cpu.samples} samples, cost ${Math.round(report.cpu.costMs)} ms of event-loop time`
        : (report.cpuSkipped ?? 'none')
    }`,
    '',
    'where the time goes (per request, ms)',
    ...table(
      ['route', 'req/min', 'p95', 'budget', 'db', 'pool wait', 'cache', 'rest', 'queries'],
      report.routes.slice(0, 15).map(routeRow),
      new Set([1, 2, 3, 4, 5, 6, 7, 8]),
    ).map((l) => `  ${l}`),
    '',
  ];
  if (report.bottlenecks.length === 0) lines.push('no bottleneck found');
  else {
    lines.push('bottlenecks, most worth fixing first (impact ÷ effort: index 1, cache 2, pool 3, code 4)');
    for (const b of report.bottlenecks) lines.push(...bottleneckLines(b));
  }
  if (report.cpu && report.cpu.top.length > 0) {
    lines.push('', 'CPU, most self time first');
    for (const f of report.cpu.top.slice(0, 5))
      lines.push(
        `  ${pct(f.selfShare).padStart(5)}  ${f.function} (${f.file || 'native'}${f.line > 0 ? `:${f.line}` : ''})`,
      );
  }
  if (report.notes.length > 0) lines.push('', 'notes', ...report.notes.map((n) => `  - ${n}`));
  return lines.join('\n');
}

/** Routes over their latency budget in a report: what `keel optimise` fails on. */
export function routesOverBudget(report: OptimiseReport): string[] {
  return report.routes
    .filter((r) => r.targetMs !== null && r.p95 > r.targetMs)
    .map(
      (r) => `${r.method} ${r.route}: p95 ${ms(r.p95)} ms over its ${ms(r.targetMs)} ms budget (${r.budget})`,
    );
}
