import type { AuditFinding, AuditResult, AuditStatus } from './finding.js';
import { formatBytes, formatMs } from './finding.js';

const COLOURS: Readonly<Record<AuditStatus, string>> = { fail: '31', warn: '33', pass: '32' };
const ORDER: Readonly<Record<AuditStatus, number>> = { fail: 0, warn: 1, pass: 2 };

function cut(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function gainText(f: AuditFinding): string {
  if (!f.gain) return '';
  const parts = [];
  if (f.gain.bytes !== null && f.gain.bytes > 0) parts.push(formatBytes(f.gain.bytes));
  if (f.gain.ms !== null && f.gain.ms > 0) parts.push(formatMs(f.gain.ms));
  return parts.join(', ');
}

/**
 * The audit for a person: per part, one row per finding (failures first),
 * then each distinct fix once with the targets it applies to, then the
 * verdict. Colour only when `colour` (stdout is a terminal and NO_COLOR unset).
 */
export function formatAudit(result: AuditResult, colour: boolean): string {
  const paint = (status: AuditStatus, text: string) =>
    colour ? `\u001b[${COLOURS[status]}m${text}\u001b[0m` : text;
  const dim = (text: string) => (colour ? `\u001b[2m${text}\u001b[0m` : text);
  const out: string[] = [`keel audit ${result.url}`];
  const pages = result.pages
    .map(
      (p) =>
        `${p.path}: TTI ${p.tti === null ? '?' : formatMs(p.tti)}, LCP ${p.lcp === null ? '?' : formatMs(p.lcp)}, ${p.totalBytes === null ? '?' : formatBytes(p.totalBytes)}`,
    )
    .join('; ');
  if (pages) out.push(`pages (lab, Lighthouse ${result.lighthouse}, mobile): ${pages}`);
  out.push(
    `budgets: TTI ≤ ${formatMs(result.budgets.tti)}, LCP ≤ ${formatMs(result.budgets.lcp)}, queries ≤ ${formatMs(result.budgets.dbLatency)}`,
  );

  for (const category of ['frontend', 'api', 'database'] as const) {
    const part = result.parts[category];
    const rows = result.findings
      .filter((f) => f.category === category)
      .sort((a, b) => ORDER[a.status] - ORDER[b.status]);
    out.push('', category.toUpperCase());
    if (part.skipped) out.push(`  ${part.ran ? 'partly skipped' : 'skipped'}: ${part.skipped}`);
    if (category === 'api') {
      const skippedRoutes = result.routes.filter((r) => r.skipped);
      if (skippedRoutes.length)
        out.push(`  not requested: ${skippedRoutes.map((r) => `${r.path} (${r.skipped})`).join(', ')}`);
    }
    if (rows.length === 0) continue;
    // Failures and warnings one per row, with what was measured; passes one row per check.
    const cells: { status: AuditStatus; c: string[] }[] = rows
      .filter((f) => f.status !== 'pass')
      .map((f) => ({ status: f.status, c: [f.check, cut(f.target, 52), cut(f.measured, 70), gainText(f)] }));
    const passed = new Map<string, string[]>();
    for (const f of rows)
      if (f.status === 'pass') passed.set(f.check, [...(passed.get(f.check) ?? []), f.target]);
    for (const [check, targets] of passed) {
      const only = targets.length === 1 ? rows.find((f) => f.check === check && f.status === 'pass')! : null;
      cells.push({
        status: 'pass',
        c: [
          check,
          targets.length > 3
            ? `${targets.slice(0, 2).join(', ')} +${targets.length - 2}`
            : cut(targets.join(', '), 34),
          only ? cut(only.measured, 70) : '',
          '',
        ],
      });
    }
    const widths = [0, 1, 2].map((i) => Math.max(...cells.map((row) => row.c[i]!.length)));
    for (const { status, c } of cells) {
      const line = `  ${paint(status, status.padEnd(4))}  ${c[0]!.padEnd(widths[0]!)}  ${c[1]!.padEnd(widths[1]!)}  ${c[2]!.padEnd(widths[2]!)}${c[3] ? `  gain ${c[3]}` : ''}`;
      out.push(status === 'pass' ? dim(line.trimEnd()) : line.trimEnd());
    }
  }

  const toFix = new Map<string, { status: AuditStatus; check: string; targets: string[] }>();
  for (const f of result.findings) {
    if (f.status === 'pass' || !f.fix) continue;
    const key = `${f.check}\u0000${f.fix}`;
    const entry = toFix.get(key) ?? { status: f.status, check: f.check, targets: [] };
    if (ORDER[f.status] < ORDER[entry.status]) entry.status = f.status;
    entry.targets.push(f.target);
    toFix.set(key, entry);
  }
  if (toFix.size > 0) {
    out.push('', 'HOW TO FIX');
    const sorted = [...toFix.entries()].sort((a, b) => ORDER[a[1].status] - ORDER[b[1].status]);
    for (const [key, entry] of sorted) {
      const fix = key.split('\u0000')[1]!;
      const where =
        entry.targets.length > 3
          ? `${entry.targets.slice(0, 3).join(', ')} +${entry.targets.length - 3}`
          : entry.targets.join(', ');
      out.push(
        `  ${paint(entry.status, entry.status.padEnd(4))}  ${entry.check} (${where})`,
        `        ${fix}`,
      );
    }
  }
  const { pass, warn, fail } = result.summary;
  out.push(
    '',
    `${paint('fail', `${fail} failed`)}, ${paint('warn', `${warn} warning${warn === 1 ? '' : 's'}`)}, ${paint('pass', `${pass} passed`)}`,
  );
  return out.join('\n');
}
