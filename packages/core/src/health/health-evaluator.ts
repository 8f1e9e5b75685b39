import type { BudgetSet } from '../budgets/budget-set.js';
import type { Emitter } from '../events.js';
import { type LoadShedder, sheddingSnapshot } from '../pressure/load-shedder.js';
import type { RuntimeConfig } from '../runtime/runtime-options.js';
import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';
import type { SignalSet } from '../signals/signal-set.js';
import type { DependencyChecks } from './dependency-checks.js';
import type { HealthConfig } from './health-options.js';
import type { HealthSections } from './health-sections.js';
import type { ReadinessGate } from './readiness.js';
import { type HealthReport, type KeelEvents, round } from './report.js';
import { budgetScore, combineScores, HEALTHY_SCORE, thresholdScore } from './score.js';
import { signalStats } from './signal-stats.js';

/** What an evaluation reads: every concept the score is made of. */
export interface HealthInputs {
  readonly config: Pick<HealthConfig, 'stabilityWindow'> & {
    readonly service: string;
    readonly runtime: RuntimeConfig | null;
    readonly windowIntervals: number;
  };
  readonly budgets: BudgetSet;
  readonly signals: SignalSet;
  readonly checks: DependencyChecks;
  readonly readiness: ReadinessGate;
  readonly shedder: LoadShedder;
  readonly sections: HealthSections;
  readonly events: Emitter<KeelEvents>;
  /** The latest runtime sample, or `null` (sampling off, or none yet). */
  runtime(): RuntimeSnapshot | null;
}

/**
 * Makes the health report once per interval: judges the budgets, scores
 * them with the runtime and the dependencies, tracks stability, and emits
 * `budget`, `health` and `evaluation` events.
 */
export class HealthEvaluator {
  readonly #in: HealthInputs;
  readonly #startedAt: number;
  #stableSince: number | null = null;
  #report: HealthReport;

  /** Evaluates once, so a report exists from the start. */
  constructor(inputs: HealthInputs, now: number) {
    this.#in = inputs;
    this.#startedAt = now;
    this.#report = this.#evaluate(now, undefined);
  }

  /** The latest evaluation. */
  get report(): HealthReport {
    return this.#report;
  }

  /** Re-evaluates from the closed intervals. */
  evaluate(now: number): HealthReport {
    this.#report = this.#evaluate(now, this.#report);
    return this.#report;
  }

  /**
   * The latest evaluation with readiness, dependencies and shedding as they
   * are right now. Sections are rendered when `sections` is first read, so
   * callers that only want the score or the budgets do not pay for them.
   */
  live(): HealthReport {
    const report = this.#report;
    const live = {
      ...report,
      sections: undefined as HealthReport['sections'],
      readiness: this.#in.readiness.at(report.score),
      dependencies: this.#in.checks.statuses(),
      shedding: sheddingSnapshot(this.#in.shedder),
    };
    if (this.#in.sections.size > 0) {
      let rendered: HealthReport['sections'];
      Object.defineProperty(live, 'sections', {
        enumerable: true,
        get: () => {
          rendered ??= this.#in.sections.render();
          return rendered;
        },
      });
    }
    return live;
  }

  #evaluate(now: number, previous: HealthReport | undefined): HealthReport {
    const { config, events } = this.#in;
    const budgets = this.#in.budgets.evaluate(now, (change) => events.emit('budget', change));

    const inputs = budgets.map((b) => ({
      name: `budget:${b.name}`,
      score: budgetScore(b),
      detail:
        b.value === null ? `${b.state}` : `${b.state}: ${round(b.value)} ${b.unit} vs ${b.target} ${b.unit}`,
    }));
    const runtime = this.#in.runtime();
    if (runtime && config.runtime) inputs.push(...runtimeComponents(runtime, config.runtime));
    for (const check of this.#in.checks.values()) {
      const s = check.status;
      const score = s.checkedAt === null || s.ok ? 10 : s.critical ? 4 : 7;
      inputs.push({ name: `dependency:${s.name}`, score, detail: s.ok ? 'ok' : (s.error ?? 'failing') });
    }
    const score = combineScores(inputs);

    if (score.score >= HEALTHY_SCORE) this.#stableSince ??= now;
    else this.#stableSince = null;
    const stable = this.#stableSince !== null && now - this.#stableSince >= config.stabilityWindow;

    const report: HealthReport = Object.freeze({
      service: config.service,
      status: score.status,
      score: score.score,
      healthy: score.score >= HEALTHY_SCORE,
      stable,
      stableSince: this.#stableSince,
      readiness: this.#in.readiness.at(score.score),
      budgets: Object.freeze(budgets),
      components: score.components,
      dependencies: this.#in.checks.statuses(),
      runtime,
      signals: Object.freeze(signalStats(this.#in.signals, config.windowIntervals)),
      shedding: sheddingSnapshot(this.#in.shedder),
      evaluatedAt: now,
      startedAt: this.#startedAt,
    });
    if (previous && previous.status !== report.status) {
      events.emit('health', { from: previous.status, to: report.status, score: report.score, at: now });
    }
    if (events.hasListeners('evaluation')) events.emit('evaluation', report);
    return report;
  }
}

function runtimeComponents(r: RuntimeSnapshot, t: RuntimeConfig) {
  const heapRatio = r.heapLimitBytes > 0 ? r.heapUsedBytes / r.heapLimitBytes : 0;
  return [
    {
      name: 'runtime:event_loop_delay',
      score: thresholdScore(r.eventLoopDelayP99, t.eventLoopDelay),
      detail: `p99 ${round(r.eventLoopDelayP99)} ms`,
    },
    {
      name: 'runtime:event_loop_utilization',
      score: thresholdScore(r.eventLoopUtilization, t.eventLoopUtilization),
      detail: `${round(r.eventLoopUtilization * 100)} %`,
    },
    {
      name: 'runtime:heap',
      score: thresholdScore(heapRatio, t.heap),
      detail: `${round(heapRatio * 100)} % of limit`,
    },
  ];
}
