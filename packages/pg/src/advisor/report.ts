import { invalidOptionOf } from '@keel/core';
import { type AdvisorReport, SEVERITY_RANK, type Severity } from './advisor-options.js';

export type FailOn = Severity | 'never';

/**
 * The exit code for a CI gate: 1 when a finding is at least as severe as
 * `failOn` (default `warning`), else 0. (The CLI uses 2 for "could not check".)
 */
export function exitCode(report: AdvisorReport, failOn: FailOn = 'warning'): 0 | 1 {
  if (failOn === 'never') return 0;
  // A typo ('warnings') would otherwise rank below everything and pass every CI run.
  if (!Object.hasOwn(SEVERITY_RANK, failOn))
    throw invalidOptionOf('exitCode', 'failOn', 'must be critical, warning, info or never', failOn);
  return report.findings.some((f) => SEVERITY_RANK[f.severity] <= SEVERITY_RANK[failOn]) ? 1 : 0;
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

function cut(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** The report for a person: a summary, the findings with their fixes, the top statements. */
export function formatReport(report: AdvisorReport): string {
  const out: string[] = [];
  const counts = { critical: 0, warning: 0, info: 0 };
  for (const f of report.findings) counts[f.severity]++;
  out.push(
    `keel-pg advise — ${report.database} (PostgreSQL ${report.serverVersion}), ${report.generatedAt}`,
    `connections: ${report.connections.used} of ${report.connections.max} in use (${Math.round(report.connections.ratio * 100)} %)`,
    `pg_stat_statements: ${report.pgStatStatements.enabled ? 'enabled' : 'not enabled'}   hypopg: ${report.hypopg.enabled ? 'enabled' : 'not enabled'}`,
    `findings: ${counts.critical} critical, ${counts.warning} warning, ${counts.info} info`,
    '',
  );
  if (report.findings.length > 0) {
    out.push(
      table(
        ['severity', 'kind', 'object', 'finding'],
        report.findings.map((f) => [f.severity, f.kind, f.object ?? '-', cut(f.message, 110)]),
      ),
      '',
    );
    // One index can be both unused and a duplicate: its DROP is listed once.
    const fixes = [...new Set(report.findings.map((f) => f.fix).filter((fix) => fix !== null))];
    if (fixes.length > 0) {
      out.push('suggested statements (review before running; none was run):');
      for (const fix of fixes) out.push(`  ${fix}`);
      out.push('');
    }
  } else {
    out.push('no findings', '');
  }
  if (report.statements.length > 0) {
    out.push(
      'top statements by total time (pg_stat_statements):',
      table(
        ['total ms', 'calls', 'mean ms', 'in this app', 'statement'],
        report.statements.map((s) => [
          s.totalMs.toFixed(1),
          String(s.calls),
          s.meanMs.toFixed(2),
          s.inProcess ? `${s.inProcess.calls} × ${s.inProcess.meanMs.toFixed(2)} ms` : '-',
          cut(s.fingerprint, 70),
        ]),
      ),
      '',
    );
  }
  for (const guidance of [report.pgStatStatements.guidance, report.hypopg.guidance]) {
    if (guidance && !report.findings.some((f) => f.message === guidance)) out.push(`note: ${guidance}`);
  }
  return `${out.join('\n').trimEnd()}\n`;
}
