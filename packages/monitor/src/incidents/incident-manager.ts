import type { HealthReport } from '@keel/core';
import { type Measurement, measure } from '../measure.js';
import type { IncidentNotification } from '../notify/notifier.js';
import type { Outbox } from '../notify/outbox.js';
import { accountImpact, accountRefused } from './impact.js';
import {
  assessSeverity,
  type Incident,
  type IncidentAction,
  moreSevere,
  raised,
  type TimelineKind,
  type TriedMitigation,
} from './incident.js';
import { incidentMessage } from './incident-message.js';
import { newIncident } from './new-incident.js';
import { formatDuration, renderPostMortem } from './post-mortem.js';
import type { PostMortemWriter } from './post-mortem-writer.js';

export interface IncidentManagerDeps {
  readonly service: string;
  readonly httpSignal: string;
  readonly healthyScore: number;
  readonly recoveryWindow: number;
  /** Evaluations in a budget window: how far back "before" looks. */
  readonly windowIntervals: number;
  /** Resolved incidents kept in memory besides the open one. */
  readonly keepResolved: number;
  /** Writes post-mortem files; `null` without a `dir`. */
  readonly postMortems: PostMortemWriter | null;
  /** Where notifications go (recorded, then delivered). */
  readonly outbox: Outbox;
  /** Notifiers configured: with none, an incident is "communicated" through /health only. */
  readonly notifiers: number;
  now(): number;
  /** Records the incident's current state; resolves once it is on disk (or could not be, for now). */
  persist(incident: Incident): Promise<unknown>;
  emit(incident: Incident, change: string): void;
  report(where: string, error: unknown): void;
}

/**
 * Opens, escalates and resolves incidents from the evaluations: one open at a
 * time (a second breach joins it), severity only ever raised while open,
 * resolved once its triggers have stayed recovered for `recoveryWindow`.
 */
export class IncidentManager {
  readonly #deps: IncidentManagerDeps;
  readonly #incidents: Incident[] = [];
  #open: Incident | null = null;
  // The healthy streak before an incident, about one budget window long: its oldest is the "before".
  readonly #healthy: Measurement[] = [];
  #recoveredSince: number | null = null;
  /** Changes recorded but not yet acknowledged (event, notification): they wait for the journal. */
  readonly #pending = new Set<Promise<unknown>>();

  constructor(deps: IncidentManagerDeps) {
    this.#deps = deps;
  }

  get open(): Incident | null {
    return this.#open;
  }

  /** Open first, then the most recently resolved. */
  list(): readonly Incident[] {
    return [...this.#incidents].sort((a, b) =>
      a.status === b.status ? b.openedAt - a.openedAt : a.status === 'open' ? -1 : 1,
    );
  }

  get(id: string): Incident | undefined {
    return this.#incidents.find((i) => i.id === id);
  }

  /** Takes back incidents a previous run recorded; an open one carries on. */
  restore(incidents: readonly Incident[], at: number): void {
    for (const incident of incidents) {
      this.#incidents.push(incident);
      if (incident.status === 'open') {
        this.#open = incident;
        this.#entry(incident, 'note', at, 'monitor restarted: incident reloaded from the journal');
        this.#track(this.#deps.persist(incident));
      }
    }
    this.#trim();
  }

  /** Resolves when every change made so far was recorded and acknowledged (post-mortem files included). */
  async settled(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    await this.#deps.postMortems?.settled();
  }

