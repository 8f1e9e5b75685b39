import type { Measurement } from '../measure.js';
import type { Incident } from './incident.js';

const iso = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString());
const num = (v: number | null | undefined, digits = 2) =>
  v === null || v === undefined ? '—' : String(Math.round(v * 10 ** digits) / 10 ** digits);
const pct = (v: number | null | undefined) => (v === null || v === undefined ? '—' : `${num(v * 100, 1)} %`);

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  return [h ? `${h} h` : '', m ? `${m} min` : '', rest || (!h && !m) ? `${rest} s` : '']
    .filter(Boolean)
    .join(' ');
}

/** Escapes what would break a Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

function budgetValue(m: Measurement | null, name: string): string {
  const b = m?.budgets[name];
  if (!b) return '—';
  return `${b.value === null ? 'no data' : `${num(b.value)} ${b.unit}`} (${b.state})`;
}

/**
 * The blameless post-mortem, from the record alone: every number in it was
 * measured while the incident was open. Root cause and follow-ups are left
 * for the team.
 */
export function renderPostMortem(incident: Incident): string {
  const end = incident.resolvedAt ?? incident.openedAt;
  const duration = formatDuration(end - incident.openedAt);
  const impacts = Object.entries(incident.impact);
  const affected = impacts.reduce((max, [, i]) => Math.max(max, i.bad), 0);
  const requests = impacts.reduce((max, [, i]) => Math.max(max, i.total), 0);
  const kept = incident.actions.filter((a) => a.outcome === 'kept');
  const lines: string[] = [];

  lines.push(`# Post-mortem: ${incident.title}`, '');
  lines.push(`- **Incident:** ${incident.id}`);
  lines.push(`- **Service:** ${incident.service}`);
  lines.push(`- **Severity:** ${incident.severity} — ${incident.severityReason}`);
  lines.push(`- **Status:** ${incident.status}`);
  lines.push(`- **Opened:** ${iso(incident.openedAt)}`);
  lines.push(`- **Resolved:** ${iso(incident.resolvedAt)}`, '');

  lines.push('## Summary', '');
  lines.push(
    `${incident.triggers.join(', ')} breached the performance budget for ${duration}. ` +
      `The health score fell from ${num(incident.before?.score)} to ${num(incident.during?.score)} ` +
      `and was ${num(incident.after?.score)} at resolution. ` +
      (kept.length
        ? `Mitigated by ${kept.map((a) => `\`${a.mitigation}\`${a.lastResort ? ' (as a last resort)' : ''}`).join(', ')}.`
        : 'No mitigation measurably helped; the budgets recovered on their own.'),
    '',
  );

  lines.push('## Impact', '');
  lines.push(`- **Duration:** ${duration}`);
  lines.push(`- **Requests during the incident:** ${requests}`);
  lines.push(`- **Requests affected** (over a latency target or failed): ${affected}`);
  const refused = Object.entries(incident.refused ?? {}).filter(([, n]) => n > 0);
  const refusedTotal = refused.reduce((sum, [, n]) => sum + n, 0);
  lines.push(
    `- **Requests refused by Keel** (answered by Keel itself, not the app): ${refusedTotal}${
      refused.length ? ` (${refused.map(([outcome, n]) => `${outcome} ${n}`).join(', ')})` : ''
    }`,
  );
  if (incident.unmitigated)
    lines.push(
      `- **No mitigation helped:** escalated at ${iso(incident.unmitigated.at)} after trying ${
        incident.unmitigated.tried.map((t) => `\`${t.mitigation}\` (${t.outcome})`).join(', ') ||
        'nothing applicable'
      }`,
    );
  if (incident.acknowledged)
    lines.push(`- **Acknowledged** by ${incident.acknowledged.by} at ${iso(incident.acknowledged.at)}`);
  lines.push('', '| budget | events | bad | error budget consumed | peak share of window budget used |');
  lines.push('| --- | ---: | ---: | ---: | ---: |');
  for (const [name, i] of impacts) {
    lines.push(
      `| ${cell(name)} | ${i.total} | ${i.bad} | ${pct(i.errorBudgetConsumed)} | ${pct(i.peakErrorBudgetUsed)} |`,
    );
  }
  lines.push('');

  lines.push('## Timeline', '', '| time (UTC) | step | detail |', '| --- | --- | --- |');
  for (const e of incident.timeline) lines.push(`| ${iso(e.at)} | ${e.kind} | ${cell(e.detail)} |`);
  lines.push('');

  lines.push('## Metrics before / during / after', '');
  lines.push('| metric | before | during (worst) | after |', '| --- | ---: | ---: | ---: |');
  const { before, during, after } = incident;
  lines.push(`| health score | ${num(before?.score)} | ${num(during?.score)} | ${num(after?.score)} |`);
  lines.push(`| HTTP p95 (ms) | ${num(before?.p95)} | ${num(during?.p95)} | ${num(after?.p95)} |`);
  lines.push(
    `| HTTP error ratio | ${pct(before?.errorRatio)} | ${pct(during?.errorRatio)} | ${pct(after?.errorRatio)} |`,
  );
  lines.push(
    `| HTTP requests in window | ${before?.requests ?? '—'} | ${during?.requests ?? '—'} | ${after?.requests ?? '—'} |`,
  );
  const budgetNames = new Set([
    ...Object.keys(before?.budgets ?? {}),
    ...Object.keys(during?.budgets ?? {}),
    ...Object.keys(after?.budgets ?? {}),
  ]);
  for (const name of budgetNames) {
    // A budget without data throughout (no browser beacons, no database) says nothing here.
    if ([before, during, after].every((x) => !x?.budgets[name] || x.budgets[name].value === null)) continue;
    lines.push(
      `| ${cell(name)} | ${budgetValue(before, name)} | ${budgetValue(during, name)} | ${budgetValue(after, name)} |`,
    );
  }
  lines.push('');

  lines.push('## Actions and their measured effect', '');
  if (incident.actions.length === 0) lines.push('No action was taken.');
  else {
    lines.push(
      '| applied (UTC) | mitigation | outcome | good req/s before → after | refused before → after | score before → after | HTTP p95 before → after (ms) | why |',
    );
    lines.push('| --- | --- | --- | --- | --- | --- | --- | --- |');
    for (const a of incident.actions) {
      const b = a.before.traffic;
      const f = a.after?.traffic;
      lines.push(
        `| ${iso(a.appliedAt)} | ${cell(a.mitigation)} | ${a.outcome}${a.lastResort ? ' (last resort)' : ''} | ` +
          `${num(b?.goodPerSecond)} → ${num(f?.goodPerSecond)} | ${pct(b?.refusedShare)} → ${pct(f?.refusedShare)} | ` +
          `${num(a.before.score)} → ${num(a.after?.score)} | ${num(a.before.p95)} → ${num(a.after?.p95)} | ` +
          `${cell(a.reason ?? a.detail)} |`,
      );
    }
  }
  lines.push('');

  lines.push(
    '## Root cause',
    '',
    '_To be written by the team: what made the dependency or the code slow or fail?_',
    '',
  );
  lines.push(
    '## Follow-ups',
    '',
    '- [ ] _What keeps this from happening again (owner, due date)?_',
    '- [ ] _Should a mitigation that helped become permanent, or a budget change?_',
    '',
  );
  return lines.join('\n');
}
