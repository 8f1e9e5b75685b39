import { Emitter, type HealthReport, invalidOptionOf, type Keel, KeelError, KeelErrorCode } from '@keel/core';
import { CycleRunner } from './cycle/cycle-runner.js';
import type { CycleState, MonitorStep } from './cycle/cycle-state.js';
import { Escalation } from './cycle/escalation.js';
import { settleRestoredActions } from './cycle/restored-actions.js';
import { Schedule } from './cycle/schedule.js';
import { StepLog } from './cycle/step-log.js';
import type { Incident } from './incidents/incident.js';
import { IncidentManager } from './incidents/incident-manager.js';
import { PostMortemWriter } from './incidents/post-mortem-writer.js';
import { IntervalCounter } from './measure.js';
import { builtInMitigations } from './mitigations/built-ins.js';
import type { Mitigation } from './mitigations/mitigation.js';
import { MitigationRegistry } from './mitigations/registry.js';
import { Dispatcher, type NotifierStats } from './notify/dispatcher.js';
import { Outbox } from './notify/outbox.js';
import { linkOptimiser } from './optimise-link.js';
import { type MonitorConfig, type MonitorOptions, resolveMonitorOptions } from './options.js';
import { incidentsSection, monitorSection } from './status/health-sections.js';
import type { Journal } from './store/journal.js';
import { type JournalRecord, keyOf, openJournal } from './store/journal-reload.js';
import { TrafficHistory } from './traffic/traffic-history.js';
import { type TrafficCounts, TrafficMeter } from './traffic/traffic-meter.js';

export interface MonitorEvents {
  step: MonitorStep;
  incident: { readonly incident: Incident; readonly change: string };
}

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
 * This class wires the parts (cycle/, incidents/, mitigations/, notify/,
 * store/) and is the public API.
 */
export class Monitor {
  readonly keel: Keel;
  readonly config: MonitorConfig;
  readonly incidents: IncidentManager;
  readonly #registry = new MitigationRegistry();
  readonly #events: Emitter<MonitorEvents>;
  readonly #dispatcher: Dispatcher;
  readonly #outbox: Outbox;
  readonly #postMortems: PostMortemWriter | null;
  readonly #journal: Journal<JournalRecord> | undefined;
  readonly #counter: IntervalCounter;
  readonly #log: StepLog;
  readonly #runner: CycleRunner;
  readonly #escalation: Escalation;
  readonly #schedule: Schedule;
  readonly #unsubscribe: (() => void)[] = [];
  readonly #traffic: TrafficHistory;
  #lastReading: TrafficCounts;
  #lastCounted = Number.NEGATIVE_INFINITY;
  #closed = false;
  #stoodDownAt: number | null = null;

