import { type HealthReport, type Keel, KeelError, KeelErrorCode, type TimerHandle } from '@keel/core';
import type { Incident } from './incidents/incident.js';
import { IncidentManager } from './incidents/incident-manager.js';
import { formatDuration } from './incidents/post-mortem.js';
import { type Analysis, analyse, IntervalCounter, type Measurement, measure } from './measure.js';
import { gracefulRestart, openCircuit, readinessOff, serveStale, shedLoad } from './mitigations/built-ins.js';
import { checkMitigation, type Mitigation, type MitigationContext } from './mitigations/mitigation.js';
import { Dispatcher, type NotifierStats } from './notify/dispatcher.js';
import { type MonitorConfig, type MonitorOptions, resolveMonitorOptions } from './options.js';
import { Journal } from './store/journal.js';
import { isoTime } from './time.js';

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
export type CycleOutcome = 'healthy' | 'stable' | 'exhausted' | 'capped' | 'recommended' | 'closed';

export interface CycleState {
  readonly id: string;
  readonly trigger: string;
  readonly startedAt: number;
  phase: CyclePhase;
  readonly baseline: Measurement;
  analysis: Analysis;
  /** The mitigation being validated (or released on trial), with its before. */
  current: {
    mitigation: string;
    appliedAt: number;
    validateAt: number;
    before: Measurement;
    detail: string;
  } | null;
  /** Mitigations tried in this cycle, in order. */
  readonly tried: string[];
  stableSince: number | null;
  endedAt: number | null;
  outcome: CycleOutcome | null;
  /** The recommendation, in dry-run. */
  recommendation: string | null;
}

export interface MonitorEvents {
  step: MonitorStep;
  incident: { readonly incident: Incident; readonly change: string };
}

type JournalRecord =
  | { readonly t: 'incident'; readonly at: number; readonly incident: Incident }
  | { readonly t: 'step'; readonly at: number; readonly step: MonitorStep };

interface Active {
  readonly mitigation: Mitigation;
  readonly appliedAt: number;
  readonly before: Measurement;
}

const HOUR = 3_600_000;
const RECENT_SCORES = 30;

/**
 * The health monitoring cycle, inside the process:
 *
 * ```
 *  trigger (schedule | budget breached | score < 8)
 *    └▶ baseline ─▶ analyse ─▶ act: best applicable mitigation
 *         ▲                       └▶ wait validateAfter ─▶ measure
 *         │  rolled back / kept but still unhealthy ◀─────┤
 *         └───────────────────────────────────────────────┘
 *                                  healthy ─▶ stabilizing ─(stabilityWindow)─▶ stable
 *                                               └▶ release kept mitigations one by one, re-measured
 * ```
 *
 * One action in flight, cooldowns, a cap per hour, dry-run. Every step is an
 * event and a durable record; incidents open, escalate and resolve beside it.
 */
export class Monitor {
  readonly keel: Keel;
  readonly config: MonitorConfig;
  readonly incidents: IncidentManager;
  readonly #mitigations: Mitigation[] = [];
  readonly #dispatcher: Dispatcher;
  readonly #journal: Journal<JournalRecord> | undefined;
  readonly #counter: IntervalCounter;
  readonly #listeners = new Map<keyof MonitorEvents, Set<(e: never) => void>>();
  readonly #unsubscribe: (() => void)[] = [];
  readonly #steps: MonitorStep[] = [];
  readonly #scores: number[] = [];
  readonly #lastApplied = new Map<string, number>();
  readonly #appliedTimes: number[] = [];
  readonly #active: Active[] = [];
  #latest: HealthReport;
  #cycle: CycleState | null = null;
  #lastCycle: CycleState | null = null;
  #cycles = 0;
  #seq = 0;
  #pendingTrigger: string | null = null;
  #work: Promise<void> = Promise.resolve();
  #scheduleTimer: TimerHandle | undefined;
  #nextScheduled: number | null = null;
  #validateTimer: TimerHandle | undefined;
  #lastCounted = Number.NEGATIVE_INFINITY;
  #closed = false;

