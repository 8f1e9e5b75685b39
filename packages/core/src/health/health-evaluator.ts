import type { CircuitStats } from '../breaker/circuit-breaker.js';
import type { ResolvedBudget } from '../budgets/budget-options.js';
import type { BudgetSet } from '../budgets/budget-set.js';
import type { CacheStats } from '../cache/cache.js';
import type { Emitter } from '../events.js';
import { type LoadShedder, sheddingSnapshot } from '../pressure/load-shedder.js';
import type { RuntimeConfig } from '../runtime/runtime-options.js';
import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';
import type { SignalSet } from '../signals/signal-set.js';
import { CacheHitRatios } from './cache-hit-ratio.js';
import type { DependencyStatus } from './checks.js';
import {
  breakerComponent,
  budgetComponent,
  type ComponentInput,
  dependencyComponent,
  runtimeComponents,
  ScoreMemory,
} from './components.js';
import type { DependencyChecks } from './dependency-checks.js';
import type { HealthConfig } from './health-options.js';
import type { HealthSections } from './health-sections.js';
import type { ReadinessGate } from './readiness.js';
import type { HealthReport, KeelEvents } from './report.js';
import { type ComponentScore, combineScores, HEALTHY_SCORE } from './score.js';
import { signalStats } from './signal-stats.js';

/** What an evaluation reads: every concept the score is made of. */
export interface HealthInputs {
  readonly config: Pick<HealthConfig, 'stabilityWindow' | 'cacheScore'> & {
    readonly service: string;
    readonly runtime: RuntimeConfig | null;
    readonly interval: number;
    readonly windowIntervals: number;
    readonly budgets: readonly ResolvedBudget[];
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
  /** The circuit breakers' stats now. */
  breakers(): readonly CircuitStats[];
  /** The caches' counters now. */
  caches(): readonly CacheStats[];
}

/**
 * Makes the health report once per interval: judges the budgets, scores
 * them with the runtime and the dependencies, tracks stability, and emits
 * `budget`, `health` and `evaluation` events.
 */
export class HealthEvaluator {
  readonly #in: HealthInputs;
  readonly #startedAt: number;
  readonly #memory = new ScoreMemory();
  readonly #caches: CacheHitRatios;
  #stableSince: number | null = null;
  #report: HealthReport;

  /** Evaluates once, so a report exists from the start. */
  constructor(inputs: HealthInputs, now: number) {
    this.#in = inputs;
    this.#startedAt = now;
    this.#caches = new CacheHitRatios(inputs.config.interval * inputs.config.windowIntervals);
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
   * The latest evaluation with readiness, dependencies, breakers and shedding
   * as they are right now. Sections are rendered when `sections` is first
   * read, so callers that only want the score or the budgets do not pay for
   * them. Without `details`, dependency errors read `failing`.
   */
  live(details = true): HealthReport {
    const report = this.#report;
    const live = {
      ...report,
      sections: undefined as HealthReport['sections'],
      readiness: this.#in.readiness.at(report.score, details),
      dependencies: details ? this.#in.checks.statuses() : withoutDetails(this.#in.checks.statuses()),
      components: details ? report.components : withoutDependencyDetails(report.components),
      breakers: this.#in.breakers(),
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

    const memory = this.#memory;
    const inputs: ComponentInput[] = budgets.map((b, i) =>
      budgetComponent(b, config.budgets[i]?.maxSilence, now, memory),
    );
    const runtime = this.#in.runtime();
    if (runtime && config.runtime) inputs.push(...runtimeComponents(runtime, config.runtime));
    for (const check of this.#in.checks.values()) inputs.push(dependencyComponent(check.status));
    const breakers = this.#in.breakers();
    for (const b of breakers) inputs.push(breakerComponent(b));
    if (config.cacheScore) {
      inputs.push(...this.#caches.components(this.#in.caches(), now, config.cacheScore, memory));
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
      breakers,
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

function withoutDetails(statuses: readonly DependencyStatus[]): readonly DependencyStatus[] {
  return Object.freeze(statuses.map((s) => (s.ok ? s : Object.freeze({ ...s, error: 'failing' }))));
}

function withoutDependencyDetails(components: readonly ComponentScore[]): readonly ComponentScore[] {
  return Object.freeze(
    components.map((c) =>
      c.name.startsWith('dependency:') && c.detail !== 'ok' ? Object.freeze({ ...c, detail: 'failing' }) : c,
    ),
  );
}
