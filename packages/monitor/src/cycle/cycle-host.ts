import type { HealthReport, Keel } from '@keel/core';
import type { IncidentManager } from '../incidents/incident-manager.js';
import type { Analysis, Measurement } from '../measure.js';
import type { MitigationContext } from '../mitigations/mitigation.js';
import type { MitigationRegistry } from '../mitigations/registry.js';
import type { MonitorConfig } from '../options.js';
import type { TrafficCounts, TrafficRates } from '../traffic/traffic-meter.js';
import type { CycleOutcome, CycleState, StepKind } from './cycle-state.js';

/**
 * What the parts of a cycle (choosing, validating, releasing) share: the
 * cycle runner implements it, so each part lives in its own file without
 * reaching into the runner's private state.
 */
export interface CycleHost {
  readonly keel: Keel;
  readonly config: MonitorConfig;
  readonly registry: MitigationRegistry;
  readonly incidents: IncidentManager;
  /** The latest evaluation. */
  readonly latest: HealthReport;
  /** The cycle running now. */
  readonly cycle: CycleState | null;
  /** A planned shutdown began: nothing more is applied, validated or rolled back. */
  readonly standingDown: boolean;
  now(): number;
  /** Score at or above `healthyScore` and no budget breached. */
  healthy(report: HealthReport): boolean;
  measure(report: HealthReport, traffic?: TrafficRates | null): Measurement;
  /**
   * What users felt before now (since the breach began, or over the last
   * `min(validateAfter, budget window)` with `sinceHealthy` false), and the
   * reading now, where "after" starts.
   */
  trafficBefore(sinceHealthy?: boolean): { rates: TrafficRates | null; now: TrafficCounts };
  trafficSince(from: TrafficCounts): TrafficRates | null;
  context(report: HealthReport, reason: string, analysis?: Analysis): MitigationContext;
  step(
    kind: StepKind,
    mitigation: string | null,
    detail: string,
    before: Measurement | null,
    after: Measurement | null,
  ): void;
  /** Records what is on trial and runs `check` `validateAfter` later. */
  validateLater(
    cycle: CycleState,
    mitigation: string,
    appliedAt: number,
    before: Measurement,
    detail: string,
    since: TrafficCounts,
    check: () => Promise<void>,
  ): void;
  /** Chooses and applies the next mitigation (or ends the cycle). */
  act(): Promise<void>;
  end(outcome: CycleOutcome): void;
}
