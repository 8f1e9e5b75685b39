import type { IncidentManager } from '../incidents/incident-manager.js';
import type { CycleRunner } from './cycle-runner.js';

/**
 * What the previous run left on trial is never left "pending": an
 * irreversible mitigation still registered is validated (it acted beyond
 * that process); anything else is closed with the reason. Kept mitigations
 * acted on that process only: the incident says they ended with it.
 */
export function settleRestoredActions(incidents: IncidentManager, runner: CycleRunner): void {
  const open = incidents.open;
  if (!open) return;
  const now = runner.now();
  const registered = new Map(runner.registry.list().map((m) => [m.name, m]));
  let resumed = false;
  for (const a of open.actions) {
    if (a.outcome !== 'pending') continue;
    const m = registered.get(a.mitigation);
    if (m && !m.rollback && !resumed) {
      resumed = true;
      runner.resume(m, a.appliedAt, a.before, a.detail);
      continue;
    }
    const why = !m
      ? `${a.mitigation} is not registered in this run`
      : m.rollback
        ? `${a.mitigation} acted on the previous process only and ended with it`
        : 'another action is being validated';
    incidents.action({
      ...a,
      validatedAt: now,
      outcome: 'interrupted',
      after: null,
      detail: `the process restarted before it was validated: ${why}`,
    });
  }
  const kept = open.actions
    .filter((a) => a.outcome === 'kept' && registered.get(a.mitigation)?.rollback)
    .map((a) => a.mitigation);
  if (kept.length) incidents.note(`kept before the restart, ended with that process: ${kept.join(', ')}`);
}