  constructor(keel: Keel, options?: MonitorOptions) {
    if (!keel || typeof keel.on !== 'function' || typeof keel.health !== 'function')
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        'createMonitor: the first argument must be a Keel instance.',
      );
    this.keel = keel;
    this.config = resolveMonitorOptions(options, keel.config.stabilityWindow);
    const c = this.config;
    const b = c.builtIns;
    const builtIns: Mitigation[] = [];
    if (b.serveStale !== false)
      builtIns.push(serveStale(typeof b.serveStale === 'object' ? b.serveStale : {}));
    if (b.openCircuit !== false)
      builtIns.push(openCircuit(typeof b.openCircuit === 'object' ? b.openCircuit : {}));
    if (b.shedLoad !== false) builtIns.push(shedLoad());
    if (b.readinessOff === true) builtIns.push(readinessOff());
    if (b.gracefulRestart)
      builtIns.push(gracefulRestart(typeof b.gracefulRestart === 'object' ? b.gracefulRestart : {}));
    for (const m of [...builtIns, ...c.mitigations]) this.register(m);

    this.#counter = new IntervalCounter(keel);
    this.#dispatcher = new Dispatcher(
      c.notifiers,
      keel.config.clock,
      c.delivery,
      (where, error) => keel.reportError(where, error),
      (message, notifier) => this.incidents.delivered(message, notifier, this.#now()),
    );
    this.incidents = new IncidentManager({
      service: keel.config.service,
      httpSignal: keel.http.definition.name,
      healthyScore: c.healthyScore,
      recoveryWindow: c.recoveryWindow,
      windowIntervals: keel.config.windowIntervals,
      keepResolved: c.keepIncidents,
      dir: c.dir ?? null,
      dispatcher: this.#dispatcher,
      now: () => this.#now(),
      persist: (incident) => this.#journal?.append({ t: 'incident', at: this.#now(), incident }),
      emit: (incident, change) => this.#emit('incident', { incident, change }),
      report: (where, error) => keel.reportError(where, error),
    });

    if (c.dir !== undefined) {
      this.#journal = new Journal<JournalRecord>(
        { dir: c.dir, maxBytes: c.maxFileBytes, maxFiles: c.maxFiles },
        () => {
          const incident = this.incidents.open;
          return incident ? [{ t: 'incident' as const, at: this.#now(), incident }] : [];
        },
        (where, error) => keel.reportError(where, error),
      );
      this.#reload(this.#journal);
    }

    this.#latest = keel.health();
    if (this.#latest.score < c.healthyScore)
      this.#pendingTrigger = `started with score ${this.#latest.score}`;
    this.#unsubscribe.push(
      keel.on('budget', (e) => {
        if (e.to === 'breached') this.#pendingTrigger ??= `budget ${e.budget} breached`;
      }),
      keel.on('health', (e) => {
        if (e.score < c.healthyScore) this.#pendingTrigger ??= `health score dropped to ${e.score}`;
      }),
      keel.on('evaluation', (report) => this.#onEvaluation(report)),
    );
    if (c.healthSections) {
      this.#unsubscribe.push(
        keel.addHealthSection('monitor', () => this.status()),
        keel.addHealthSection('incidents', () => this.incidentsJson()),
      );
    }
    this.#unsubscribe.push(keel.onShutdown(() => this.close(), 'keel-monitor'));
    this.#scheduleNext();
  }

  /** Adds a mitigation; names are unique. Throws `KEEL_INVALID_OPTION` on a malformed one. */
  register(mitigation: Mitigation): void {
    const problem = checkMitigation(mitigation);
    if (problem) throw new KeelError(KeelErrorCode.InvalidOption, `monitor.register: ${problem}.`);
    if (this.#mitigations.some((m) => m.name === mitigation.name))
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `monitor.register: a mitigation named "${mitigation.name}" is already registered.`,
      );
    this.#mitigations.push(mitigation);
    // Stable sort: equal priorities keep registration order.
    this.#mitigations.sort((a, b) => (a.priority ?? 50) - (b.priority ?? 50));
  }