  /**
   * Takes in an evaluation: opens, joins, escalates or resolves. `counts` are
   * the closed interval's events per budget, `refused` the requests Keel
   * answered itself since the previous evaluation, by outcome.
   */
  observe(
    report: HealthReport,
    counts: Record<string, { total: number; bad: number }> | null,
    refused: Readonly<Record<string, number>> | null = null,
  ): void {
    const now = report.evaluatedAt;
    const breached = report.budgets.filter((b) => b.state === 'breached');
    const unhealthy = report.score < this.#deps.healthyScore;
    const m = measure(report, this.#deps.httpSignal);
    const open = this.#open;
    if (!open) {
      if (breached.length === 0 && !unhealthy) {
        this.#healthy.push(m);
        if (this.#healthy.length > this.#deps.windowIntervals + 1) this.#healthy.shift();
        return;
      }
      this.#openIncident(report, m);
      return;
    }

    if (counts) accountImpact(open, report, counts);
    if (refused) accountRefused(open, refused);
    if (open.during === null || m.score < open.during.score) open.during = m;
    let changed = false;
    const joined = breached.filter((b) => !open.triggers.includes(b.name));
    if (joined.length) {
      open.triggers.push(...joined.map((b) => b.name));
      this.#entry(open, 'note', now, `${joined.map((b) => b.name).join(', ')} breached too`);
      changed = true;
    }
    const { severity, reason } = assessSeverity(report);
    let escalated = false;
    if (moreSevere(severity, open.severity)) {
      open.severity = severity;
      open.severityReason = reason;
      this.#entry(open, 'assessed', now, `escalated to ${severity}: ${reason}`);
      escalated = true;
    }

    const recovered =
      !unhealthy &&
      open.triggers.every((t) => report.budgets.find((b) => b.name === t)?.state !== 'breached');
    if (!recovered) {
      if (this.#recoveredSince !== null) {
        this.#entry(open, 'note', now, `relapsed: score ${report.score}`);
        changed = true;
      }
      this.#recoveredSince = null;
    } else if (this.#recoveredSince === null) {
      this.#recoveredSince = now;
      this.#entry(
        open,
        'note',
        now,
        `budgets recovered (score ${report.score}); resolving if they stay recovered for ${formatDuration(this.#deps.recoveryWindow)}`,
      );
      changed = true;
    } else if (now - this.#recoveredSince >= this.#deps.recoveryWindow) {
      this.#resolve(open, report, m);
      return;
    }
    if (escalated)
      this.#commit(open, 'escalated', incidentMessage(open, 'incident.escalated', report.score, now));
    else if (changed) this.#commit(open, 'updated');
  }

  /** Records (or updates) a mitigation step on the open incident. */
  action(action: IncidentAction): void {
    const open = this.#open;
    if (!open) return;
    const existing = open.actions.findIndex(
      (a) => a.mitigation === action.mitigation && a.appliedAt === action.appliedAt,
    );
    if (existing >= 0) open.actions[existing] = action;
    else open.actions.push(action);
    const at = action.validatedAt ?? action.appliedAt;
    const effect =
      action.after === null
        ? `score ${action.before.score}`
        : `score ${action.before.score} → ${action.after.score}`;
    this.#entry(
      open,
      'action',
      at,
      `${action.mitigation}: ${action.outcome} (${effect})${action.detail ? `; ${action.detail}` : ''}`,
    );
    if (action.lastResort) this.#entry(open, 'note', at, `${action.mitigation}: ${action.reason}`);
    if (action.outcome === 'kept' && !open.timeline.some((e) => e.kind === 'mitigated')) {
      const how = action.lastResort ? ' (as a last resort, refusing requests)' : '';
      this.#entry(open, 'mitigated', at, `${action.mitigation} helped${how}: ${action.reason ?? effect}`);
      this.#commit(
        open,
        'mitigated',
        incidentMessage(open, 'incident.mitigated', action.after?.score ?? null, at),
      );
      return;
    }
    this.#commit(open, 'action');
  }

  /**
   * A planned shutdown began: the open incident says so, and a mitigation
   * waiting for validation is closed as interrupted (its effect will not be
   * measured), not left pending.
   */
  standDown(reason: string): void {
    const open = this.#open;
    if (!open) return;
    const at = this.#deps.now();
    for (const [i, a] of open.actions.entries()) {
      if (a.outcome !== 'pending') continue;
      open.actions[i] = { ...a, outcome: 'interrupted', detail: `${reason} before it was validated` };
    }
    this.#entry(
      open,
      'note',
      at,
      `${reason}: the monitor stood down (no new incident, action or notification)`,
    );
    this.#commit(open, 'updated');
  }

  /**
   * Every mitigation was tried and none helped while the breach persists:
   * the severity goes up one step, and people are told what was tried and
   * what it measurably did. Once per incident.
   */
  unmitigated(tried: readonly TriedMitigation[], score: number): boolean {
    const open = this.#open;
    if (!open || open.unmitigated || open.acknowledged) return false;
    const at = this.#deps.now();
    open.unmitigated = { at, tried };
    const from = open.severity;
    open.severity = raised(from);
    const why = unmitigatedReason(tried);
    open.severityReason = `${why}; ${open.severityReason}`;
    this.#entry(open, 'assessed', at, `escalated ${from} → ${open.severity}: ${why}`);
    const message = incidentMessage(open, 'incident.escalated', score, at);
    this.#commit(open, 'escalated', {
      ...message,
      deliveryId: `${message.deliveryId}:unmitigated`,
      text: `[${open.severity}] ${open.service}: ${open.title} — ${why} (score ${score})`,
      tried,
    });
    return true;
  }

  /** A person takes the open incident over. Returns `false` when none is open. */
  acknowledge(by: string, note: string | null): boolean {
    const open = this.#open;
    if (!open) return false;
    const at = this.#deps.now();
    open.acknowledged = { by, at, note };
    this.#entry(
      open,
      'acknowledged',
      at,
      `by ${by}${note ? `: ${note}` : ''}; the monitor stops re-checking it`,
    );
    this.#commit(open, 'acknowledged');
    return true;
  }

  /** Adds a note to the open incident's timeline. */
  note(detail: string): void {
    const open = this.#open;
    if (!open) return;
    this.#entry(open, 'note', this.#deps.now(), detail);
    this.#commit(open, 'updated');
  }

  /** A notifier delivered a message: the first delivery per incident is "communicated". */
  delivered(message: IncidentNotification, notifier: string, at: number): void {
    const incident = this.get(message.incident.id);
    if (!incident || incident.timeline.some((e) => e.kind === 'communicated')) return;
    this.#entry(incident, 'communicated', at, `${message.type} delivered to ${notifier}`);
    this.#commit(incident, 'communicated');
  }

  /** A notification was given up on for a notifier: said in the incident's timeline, not silently lost. */
  undelivered(message: IncidentNotification, notifier: string, reason: string, at: number): void {
    const incident = this.get(message.incident.id);
    if (!incident) return;
    this.#entry(incident, 'note', at, `${message.type} could not be delivered to ${notifier}: ${reason}`);
    this.#commit(incident, 'updated');
  }

  /** A post-mortem whose first write failed is on disk now. */
  postMortemWritten(incident: Incident, path: string, at: number): void {
    incident.postMortemPath = path;
    incident.postMortemError = null;
    this.#entry(incident, 'post-mortem', at, `written to ${path}`);
    this.#commit(incident, 'post-mortem');
  }

  #openIncident(report: HealthReport, m: Measurement): void {
    const now = report.evaluatedAt;
    const incident = newIncident(
      this.#deps.service,
      report,
      m,
      this.#before() ?? m,
      this.#deps.notifiers > 0,
    );
    this.#open = incident;
    this.#recoveredSince = null;
    this.#incidents.push(incident);
    this.#trim();
    this.#commit(incident, 'opened', incidentMessage(incident, 'incident.opened', report.score, now));
  }

  /** The oldest of the healthy streak that already judged every budget the newest one judges. */
  #before(): Measurement | undefined {
    const newest = this.#healthy.at(-1);
    if (!newest) return undefined;
    const judged = Object.keys(newest.budgets).filter((k) => newest.budgets[k]!.state !== 'no_data');
    return this.#healthy.find((h) => judged.every((k) => h.budgets[k] && h.budgets[k].state !== 'no_data'));
  }

  #resolve(open: Incident, report: HealthReport, m: Measurement): void {
    const now = report.evaluatedAt;
    open.status = 'resolved';
    open.resolvedAt = now;
    open.after = m;
    this.#open = null;
    this.#recoveredSince = null;
    this.#healthy.length = 0;
    this.#entry(
      open,
      'resolved',
      now,
      `${open.triggers.join(', ')} recovered and stayed recovered for ${formatDuration(this.#deps.recoveryWindow)}; score ${report.score}`,
    );
    open.postMortem = renderPostMortem(open);
    const text = open.postMortem;
    const writer = this.#deps.postMortems;
    // The file first: the record and the `resolved` event then say where it is, or why it is not.
    const written = writer === null ? Promise.resolve(null) : writer.write(open, text);
    const done = written.then((error) => {
      if (writer === null) this.#entry(open, 'post-mortem', now, 'kept in the incident record');
      else if (error === null) {
        open.postMortemPath = writer.pathOf(open);
        this.#entry(open, 'post-mortem', now, `written to ${open.postMortemPath}`);
      } else {
        open.postMortemError = error;
        this.#entry(
          open,
          'post-mortem',
          now,
          `could not be written (${error}); kept in the incident record, retried`,
        );
      }
      this.#commit(open, 'resolved', incidentMessage(open, 'incident.resolved', report.score, now));
    });
    this.#track(done);
  }

  #entry(incident: Incident, kind: TimelineKind, at: number, detail: string): void {
    incident.timeline.push({ kind, at, detail });
  }

  /**
   * Records the incident's state and acknowledges the change (the event, the
   * notification) only once that record has settled: a listener or a receiver
   * never hears of a change a crash could still take back.
   */
  #commit(incident: Incident, change: string, message?: IncidentNotification): void {
    const recorded = this.#deps.persist(incident);
    const acknowledged = recorded.then(() => this.#deps.emit(incident, change));
    this.#track(
      message ? Promise.all([acknowledged, this.#deps.outbox.send(message, recorded)]) : acknowledged,
    );
  }

  #track(work: Promise<unknown>): void {
    const tracked = work
      .catch((error) => this.#deps.report('monitor-incident', error))
      .finally(() => this.#pending.delete(tracked));
    this.#pending.add(tracked);
  }

  #trim(): void {
    const resolved = this.#incidents.filter((i) => i.status === 'resolved');
    const extra = resolved.length - this.#deps.keepResolved;
    if (extra <= 0) return;
    const drop = new Set(resolved.sort((a, b) => a.openedAt - b.openedAt).slice(0, extra));
    for (let i = this.#incidents.length - 1; i >= 0; i--)
      if (drop.has(this.#incidents[i]!)) this.#incidents.splice(i, 1);
  }
}

/**
 * Why an incident is escalated with the breach still on. A mitigation kept
 * (it measurably served users better) did help, only not enough: saying "no
 * mitigation helped" then would be false.
 */
export function unmitigatedReason(tried: readonly TriedMitigation[]): string {
  const list = tried.map((t) => `${t.mitigation} ${t.outcome}`).join(', ') || 'nothing applicable';
  return tried.some((t) => t.outcome === 'kept')
    ? `the breach outlasts what helped (tried: ${list})`
    : `no mitigation helped (tried: ${list})`;
}
