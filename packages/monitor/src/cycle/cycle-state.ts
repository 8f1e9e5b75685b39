import type { Analysis, Measurement } from '../measure.js';
import type { TrafficCounts } from '../traffic/traffic-meter.js';

export type StepKind =
  | 'cycle-started'
  | 'baseline'
  | 'analysis'
  | 'recommend'
  | 'applied'
  | 'apply-failed'
  | 'kept'
  | 'rolled-back'
  | 'rollback-failed'
  | 'not-helpful'
  | 'stabilizing'
  | 'relapse'
  | 'stable'
  | 'release-trial'
  | 'released'
  | 'reapplied'
  | 'exhausted'
  | 'capped'
  | 'stood-down'
  | 'escalated'
  | 'last-resort'
  | 'cycle-ended';

/** One recorded step of a cycle; applies and validations carry the measured before and after. */
export interface MonitorStep {
  readonly seq: number;
  readonly cycle: string;
  readonly at: number;
  readonly kind: StepKind;
  readonly mitigation: string | null;
  readonly detail: string;
  readonly before: Measurement | null;
  readonly after: Measurement | null;
}

export type CyclePhase = 'acting' | 'validating' | 'stabilizing' | 'releasing' | 'ended';
export type CycleOutcome =
  | 'healthy'
  | 'stable'
  | 'exhausted'
  | 'capped'
  | 'recommended'
  | 'closed'
  /** A planned shutdown began: the cycle stopped without acting further. */
  | 'stood-down';

/** What is on trial: a mitigation just applied (or released), waiting to be measured. */
export interface OnTrial {
  mitigation: string;
  appliedAt: number;
  validateAt: number;
  before: Measurement;
  detail: string;
  /** The traffic reading when it went on trial: "after" is measured from here. */
  since: TrafficCounts;
  /** Set when it plainly hurt users and was validated before `validateAt`: why. */
  cutShort?: string;
}

export interface CycleState {
  readonly id: string;
  readonly trigger: string;
  readonly startedAt: number;
  phase: CyclePhase;
  readonly baseline: Measurement;
  analysis: Analysis;
  /** The mitigation being validated (or released on trial), with its before. */
  current: OnTrial | null;
  /** Mitigations tried in this cycle, in order. */
  readonly tried: string[];
  /** Of those, the ones kept (they measurably helped). */
  readonly kept: string[];
  /**
   * Ones that served users better but refused most requests, rolled back
   * while less harmful ones were left: tried again, as the last resort, when
   * nothing else is.
   */
  readonly deferred: string[];
  stableSince: number | null;
  endedAt: number | null;
  outcome: CycleOutcome | null;
  /** The recommendation, in dry-run. */
  recommendation: string | null;
}