  get mitigations(): readonly Mitigation[] {
    return this.#mitigations.slice();
  }

  /** Subscribes to `step` or `incident`; returns an unsubscribe function. */
  on<K extends keyof MonitorEvents>(event: K, listener: (payload: MonitorEvents[K]) => void): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as (e: never) => void);
    return () => set.delete(listener as (e: never) => void);
  }

  /** The cycle running now, if any. */
  get cycle(): Readonly<CycleState> | null {
    return this.#cycle;
  }

  get lastCycle(): Readonly<CycleState> | null {
    return this.#lastCycle;
  }

  /** Recorded steps, oldest first (the newest `keepSteps`). */
  steps(): readonly MonitorStep[] {
    return this.#steps.slice();
  }

  /** Mitigations applied and kept, still in effect. */
  get active(): readonly string[] {
    return this.#active.map((a) => a.mitigation.name);
  }

  notifierStats(): NotifierStats[] {
    return this.#dispatcher.stats();
  }

  /** Starts a cycle now (if none is running) with `reason` as its trigger. Returns whether it started. */
  trigger(reason = 'manual'): boolean {
    if (this.#closed || this.#cycle) return false;
    this.#startCycle(reason, this.#latest);
    return true;
  }

  /**
   * Resolves once queued actions, journal writes, post-mortem files and
   * notification deliveries have settled (tests; a last chance before exit).
   */
  async settled(): Promise<void> {
    await this.#work;
    await this.incidents.settled();
    await this.#journal?.flush();
  }

  /** Resolves once every queued notification was delivered or given up on. */
  notificationsIdle(): Promise<void> {
    return this.#dispatcher.idle();
  }

  /** Stops timers and listeners; flushes the journal. Mitigations in effect stay in effect. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const clock = this.keel.config.clock;
    if (this.#scheduleTimer !== undefined) clock.clearTimeout(this.#scheduleTimer);
    if (this.#validateTimer !== undefined) clock.clearTimeout(this.#validateTimer);
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.#work.catch(() => {});
    this.#dispatcher.close();
    await this.incidents.settled();
    await this.#journal?.close();
  }

  /** The `monitor` section of `/health`. */
  status() {
    const c = this.#cycle;
    const cycleJson = (s: CycleState | null) =>
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
      };
    const now = this.#now();
    return {
      dryRun: this.config.dryRun,
      score: this.#latest.score,
      cycle: cycleJson(c),
      lastCycle: cycleJson(this.#lastCycle),
      active: this.active,
      actionsLastHour: this.#appliedTimes.filter((t) => now - t < HOUR).length,
      maxActionsPerHour: this.config.maxActionsPerHour,
      nextScheduledAt: isoTime(this.#nextScheduled),
      mitigations: this.#mitigations.map((m) => m.name),
      recentSteps: this.#steps.slice(-10).map((s) => ({
        at: isoTime(s.at),
        cycle: s.cycle,
        kind: s.kind,
        mitigation: s.mitigation,
        detail: s.detail,
        scoreBefore: s.before?.score ?? null,
        scoreAfter: s.after?.score ?? null,
      })),
      notifiers: this.#dispatcher.stats(),
    };
  }

  /** The `incidents` section of `/health`: open ones in full, recent resolved ones in brief. */
  incidentsJson() {
    const brief = (i: Incident) => ({
      id: i.id,
      title: i.title,
      severity: i.severity,
      severityReason: i.severityReason,
      status: i.status,
      triggers: i.triggers,
      openedAt: isoTime(i.openedAt),
      resolvedAt: isoTime(i.resolvedAt),
      postMortemPath: i.postMortemPath,
    });
    const all = this.incidents.list();
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
          })),
          impact: i.impact,
        })),
      recent: all
        .filter((i) => i.status === 'resolved')
        .slice(0, 5)
        .map(brief),
    };
  }

  // ---- the loop ---------------------------------------------------------------

  #now(): number {
    return this.keel.config.clock.now();
  }

  #onEvaluation(report: HealthReport): void {
    if (this.#closed) return;
    try {
      this.#latest = report;
      this.#scores.push(report.score);
      if (this.#scores.length > RECENT_SCORES) this.#scores.shift();
      // Count each closed interval once, even if the app also calls keel.evaluate().
      let counts = null;
      if (this.incidents.open && report.evaluatedAt - this.#lastCounted >= this.keel.config.interval) {
        counts = this.#counter.count(report);
        this.#lastCounted = report.evaluatedAt;
      }
      this.incidents.observe(report, counts);

      const cycle = this.#cycle;
      if (cycle) {
        if (this.#pendingTrigger !== null) this.#pendingTrigger = null; // coalesced into the running cycle
        if (cycle.phase === 'stabilizing') {
          if (!this.#healthy(report)) {
            cycle.stableSince = null;
            cycle.phase = 'acting';
            this.#step('relapse', null, `score ${report.score}`, null, measure(report, this.#http));
            this.#enqueue(() => this.#act());
          } else if (
            report.evaluatedAt - (cycle.stableSince ?? report.evaluatedAt) >=
            this.config.stabilityWindow
          ) {
            cycle.phase = 'releasing';
            this.#enqueue(() => this.#finishStable());
          }
        }
        return;
      }
      if (this.#pendingTrigger !== null) {
        const reason = this.#pendingTrigger;
        this.#pendingTrigger = null;
        if (!this.#healthy(report)) this.#startCycle(reason, report);
      }
    } catch (error) {
      this.keel.reportError('monitor', error);
    }
  }

  get #http(): string {
    return this.keel.http.definition.name;
  }

  #healthy(report: HealthReport): boolean {
    return report.score >= this.config.healthyScore && !report.budgets.some((b) => b.state === 'breached');
  }

  #scheduleNext(): void {
    if (this.config.schedule === false || this.#closed) return;
    const clock = this.keel.config.clock;
    this.#nextScheduled = this.#now() + this.config.schedule;
    this.#scheduleTimer = clock.setTimeout(() => {
      this.#scheduleTimer = undefined;
      if (!this.#cycle && !this.#closed) this.#startCycle('schedule', this.#latest);
      this.#scheduleNext();
    }, this.config.schedule);
  }

  #startCycle(trigger: string, report: HealthReport): void {
    const id = `cycle-${++this.#cycles}-${this.#now()}`;
    const baseline = measure(report, this.#http);
    const analysis = analyse(report, this.#scores, this.config.healthyScore);
    const cycle: CycleState = {
      id,
      trigger,
      startedAt: this.#now(),
      phase: 'acting',
      baseline,
      analysis,
      current: null,
      tried: [],
      stableSince: null,
      endedAt: null,
      outcome: null,
      recommendation: null,
    };
    this.#cycle = cycle;
    this.#step('cycle-started', null, trigger, null, null);
    this.#step(
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
    this.#step(
      'analysis',
      null,
      `score ${analysis.score}, trend ${analysis.trend}${costs ? `; costs: ${costs}` : ''}${analysis.hotspots[0] ? `; hottest: ${analysis.hotspots[0].group}` : ''}`,
      null,
      null,
    );
    if (this.#healthy(report)) {
      this.#end('healthy');
      return;
    }
    this.#enqueue(() => this.#act());
  }

  /** Runs async work one piece at a time: the "one action in flight" guard. */
  #enqueue(work: () => Promise<void> | void): void {
    this.#work = this.#work
      .then(() => (this.#closed ? undefined : work()))
      .catch((error) => this.keel.reportError('monitor', error));
  }

  #context(
    report: HealthReport,
    reason: string,
    analysis = analyse(report, this.#scores, this.config.healthyScore),
  ): MitigationContext {
    return {
      keel: this.keel,
      report,
      analysis,
      reason,
      flush: async () => {
        await this.#journal?.flush();
      },
    };
  }

  async #act(): Promise<void> {
    const cycle = this.#cycle;
    if (!cycle) return;
    const report = this.#latest;
    cycle.analysis = analyse(report, this.#scores, this.config.healthyScore);
    if (this.#healthy(report)) {
      cycle.phase = 'stabilizing';
      cycle.stableSince = this.#now();
      this.#step(
        'stabilizing',
        null,
        `score ${report.score}; stable after ${formatDuration(this.config.stabilityWindow)}`,
        null,
        measure(report, this.#http),
      );
      return;
    }
    const now = this.#now();
    while (this.#appliedTimes.length && now - this.#appliedTimes[0]! >= HOUR) this.#appliedTimes.shift();
    const ctx = this.#context(report, cycle.trigger, cycle.analysis);
    const candidates = this.#mitigations.filter((m) => {
      if (cycle.tried.includes(m.name) || this.#active.some((a) => a.mitigation === m)) return false;
      const last = this.#lastApplied.get(m.name);
      if (last !== undefined && now - last < (m.cooldown ?? this.config.cooldown)) return false;
      try {
        return m.applicable ? m.applicable(ctx) === true : true;
      } catch (error) {
        this.keel.reportError(`mitigation:${m.name}`, error);
        return false;
      }
    });
    const m = candidates[0];
    if (!m) {
      this.#step(
        'exhausted',
        null,
        `no applicable mitigation left (tried: ${cycle.tried.join(', ') || 'none'})`,
        null,
        measure(report, this.#http),
      );
      this.#end('exhausted');
      return;
    }
    if (this.config.dryRun) {
      cycle.recommendation = m.name;
      this.#step(
        'recommend',
        m.name,
        `dry run: would apply ${m.name}${m.description ? ` (${m.description})` : ''}; also applicable: ${
          candidates
            .slice(1)
            .map((x) => x.name)
            .join(', ') || 'none'
        }`,
        measure(report, this.#http),
        null,
      );
      this.#end('recommended');
      return;
    }
    if (this.#appliedTimes.length >= this.config.maxActionsPerHour) {
      this.#step(
        'capped',
        m.name,
        `${this.#appliedTimes.length} actions in the last hour (cap ${this.config.maxActionsPerHour})`,
        null,
        null,
      );
      this.#end('capped');
      return;
    }
    cycle.tried.push(m.name);
    const before = measure(report, this.#http);
    let detail: unknown;
    try {
      detail = await m.apply(ctx);
    } catch (error) {
      this.keel.reportError(`mitigation:${m.name}`, error);
      const message = error instanceof Error ? error.message : String(error);
      this.#step('apply-failed', m.name, message, before, null);
      this.incidents.action({
        mitigation: m.name,
        appliedAt: this.#now(),
        validatedAt: null,
        outcome: 'failed',
        before,
        after: null,
        detail: message,
      });
      return this.#act();
    }
    const appliedAt = this.#now();
    this.#lastApplied.set(m.name, appliedAt);
    this.#appliedTimes.push(appliedAt);
    const text = typeof detail === 'string' ? detail : (m.description ?? '');
    this.#step('applied', m.name, text, before, null);
    this.incidents.action({
      mitigation: m.name,
      appliedAt,
      validatedAt: null,
      outcome: 'pending',
      before,
      after: null,
      detail: text,
    });
    cycle.phase = 'validating';
    this.#validateLater(cycle, m.name, appliedAt, before, text, () => this.#validate(m));
  }

  /** Records what is on trial and measures it `validateAfter` later. */
  #validateLater(
    cycle: CycleState,
    mitigation: string,
    appliedAt: number,
    before: Measurement,
    detail: string,
    check: () => Promise<void>,
  ): void {
    cycle.current = {
      mitigation,
      appliedAt,
      validateAt: appliedAt + this.config.validateAfter,
      before,
      detail,
    };
    this.#validateTimer = this.keel.config.clock.setTimeout(() => {
      this.#validateTimer = undefined;
      this.#enqueue(check);
    }, this.config.validateAfter);
  }

  async #validate(m: Mitigation): Promise<void> {
    const cycle = this.#cycle;
    const current = cycle?.current;
    if (!cycle || !current) return;
    cycle.current = null;
    cycle.phase = 'acting';
    const after = measure(this.#latest, this.#http);
    const { before, appliedAt, detail } = current;
    const gain = Math.round((after.score - before.score) * 100) / 100;
    const healthyNow = this.#healthy(this.#latest);
    const improved =
      gain >= this.config.minImprovement || (healthyNow && before.score < this.config.healthyScore);
    const effect = `score ${before.score} → ${after.score} (${gain >= 0 ? '+' : ''}${gain}), p95 ${before.p95 ?? '—'} → ${after.p95 ?? '—'} ms`;
    // The step kind doubles as the incident action's outcome.
    let kind: StepKind;
    let text: string;
    if (improved) {
      this.#active.push({ mitigation: m, appliedAt, before });
      kind = 'kept';
      text = effect;
    } else if (m.rollback) {
      try {
        await m.rollback(this.#context(this.#latest, cycle.trigger));
        kind = 'rolled-back';
        text = `did not help: ${effect}`;
      } catch (error) {
        this.keel.reportError(`mitigation:${m.name}`, error);
        kind = 'rollback-failed';
        text = error instanceof Error ? error.message : String(error);
      }
    } else {
      kind = 'not-helpful';
      text = `did not help and cannot be undone: ${effect}`;
    }
    this.#step(kind, m.name, text, before, after);
    this.incidents.action({
      mitigation: m.name,
      appliedAt,
      validatedAt: this.#now(),
      outcome: kind,
      before,
      after,
      detail,
    });
    await this.#act();
  }

  async #finishStable(): Promise<void> {
    const cycle = this.#cycle;
    if (!cycle) return;
    this.#step(
      'stable',
      null,
      `score >= ${this.config.healthyScore} for ${formatDuration(this.config.stabilityWindow)}`,
      cycle.baseline,
      measure(this.#latest, this.#http),
    );
    if (!this.config.releaseWhenStable) {
      this.#end('stable');
      return;
    }
    await this.#releaseNext();
  }

  /** Once stable, tries life without each kept mitigation, newest first: nothing stays on that is not needed. */
  async #releaseNext(): Promise<void> {
    const cycle = this.#cycle;
    if (!cycle) return;
    let index = -1;
    for (let i = this.#active.length - 1; i >= 0; i--) {
      if (this.#active[i]!.mitigation.rollback) {
        index = i;
        break;
      }
    }
    if (index < 0) {
      this.#end('stable');
      return;
    }
    const [entry] = this.#active.splice(index, 1);
    const m = entry!.mitigation;
    const before = measure(this.#latest, this.#http);
    try {
      await m.rollback!(this.#context(this.#latest, 'stable: releasing'));
    } catch (error) {
      this.keel.reportError(`mitigation:${m.name}`, error);
      this.#active.splice(index, 0, entry!);
      this.#step('rollback-failed', m.name, 'release failed; left in place', before, null);
      this.#end('stable');
      return;
    }
    this.#step(
      'release-trial',
      m.name,
      `rolled back on trial; re-measured in ${formatDuration(this.config.validateAfter)}`,
      before,
      null,
    );
    this.#validateLater(cycle, m.name, this.#now(), before, '', () => this.#checkRelease(entry!));
  }

  async #checkRelease(entry: Active): Promise<void> {
    const cycle = this.#cycle;
    const current = cycle?.current;
    if (!cycle || !current) return;
    cycle.current = null;
    const after = measure(this.#latest, this.#http);
    const m = entry.mitigation;
    const effect = `score ${current.before.score} → ${after.score}`;
    if (this.#healthy(this.#latest) && after.score >= current.before.score - this.config.minImprovement) {
      this.#step('released', m.name, `no longer needed: ${effect}`, current.before, after);
      await this.#releaseNext();
      return;
    }
    try {
      await m.apply(this.#context(this.#latest, 'still needed after release'));
      this.#active.push(entry);
      this.#step('reapplied', m.name, `still needed: ${effect}`, current.before, after);
    } catch (error) {
      this.keel.reportError(`mitigation:${m.name}`, error);
      this.#step('apply-failed', m.name, 're-applying after a failed release failed', current.before, after);
    }
    this.#end('stable');
  }

  #end(outcome: CycleOutcome): void {
    const cycle = this.#cycle;
    if (!cycle) return;
    cycle.phase = 'ended';
    cycle.outcome = outcome;
    cycle.endedAt = this.#now();
    cycle.current = null;
    this.#step('cycle-ended', null, outcome, cycle.baseline, measure(this.#latest, this.#http));
    this.#lastCycle = cycle;
    this.#cycle = null;
  }

  #step(
    kind: StepKind,
    mitigation: string | null,
    detail: string,
    before: Measurement | null,
    after: Measurement | null,
  ): void {
    const step: MonitorStep = {
      seq: ++this.#seq,
      cycle: this.#cycle?.id ?? '',
      at: this.#now(),
      kind,
      mitigation,
      detail,
      before,
      after,
    };
    this.#steps.push(step);
    if (this.#steps.length > this.config.keepSteps) this.#steps.shift();
    this.#journal?.append({ t: 'step', at: step.at, step });
    this.#emit('step', step);
  }

  #emit<K extends keyof MonitorEvents>(event: K, payload: MonitorEvents[K]): void {
    const set = this.#listeners.get(event);
    if (!set) return;
    for (const listener of set) {
      try {
        (listener as (p: MonitorEvents[K]) => void)(payload);
      } catch (error) {
        this.keel.reportError(`monitor-listener:${event}`, error);
      }
    }
  }

  #reload(journal: Journal<JournalRecord>): void {
    let loaded: ReturnType<typeof journal.load>;
    try {
      loaded = journal.load();
    } catch (error) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `createMonitor: option \`dir\` (${journal.config.dir}) cannot be used: ${error instanceof Error ? error.message : String(error)}.`,
        { cause: error },
      );
    }
    const { records, skipped } = loaded;
    if (skipped > 0)
      this.keel.reportError(
        'monitor-journal',
        new Error(`${skipped} unreadable line(s) in ${journal.path} skipped (a torn write after a crash?)`),
      );
    const incidents = new Map<string, Incident>();
    for (const r of records) {
      if (r?.t === 'incident' && r.incident?.id) incidents.set(r.incident.id, r.incident);
      else if (r?.t === 'step' && r.step) {
        this.#steps.push(r.step);
        if (this.#steps.length > this.config.keepSteps) this.#steps.shift();
        this.#seq = Math.max(this.#seq, r.step.seq ?? 0);
      }
    }
    // Only the newest open incident carries on; an older one left open by a crash is closed as abandoned.
    const all = [...incidents.values()].sort((a, b) => a.openedAt - b.openedAt);
    const open = all.filter((i) => i.status === 'open');
    for (const stale of open.slice(0, -1)) {
      stale.status = 'resolved';
      stale.resolvedAt = stale.openedAt;
      stale.timeline.push({
        kind: 'note',
        at: this.#now(),
        detail: 'superseded by a newer open incident on reload',
      });
      // Written back, or the next restart would find it open and supersede it again.
      journal.append({ t: 'incident', at: this.#now(), incident: stale });
    }
    const keep = all
      .filter((i) => i.status === 'open')
      .concat(all.filter((i) => i.status === 'resolved').slice(-this.config.keepIncidents));
    this.incidents.restore(keep, this.#now());
  }
}

/** Starts the monitoring cycle and incident response on a Keel. Invalid options throw `KEEL_INVALID_OPTION`. */
export function createMonitor(keel: Keel, options?: MonitorOptions): Monitor {
  return new Monitor(keel, options);
}
