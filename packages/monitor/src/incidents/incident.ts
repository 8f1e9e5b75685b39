import type { BudgetSnapshot, HealthReport } from '@keel/core';
import type { Measurement } from '../measure.js';

export type Severity = 'SEV1' | 'SEV2' | 'SEV3' | 'SEV4';

/** The incident protocol's steps, plus `action` (a mitigation's record) and `note`. */
export type TimelineKind =
  | 'detected'
  | 'assessed'
  | 'communicated'
  | 'mitigated'
  | 'resolved'
  | 'post-mortem'
  | 'action'
  | 'acknowledged'
  | 'note';

export interface TimelineEntry {
  readonly kind: TimelineKind;
  /** Epoch ms, from the Keel clock. */
  readonly at: number;
  readonly detail: string;
}

/** A mitigation taken while the incident was open, with what it measurably did. */
export interface IncidentAction {
  readonly mitigation: string;
  readonly appliedAt: number;
  readonly validatedAt: number | null;
  /**
   * `kept` (it helped), `rolled-back`, `not-helpful` (irreversible), `failed`, `pending` (on trial),
   * `interrupted` (a shutdown or restart came before its validation; `detail` says which).
   */
  readonly outcome: string;
  readonly before: Measurement;
  readonly after: Measurement | null;
  /** What the mitigation said it did. */
  readonly detail: string;
  /** Why it was kept or not, from what users felt (good and refused requests) before and after. */
  readonly reason?: string;
  /** Kept although it refuses most requests, because nothing else was left to try. */
  readonly lastResort?: boolean;
}

/** One mitigation tried for an incident, as told when none helped. */
export interface TriedMitigation {
  readonly mitigation: string;
  readonly outcome: string;
  /** Why, with the measured numbers. */
  readonly reason: string;
}

export interface BudgetImpact {
  /** Events in the budget's signal while the incident was open. */
  readonly total: number;
  /** Of those, bad by the budget's definition (over the latency target, or an error). */
  readonly bad: number;
  /** Highest share of the window's error budget used, seen while open (1 = all of it). */
  readonly peakErrorBudgetUsed: number | null;
  /** `bad` as a share of the error budget `total` events allow (bad / (total × (1 − objective))). */
  readonly errorBudgetConsumed: number | null;
}

export interface Incident {
  readonly id: string;
  readonly service: string;
  readonly title: string;
  status: 'open' | 'resolved';
  severity: Severity;
  /** Why this severity, in words. */
  severityReason: string;
  /** Budgets (or `score`) that opened or joined the incident. */
  readonly triggers: string[];
  readonly openedAt: number;
  resolvedAt: number | null;
  readonly timeline: TimelineEntry[];
  readonly actions: IncidentAction[];
  before: Measurement | null;
  /** The worst evaluation while open. */
  during: Measurement | null;
  after: Measurement | null;
  impact: Record<string, BudgetImpact>;
  /** Set when every mitigation was tried and none helped: the severity was raised and people told. */
  unmitigated?: { readonly at: number; readonly tried: readonly TriedMitigation[] } | null;
  /** A person took it over (`monitor.acknowledge`): the monitor stops re-checking and escalating it. */
  acknowledged?: { readonly by: string; readonly at: number; readonly note: string | null } | null;
  /** Requests Keel answered itself while the incident was open (shed, circuit open, not ready, cut off). */
  refused?: Record<string, number>;
  /** The Markdown post-mortem, once resolved. */
  postMortem: string | null;
  /** Where the post-mortem was written (it is on disk), when the monitor has a `dir`. */
  postMortemPath: string | null;
  /** Why the post-mortem file could not be written (yet): it is retried; `null` when written or not asked for. */
  postMortemError?: string | null;
}

/** The share of traffic a breached budget says is affected (0..1), from its own numbers. */
export function affectedShare(b: BudgetSnapshot): number {
  if (b.value === null) return 0;
  const share =
    b.kind === 'error_rate'
      ? b.value / 100
      : b.kind === 'availability'
        ? 1 - b.value / 100
        : (b.errorBudgetUsed ?? 0) * (1 - b.objective);
  // Rounded so a threshold is met exactly at its value: 1 − 95 / 100 is 0.05000000000000004 in floating point.
  return Math.round(share * 1e9) / 1e9;
}

/**
 * Severity from scope and user impact:
 *
 * | SEV1 | not ready, or availability breached with >= 5 % affected, or >= 50 % of traffic affected, or score < 2 |
 * | SEV2 | >= 20 % affected, or two or more budgets breached, or a budget 4× over (latency) / its error budget 4× spent, or score < 5 |
 * | SEV3 | one budget breached |
 * | SEV4 | the score dropped below the trigger with no budget breached (runtime, a dependency) |
 */
export function assessSeverity(report: HealthReport): { severity: Severity; reason: string } {
  const breached = report.budgets.filter((b) => b.state === 'breached');
  const shares = breached.map((b) => ({ b, share: affectedShare(b) }));
  const top = shares.reduce<{ b: BudgetSnapshot; share: number } | null>(
    (a, x) => (a === null || x.share > a.share ? x : a),
    null,
  );
  const pct = (v: number) => `${Math.round(v * 1000) / 10} %`;
  const over = (b: BudgetSnapshot) =>
    b.kind === 'latency' && b.value !== null && b.target > 0 ? b.value / b.target : (b.errorBudgetUsed ?? 0);
  const names = breached.map((b) => b.name).join(', ');

  if (!report.readiness.ready)
    return { severity: 'SEV1', reason: 'instance not ready: no traffic is served' };
  const availability = shares.find((x) => x.b.kind === 'availability' && x.share >= 0.05);
  if (availability)
    return {
      severity: 'SEV1',
      reason: `availability breached, ${pct(availability.share)} of requests failing`,
    };
  if (top && top.share >= 0.5)
    return { severity: 'SEV1', reason: `${top.b.name} breached, ${pct(top.share)} of traffic affected` };
  if (report.score < 2) return { severity: 'SEV1', reason: `health score ${report.score}` };
  if (top && top.share >= 0.2)
    return { severity: 'SEV2', reason: `${top.b.name} breached, ${pct(top.share)} of traffic affected` };
  if (breached.length >= 2)
    return { severity: 'SEV2', reason: `${breached.length} budgets breached: ${names}` };
  const far = breached.find((b) => over(b) >= 4);
  if (far) return { severity: 'SEV2', reason: `${far.name} ${Math.round(over(far) * 10) / 10}× over target` };
  if (report.score < 5) return { severity: 'SEV2', reason: `health score ${report.score}` };
  if (top)
    return { severity: 'SEV3', reason: `${top.b.name} breached, ${pct(top.share)} of traffic affected` };
  return { severity: 'SEV4', reason: `health score ${report.score} with no budget breached` };
}

/** SEV1 is the most severe. */
export function moreSevere(a: Severity, b: Severity): boolean {
  return a < b;
}

/** One step more severe (SEV1 stays SEV1). */
export function raised(s: Severity): Severity {
  return s === 'SEV4' ? 'SEV3' : s === 'SEV3' ? 'SEV2' : 'SEV1';
}
