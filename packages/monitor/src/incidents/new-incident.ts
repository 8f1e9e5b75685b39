import type { HealthReport } from '@keel/core';
import { type Measurement, round } from '../measure.js';
import { assessSeverity, type Incident, type TimelineKind } from './incident.js';

const entry = (incident: Incident, kind: TimelineKind, at: number, detail: string) =>
  incident.timeline.push({ kind, at, detail });

/** A new open incident from the evaluation that breached: detected and assessed, with its "before". */
export function newIncident(
  service: string,
  report: HealthReport,
  m: Measurement,
  before: Measurement,
  notifying: boolean,
): Incident {
  const now = report.evaluatedAt;
  const breached = report.budgets.filter((b) => b.state === 'breached');
  const triggers = breached.length ? breached.map((b) => b.name) : ['score'];
  const title = breached.length
    ? `${triggers.join(', ')} breached`
    : `health score dropped to ${report.score}`;
  const { severity, reason } = assessSeverity(report);
  const stamp = new Date(now)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  const incident: Incident = {
    id: `${service}-${stamp}-${Math.random().toString(16).slice(2, 6)}`,
    service: service,
    title,
    status: 'open',
    severity,
    severityReason: reason,
    triggers,
    openedAt: now,
    resolvedAt: null,
    timeline: [],
    actions: [],
    before,
    during: m,
    after: null,
    impact: {},
    refused: {},
    postMortem: null,
    postMortemPath: null,
    postMortemError: null,
  };
  const details = breached.map((b) =>
    b.value === null ? `${b.name} no data` : `${b.name} ${round(b.value)} ${b.unit} vs ${b.target} ${b.unit}`,
  );
  entry(
    incident,
    'detected',
    now,
    `${title}${details.length ? ` (${details.join('; ')})` : ''}, score ${report.score}`,
  );
  entry(incident, 'assessed', now, `${severity}: ${reason}`);
  if (!notifying) entry(incident, 'communicated', now, 'no notifier configured: visible in /health only');
  return incident;
}
