import type { HealthReport, Keel, TimerHandle } from '@keel/core';
import type { IncidentManager } from '../incidents/incident-manager.js';
import { type Analysis, analyse, type Measurement, measure } from '../measure.js';
import { budgetBreached } from '../mitigations/http-breach.js';
import type { Mitigation, MitigationContext } from '../mitigations/mitigation.js';
import type { MitigationRegistry } from '../mitigations/registry.js';
import type { MonitorConfig } from '../options.js';
import type { TrafficHistory } from '../traffic/traffic-history.js';
import type { TrafficCounts, TrafficRates } from '../traffic/traffic-meter.js';
import { act } from './choose-mitigation.js';
import type { CycleHost } from './cycle-host.js';
import type { CycleOutcome, CycleState, StepKind } from './cycle-state.js';
import { finishStable } from './release.js';
import type { StepLog } from './step-log.js';
import { plainHarm, validate } from './validation.js';

const RECENT_SCORES = 30;

export interface CycleRunnerDeps {
  readonly keel: Keel;
  readonly config: MonitorConfig;
  readonly registry: MitigationRegistry;
  readonly incidents: IncidentManager;
  readonly log: StepLog;
  readonly traffic: TrafficHistory;
  /** Resolves once the record so far is on disk (a mitigation about to exit the process waits for it). */
  flush(): Promise<void>;
  /** A cycle ended (escalation decides what comes next). */
  ended(cycle: CycleState): void;
}

/**
 * The cycle's state machine: starts a cycle on a trigger, acts, validates,
 * stabilizes and releases, one piece of work at a time (the "one action in
 * flight" guard). The steps themselves live in choose-mitigation, validation
 * and release; this class owns the state they share.
 */
export class CycleRunner implements CycleHost {
  readonly keel: Keel;
  readonly config: MonitorConfig;
  readonly registry: MitigationRegistry;
  readonly incidents: IncidentManager;
  readonly #log: StepLog;
  readonly #traffic: TrafficHistory;
  readonly #flush: () => Promise<void>;
  readonly #ended: (cycle: CycleState) => void;
  readonly #scores: number[] = [];
  #latest: HealthReport;
  #cycle: CycleState | null = null;
  #lastCycle: CycleState | null = null;
  #cycles = 0;
  #pendingTrigger: string | null = null;
  #work: Promise<void> = Promise.resolve();
  /** The validation waiting for its time: its timer, and what it runs (at once, for a trial that plainly hurts users). */
  #validation: { timer: TimerHandle; check: () => Promise<void> } | undefined;
  #closed = false;
  #standingDown = false;

  constructor(deps: CycleRunnerDeps, latest: HealthReport) {
    this.keel = deps.keel;
    this.config = deps.config;
    this.registry = deps.registry;
    this.incidents = deps.incidents;
    this.#log = deps.log;
    this.#traffic = deps.traffic;
    this.#flush = deps.flush;
    this.#ended = deps.ended;
    this.#latest = latest;
  }

  get latest(): HealthReport {
    return this.#latest;
  }

  get cycle(): CycleState | null {
    return this.#cycle;
  }

  get lastCycle(): CycleState | null {
    return this.#lastCycle;
  }

  /** Resolves when the queued work has run. */
  get work(): Promise<void> {
    return this.#work;
  }

  /** A cycle starts at the next evaluation that is not healthy (a trigger during a cycle joins it). */
  pend(reason: string): void {
    this.#pendingTrigger ??= reason;
  }

  get standingDown(): boolean {
    return this.#standingDown;
  }

