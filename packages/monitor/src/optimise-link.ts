import type { Keel, OptimiseReport } from '@keel/core';
import type { Incident } from './incidents/incident.js';
import type { IncidentManager } from './incidents/incident-manager.js';

/** A timeline note is at most this long. */
const MAX_NOTE = 2000;

/**
 * Joins the optimisation loop and incidents: a latency incident that opens
 * asks the optimiser for a capture (cooldown permitting), and a report that
 * found bottlenecks goes into the open incident's timeline as a note naming
 * the one most worth fixing and its fix. Returns the unsubscribers; nothing
 * when the Keel has no optimiser.
 */
export function linkOptimiser(
  keel: Keel,
  incidents: IncidentManager,
  onIncident: (listener: (e: { incident: Incident; change: string }) => void) => () => void,
): (() => void)[] {
  const optimiser = keel.optimiser;
  if (!optimiser) return [];
  const http = keel.http.definition.name;
  const latency = new Set(
    keel.config.budgets.filter((b) => b.kind === 'latency' && b.signal === http).map((b) => b.name),
  );
  return [
    optimiser.on('report', (report) => {
      if (report.bottlenecks.length > 0) incidents.note(describeReport(report));
    }),
    onIncident(({ incident, change }) => {
      if (change === 'opened' && incident.triggers.some((t) => latency.has(t)))
        optimiser.trigger(`incident ${incident.id} opened: ${incident.title}`);
    }),
  ];
}

/** One line for the timeline: what the capture found first, and how to fix it. */
export function describeReport(report: OptimiseReport): string {
  const [first, ...rest] = report.bottlenecks;
  const found = first
    ? `#1 ${first.title}; fix: ${first.fix} (${first.impact.userSecondsPerMinute} user-s/min)${rest.length > 0 ? `; ${rest.length} more in ${report.id}` : ''}`
    : 'no bottleneck found';
  return `optimise ${report.id} (${report.reason}): ${found}`.slice(0, MAX_NOTE);
}
