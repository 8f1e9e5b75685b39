import type { CycleState, MonitorStep } from '../cycle/cycle-state.js';
import type { Incident } from '../incidents/incident.js';
import type { NotifierStats } from '../notify/dispatcher.js';
import type { JournalStats } from '../store/journal.js';
import { isoTime } from '../time.js';

/** What the `monitor` section of `/health` is rendered from. */
export interface MonitorView {
  readonly dryRun: boolean;
  /** When a planned shutdown made the monitor stand down, or `null`. */
  readonly stoodDownAt: number | null;
  readonly score: number;
  readonly cycle: CycleState | null;
  readonly lastCycle: CycleState | null;
  readonly active: readonly string[];
  readonly actionsLastHour: number;
  readonly maxActionsPerHour: number;
  readonly nextScheduledAt: number | null;
  /** When the monitor looks again at a breach nothing fixed (escalation), or `null`. */
  readonly nextRecheckAt: number | null;
  /** Every mitigation: whether it can act now and, if not, why. */
  readonly mitigations: readonly {
    name: string;
    priority: number | null;
    available: boolean;
    reason: string | null;
  }[];
  readonly recentSteps: readonly MonitorStep[];
  readonly notifiers: NotifierStats[];
  /** `null` without a `dir`: nothing is written. */
  readonly journal: JournalStats | null;
  /** Post-mortems whose file could not be written yet (retried). */
  readonly postMortemsFailing: number;
}

function cycleJson(s: CycleState | null) {
  return (
    s && {
      id: s.id,
      trigger: s.trigger,
      phase: s.phase,
      startedAt: isoTime(s.startedAt),
      baselineScore: s.baseline.score,
      current: s.current && {
        mitigation: s.current.mitigation,
        appliedAt: isoTime(s.current.appliedAt),
        validateAt: isoTime(s.current.validateAt),
        scoreBefore: s.current.before.score,
      },
      tried: s.tried,
      stableSince: isoTime(s.stableSince),
      endedAt: isoTime(s.endedAt),
      outcome: s.outcome,
      recommendation: s.recommendation,
    }
  );
}

/** The `monitor` section of `/health`. */
export function monitorSection(v: MonitorView) {
  return {
    dryRun: v.dryRun,
    stoodDown: v.stoodDownAt !== null,
    stoodDownAt: isoTime(v.stoodDownAt),
    score: v.score,
    cycle: cycleJson(v.cycle),
    lastCycle: cycleJson(v.lastCycle),
    active: v.active,
    actionsLastHour: v.actionsLastHour,
    maxActionsPerHour: v.maxActionsPerHour,
    nextScheduledAt: isoTime(v.nextScheduledAt),
    nextRecheckAt: isoTime(v.nextRecheckAt),
    mitigations: v.mitigations,
    recentSteps: v.recentSteps.map((s) => ({
      at: isoTime(s.at),
      cycle: s.cycle,
      kind: s.kind,
      mitigation: s.mitigation,
      detail: s.detail,
      scoreBefore: s.before?.score ?? null,
      scoreAfter: s.after?.score ?? null,
    })),
    notifiers: v.notifiers,
    journal: v.journal && {
      ...v.journal,
      failingSince: isoTime(v.journal.failingSince),
      postMortemsFailing: v.postMortemsFailing,
    },
  };
}

function brief(i: Incident) {
  return {
    id: i.id,
    title: i.title,
    severity: i.severity,
    severityReason: i.severityReason,
    status: i.status,
    triggers: i.triggers,
    openedAt: isoTime(i.openedAt),
    resolvedAt: isoTime(i.resolvedAt),
    postMortemPath: i.postMortemPath,
    postMortemError: i.postMortemError ?? null,
  };
}

/** The `incidents` section of `/health`: open ones in full, recent resolved ones in brief. */
export function incidentsSection(all: readonly Incident[]) {
  return {
    open: all
      .filter((i) => i.status === 'open')
      .map((i) => ({
        ...brief(i),
        timeline: i.timeline.map((e) => ({ ...e, at: isoTime(e.at) })),
        actions: i.actions.map((a) => ({
          mitigation: a.mitigation,
          outcome: a.outcome,
          appliedAt: isoTime(a.appliedAt),
          scoreBefore: a.before.score,
          scoreAfter: a.after?.score ?? null,
          reason: a.reason ?? null,
          lastResort: a.lastResort === true,
          users:
            a.before.traffic || a.after?.traffic
              ? { before: a.before.traffic ?? null, after: a.after?.traffic ?? null }
              : null,
        })),
        impact: i.impact,
        refused: i.refused ?? {},
        unmitigated: i.unmitigated ? { at: isoTime(i.unmitigated.at), tried: i.unmitigated.tried } : null,
        acknowledged: i.acknowledged ? { ...i.acknowledged, at: isoTime(i.acknowledged.at) } : null,
      })),
    recent: all
      .filter((i) => i.status === 'resolved')
      .slice(0, 5)
      .map(brief),
  };
}