  /**
   * A planned shutdown began: no cycle starts, the running one stops without
   * acting (what is applied stays applied: the process is going away), and
   * nothing on trial is validated or rolled back.
   */
  standDown(reason: string): void {
    if (this.#standingDown) return;
    this.#standingDown = true;
    this.#pendingTrigger = null;
    this.#cancelValidation();
    const cycle = this.#cycle;
    if (!cycle) return;
    const onTrial = cycle.current;
    this.step(
      'stood-down',
      onTrial?.mitigation ?? null,
      `${reason}: the cycle stops without acting${onTrial ? `; ${onTrial.mitigation} stays as it is, not validated` : ''}`,
      null,
      null,
    );
    this.end('stood-down');
  }

  /** Starts a cycle now, unless one runs. */
  trigger(reason: string): boolean {
    if (this.#closed || this.#standingDown || this.#cycle) return false;
    this.#start(reason, this.#latest);
    return true;
  }

  /** Takes in an evaluation: relapse or stability of a running cycle, or a pending trigger. */
  observe(report: HealthReport): void {
    if (this.#closed || this.#standingDown) return;
    this.#latest = report;
    this.#scores.push(report.score);
    if (this.#scores.length > RECENT_SCORES) this.#scores.shift();
    const cycle = this.#cycle;
    if (cycle) {
      this.#pendingTrigger = null; // coalesced into the running cycle
      if (cycle.phase === 'validating') this.#cutShortIfHarmful(cycle);
      if (cycle.phase !== 'stabilizing') return;
      if (!this.healthy(report)) {
        cycle.stableSince = null;
        cycle.phase = 'acting';
        this.step('relapse', null, `score ${report.score}`, null, this.measure(report));
        this.#enqueue(() => this.act());
      } else if (
        report.evaluatedAt - (cycle.stableSince ?? report.evaluatedAt) >=
        this.config.stabilityWindow
      ) {
        cycle.phase = 'releasing';
        this.#enqueue(() => finishStable(this));
      }
      return;
    }
    if (this.#pendingTrigger !== null) {
      const reason = this.#pendingTrigger;
      this.#pendingTrigger = null;
      if (!this.healthy(report)) this.#start(reason, report);
    }
  }

  /** Stops timers; the work in flight finishes. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#cancelValidation();
    await this.#work.catch(() => {});
  }

  // ---- CycleHost ---------------------------------------------------------------

  now(): number {
    return this.keel.config.clock.now();
  }

  healthy(report: HealthReport): boolean {
    return report.score >= this.config.healthyScore && !budgetBreached(report);
  }

  measure(report: HealthReport, traffic: TrafficRates | null = null): Measurement {
    return measure(report, this.keel.http.definition.name, traffic);
  }

  trafficBefore(sinceHealthy = true): { rates: TrafficRates | null; now: TrafficCounts } {
    const windowMs = this.keel.config.windowIntervals * this.keel.config.interval;
    return this.#traffic.before(Math.min(this.config.validateAfter, windowMs), sinceHealthy);
  }

  trafficSince(from: TrafficCounts): TrafficRates | null {
    return this.#traffic.since(from);
  }

  context(
    report: HealthReport,
    reason: string,
    analysis = analyse(report, this.#scores, this.config.healthyScore),
  ): MitigationContext {
    return { keel: this.keel, report, analysis, reason, flush: this.#flush };
  }

  step(
    kind: StepKind,
    mitigation: string | null,
    detail: string,
    before: Measurement | null,
    after: Measurement | null,
  ): void {
    this.#log.record(this.#cycle?.id ?? '', kind, mitigation, detail, before, after);
  }

  validateLater(
    cycle: CycleState,
    mitigation: string,
    appliedAt: number,
    before: Measurement,
    detail: string,
    since: TrafficCounts,
    check: () => Promise<void>,
  ): void {
    const validateAt = appliedAt + this.config.validateAfter;
    cycle.current = { mitigation, appliedAt, validateAt, before, detail, since };
    const timer = this.keel.config.clock.setTimeout(
      () => this.#validateNow(),
      Math.max(0, validateAt - this.now()),
    );
    this.#validation = { timer, check };
  }

  /** Runs the waiting validation now (queued behind the work in flight). */
  #validateNow(): void {
    const validation = this.#cancelValidation();
    if (validation) this.#enqueue(validation.check);
  }

  #cancelValidation(): { check: () => Promise<void> } | undefined {
    const validation = this.#validation;
    if (validation) this.keel.config.clock.clearTimeout(validation.timer);
    this.#validation = undefined;
    return validation;
  }

  /**
   * At each evaluation of a trial: one that plainly hurts users (`plainHarm`:
   * Keel refuses most requests, and good ones fell) is validated now, at least
   * one interval after it was applied, instead of `validateAfter` later.
   */
  #cutShortIfHarmful(cycle: CycleState): void {
    const trial = cycle.current;
    if (!trial || trial.cutShort !== undefined || this.#validation === undefined) return;
    if (this.now() - trial.appliedAt < this.keel.config.interval) return;
    const why = plainHarm(trial.before.traffic ?? null, this.#traffic.since(trial.since), this.config);
    if (why === null) return;
    trial.cutShort = why;
    this.#validateNow();
  }

  /**
   * After a restart: an irreversible mitigation the previous run applied
   * (a restart, a recycled pool) acted beyond that process, so its effect is
   * still measured, `validateAfter` after it was applied, in a cycle of its own.
   */
  resume(m: Mitigation, appliedAt: number, before: Measurement, detail: string): void {
    const cycle = this.beginTrial(`resumed after a restart: validating ${m.name}`);
    if (!cycle) return;
    cycle.tried.push(m.name);
    cycle.phase = 'validating';
    this.registry.applied(m.name, appliedAt);
    // The previous process's counts are gone: "after" is this run's traffic since it started.
    this.validateLater(cycle, m.name, appliedAt, before, detail, this.#traffic.first, () =>
      validate(this, m),
    );
  }

  async act(): Promise<void> {
    const cycle = this.#cycle;
    if (!cycle) return;
    cycle.analysis = this.#analyse(this.#latest);
    await act(this, (m) => validate(this, m));
  }

  end(outcome: CycleOutcome): void {
    const cycle = this.#cycle;
    if (!cycle) return;
    cycle.phase = 'ended';
    cycle.outcome = outcome;
    cycle.endedAt = this.now();
    cycle.current = null;
    this.step('cycle-ended', null, outcome, cycle.baseline, this.measure(this.#latest));
    this.#lastCycle = cycle;
    this.#cycle = null;
    this.#ended(cycle);
  }

  /**
   * Starts a cycle that puts one mitigation on trial instead of choosing
   * (a resumed action, the last resort); `null` when one is running.
   */
  beginTrial(trigger: string): CycleState | null {
    if (this.#closed || this.#standingDown || this.#cycle) return null;
    this.#start(trigger, this.#latest, false);
    return this.#cycle;
  }

  /** Runs `work` after what is queued: one action in flight. */
  enqueue(work: () => Promise<void> | void): void {
    this.#enqueue(work);
  }

  // ---- internals ---------------------------------------------------------------

  #analyse(report: HealthReport): Analysis {
    return analyse(report, this.#scores, this.config.healthyScore);
  }

  #start(trigger: string, report: HealthReport, act = true): void {
    const baseline = this.measure(report);
    const analysis = this.#analyse(report);
    this.#cycle = {
      id: `cycle-${++this.#cycles}-${this.now()}`,
      trigger,
      startedAt: this.now(),
      phase: 'acting',
      baseline,
      analysis,
      current: null,
      tried: [],
      kept: [],
      deferred: [],
      stableSince: null,
      endedAt: null,
      outcome: null,
      recommendation: null,
    };
    this.step('cycle-started', null, trigger, null, null);
    this.step(
      'baseline',
      null,
      `score ${baseline.score}, ${baseline.requests} requests, p95 ${baseline.p95 ?? '—'} ms`,
      baseline,
      null,
    );
    const costs = analysis.costs
      .slice(0, 3)
      .map((x) => `${x.name} −${x.cost} (${x.detail})`)
      .join('; ');
    const hottest = analysis.hotspots[0] ? `; hottest: ${analysis.hotspots[0].group}` : '';
    this.step(
      'analysis',
      null,
      `score ${analysis.score}, trend ${analysis.trend}${costs ? `; costs: ${costs}` : ''}${hottest}`,
      null,
      null,
    );
    if (!act) return;
    if (this.healthy(report) && this.registry.active.length > 0) {
      // Healthy with mitigations in effect: hold it for the stability window, then release them on trial.
      this.#cycle!.phase = 'stabilizing';
      this.#cycle!.stableSince = this.now();
      this.step(
        'stabilizing',
        null,
        `score ${report.score}; ${this.registry.active.length} mitigation(s) in effect`,
        null,
        baseline,
      );
      return;
    }
    if (this.healthy(report)) {
      this.end('healthy');
      return;
    }
    this.#enqueue(() => this.act());
  }

  /** Runs async work one piece at a time: the "one action in flight" guard. */
  #enqueue(work: () => Promise<void> | void): void {
    this.#work = this.#work
      .then(() => (this.#closed || this.#standingDown ? undefined : work()))
      .catch((error) => this.keel.reportError('monitor', error));
  }
}