  constructor(keel: Keel, options?: MonitorOptions) {
    if (!keel || typeof keel.on !== 'function' || typeof keel.health !== 'function')
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        'createMonitor: the first argument must be a Keel instance.',
      );
    this.keel = keel;
    this.config = resolveMonitorOptions(options, keel.config.stabilityWindow);
    const c = this.config;
    const builtIns = builtInMitigations(c.builtIns);
    for (const m of [...builtIns.on, ...c.mitigations]) this.register(m);
    // A name given by the app as well (gracefulRestart({...}) in `mitigations`) is not "off".
    for (const { name, reason } of builtIns.off)
      if (!this.#registry.list().some((m) => m.name === name)) this.#registry.notOffered(name, reason);
    const { lastResort } = c.escalation;
    if (lastResort !== false && !this.#registry.list().some((m) => m.name === lastResort))
      throw invalidOptionOf(
        'createMonitor',
        'escalation.lastResort',
        'must name a registered mitigation (for readiness-off, set builtIns.readinessOff: true)',
        lastResort,
      );

    this.#events = new Emitter<MonitorEvents>(keel.errors);
    this.#counter = new IntervalCounter(keel);
    const { clock } = keel.config;
    const now = () => clock.now();
    const report = (where: string, error: unknown) => keel.reportError(where, error);
    // Without a dir nothing is written: records "settle" at once, in memory only.
    const record = (r: JournalRecord) => this.#journal?.append(r, keyOf(r)) ?? Promise.resolve(false);
    this.#dispatcher = new Dispatcher(c.notifiers, clock, c.delivery, report, {
      delivered: (message, notifier) => {
        this.#outbox.delivered(message, notifier);
        this.incidents.delivered(message, notifier, now());
      },
      gaveUp: (message, notifier, reason, error) => {
        this.#outbox.gaveUp(message, notifier, reason);
        this.incidents.undelivered(message, notifier, `${reason}${error ? ` (${error})` : ''}`, now());
      },
    });
    this.#outbox = new Outbox({
      dispatcher: this.#dispatcher,
      expireAfter: c.delivery.expireAfter,
      now,
      persist: record,
    });
    const retry = { retryDelay: c.journal.retryDelay, maxRetryDelay: c.journal.maxRetryDelay };
    this.#postMortems =
      c.dir === undefined
        ? null
        : new PostMortemWriter({
            dir: c.dir,
            clock,
            ...retry,
            report,
            written: (incident, path) => this.incidents.postMortemWritten(incident, path, now()),
          });
    this.incidents = new IncidentManager({
      service: keel.config.service,
      httpSignal: keel.http.definition.name,
      healthyScore: c.healthyScore,
      recoveryWindow: c.recoveryWindow,
      windowIntervals: keel.config.windowIntervals,
      keepResolved: c.keepIncidents,
      postMortems: this.#postMortems,
      outbox: this.#outbox,
      notifiers: this.#dispatcher.size,
      now,
      persist: (incident) => record({ t: 'incident', at: now(), incident }),
      emit: (incident, change) => this.#events.emit('incident', { incident, change }),
      report,
    });
    this.#log = new StepLog(
      c.keepSteps,
      now,
      (step) => record({ t: 'step', at: step.at, step }),
      (step) => this.#events.emit('step', step),
    );

    if (c.dir !== undefined) {
      this.#journal = openJournal(c, clock, report, {
        // What must survive a rotation: the open incident and the messages not yet delivered.
        snapshot: () => {
          const incident = this.incidents.open;
          const open: JournalRecord[] = incident ? [{ t: 'incident', at: now(), incident }] : [];
          return open.concat(this.#outbox.records());
        },
        prepare: () => this.#postMortems?.prepare(),
        restore: (reloaded) => {
          for (const step of reloaded.steps) this.#log.restore(step);
          this.incidents.restore(reloaded.incidents, now());
          for (const expired of this.#outbox.restore(reloaded.outbox))
            report(
              'monitor-outbox',
              new Error(`${expired.message?.type} ${expired.id} expired before it was delivered`),
            );
        },
      });
    }

    const latest = keel.health();
    // Readings back as far as a "before" can reach: validateAfter or a budget window.
    const reach = Math.max(c.validateAfter, keel.config.windowIntervals * keel.config.interval);
    this.#traffic = new TrafficHistory(new TrafficMeter(keel), Math.ceil(reach / keel.config.interval) + 2);
    this.#lastReading = this.#traffic.first;
    this.#runner = new CycleRunner(
      {
        keel,
        config: c,
        registry: this.#registry,
        incidents: this.incidents,
        log: this.#log,
        traffic: this.#traffic,
        flush: async () => {
          await this.#journal?.flush();
        },
        ended: (cycle) => this.#escalation.cycleEnded(cycle),
      },
      latest,
    );
    this.#escalation = new Escalation({
      runner: this.#runner,
      incidents: this.incidents,
      clock,
      recheckAfter: c.escalation.recheckAfter,
      lastResort: this.#registry.list().find((m) => m.name === c.escalation.lastResort),
    });
    if (latest.score < c.healthyScore) this.#runner.pend(`started with score ${latest.score}`);
    this.#unsubscribe.push(
      keel.on('budget', (e) => {
        if (e.to === 'breached') this.#runner.pend(`budget ${e.budget} breached`);
      }),
      keel.on('health', (e) => {
        if (e.score < c.healthyScore) this.#runner.pend(`health score dropped to ${e.score}`);
      }),
      keel.on('evaluation', (r) => this.#onEvaluation(r)),
    );
    if (c.healthSections) {
      this.#unsubscribe.push(
        keel.addHealthSection('monitor', () => this.status()),
        keel.addHealthSection('incidents', () => this.incidentsJson()),
      );
    }
    this.#unsubscribe.push(
      // Optimiser reports in the incident timeline; a latency incident asks for one.
      ...linkOptimiser(keel, this.incidents, (listener) => this.on('incident', listener)),
      keel.onShutdown(() => this.close(), 'keel-monitor'),
      keel.on('shutdown', () => this.#standDown()),
    );
    this.#schedule = new Schedule(keel.config.clock, c.schedule, () => {
      if (!this.#closed) this.#runner.trigger('schedule');
    });
    this.#schedule.start();
    settleRestoredActions(this.incidents, this.#runner);
    if (keel.shuttingDown) this.#standDown();
  }

  /** Adds a mitigation; names are unique. Throws `KEEL_INVALID_OPTION` on a malformed one. */
  register(mitigation: Mitigation): void {
    this.#registry.register(mitigation);
  }

  get mitigations(): readonly Mitigation[] {
    return this.#registry.list();
  }

  /** Subscribes to `step` or `incident`; returns an unsubscribe function. */
  on<K extends keyof MonitorEvents>(event: K, listener: (payload: MonitorEvents[K]) => void): () => void {
    return this.#events.on(event, listener);
  }

  /** The cycle running now, if any. */
  get cycle(): Readonly<CycleState> | null {
    return this.#runner.cycle;
  }

  get lastCycle(): Readonly<CycleState> | null {
    return this.#runner.lastCycle;
  }

  /** Recorded steps, oldest first (the newest `keepSteps`). */
  steps(): readonly MonitorStep[] {
    return this.#log.list();
  }

  /** Mitigations applied and kept, still in effect. */
  get active(): readonly string[] {
    return this.#registry.active.map((a) => a.mitigation.name);
  }

  notifierStats(): NotifierStats[] {
    return this.#dispatcher.stats();
  }

  /** Starts a cycle now (if none is running) with `reason` as its trigger. Returns whether it started. */
  trigger(reason = 'manual'): boolean {
    if (this.#closed) return false;
    return this.#runner.trigger(reason);
  }

  /**
   * A person takes the open incident over: the monitor stops re-checking and
   * escalating it (it still resolves it when the budgets recover, and reacts
   * to new breaches). Returns `false` when no incident is open.
   */
  acknowledge(by: string, note?: string): boolean {
    if (typeof by !== 'string' || by.trim() === '')
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        'monitor.acknowledge: `by` must name who takes it over.',
      );
    if (
      !this.incidents.acknowledge(by.slice(0, 200), note === undefined ? null : String(note).slice(0, 2000))
    )
      return false;
    this.#escalation.acknowledged();
    return true;
  }

  /**
   * Resolves once queued actions, journal writes, post-mortem files and
   * notification deliveries have settled (tests; a last chance before exit).
   */
  async settled(): Promise<void> {
    await this.#runner.work;
    await this.#log.settled();
    await this.incidents.settled();
    await this.#dispatcher.attemptsSettled();
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
    this.#schedule.stop();
    this.#escalation.close();
    for (const off of this.#unsubscribe.splice(0)) off();
    await this.#runner.close();
    await this.#log.settled();
    await this.incidents.settled();
    this.#dispatcher.close();
    this.#postMortems?.close();
    await this.#journal?.close();
  }

  /** The `monitor` section of `/health`. */
  status() {
    return monitorSection({
      dryRun: this.config.dryRun,
      stoodDownAt: this.#stoodDownAt,
      score: this.#runner.latest.score,
      cycle: this.#runner.cycle,
      lastCycle: this.#runner.lastCycle,
      active: this.active,
      actionsLastHour: this.#registry.appliesInLastHour(this.keel.config.clock.now()),
      maxActionsPerHour: this.config.maxActionsPerHour,
      nextScheduledAt: this.#schedule.next,
      nextRecheckAt: this.#escalation.nextRecheck,
      mitigations: this.#registry.availability(this.keel),
      recentSteps: this.#log.recent(10),
      notifiers: this.#dispatcher.stats(),
      journal: this.#journal?.stats() ?? null,
      postMortemsFailing: this.#postMortems?.failing ?? 0,
    });
  }

  /** The `incidents` section of `/health`: open ones in full, recent resolved ones in brief. */
  incidentsJson() {
    return incidentsSection(this.incidents.list());
  }

  /**
   * A planned shutdown is not an incident: once `keel.beginShutdown()` ran,
   * readiness is off and requests drain on purpose, so the monitor opens no
   * incident, applies no mitigation and sends no new notification.
   */
  #standDown(): void {
    if (this.#stoodDownAt !== null || this.#closed) return;
    this.#stoodDownAt = this.keel.config.clock.now();
    this.#schedule.stop();
    this.#escalation.close();
    this.#runner.standDown('planned shutdown');
    this.incidents.standDown('planned shutdown');
  }

  #onEvaluation(report: HealthReport): void {
    if (this.#closed || this.#stoodDownAt !== null) return;
    try {
      // Count each closed interval once, even if the app also calls keel.evaluate().
      let counts = null;
      if (this.incidents.open && report.evaluatedAt - this.#lastCounted >= this.keel.config.interval) {
        counts = this.#counter.count(report);
        this.#lastCounted = report.evaluatedAt;
      }
      const reading = this.#traffic.record(this.#runner.healthy(report));
      const refused = TrafficMeter.between(this.#lastReading, reading)?.refusedByOutcome ?? null;
      this.#lastReading = reading;
      const open = this.incidents.open;
      this.incidents.observe(report, counts, refused);
      this.#runner.observe(report);
      // Resolved with mitigations still in effect (an acknowledged incident is not re-checked): release them on trial.
      if (open && !this.incidents.open && this.#registry.active.length > 0)
        this.#runner.trigger(`incident ${open.id} resolved: releasing what is still in effect`);
    } catch (error) {
      this.keel.reportError('monitor', error);
    }
  }
}

/** Starts the monitoring cycle and incident response on a Keel. Invalid options throw `KEEL_INVALID_OPTION`. */
export function createMonitor(keel: Keel, options?: MonitorOptions): Monitor {
  return new Monitor(keel, options);
}
