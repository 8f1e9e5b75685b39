import type { CircuitState, CircuitStats } from '../breaker/circuit-breaker.js';
import type { BudgetSnapshot } from '../budgets/budget.js';
import type { RuntimeConfig } from '../runtime/runtime-options.js';
import type { RuntimeSnapshot } from '../runtime/runtime-sampler.js';
import type { DependencyStatus } from './checks.js';
import { round } from './report.js';
import { budgetScore, thresholdScore } from './score.js';

// The score's components, one builder per kind of input. Each returns the
// component's name, its score (0..10) and the detail `/health` shows.

export interface ComponentInput {
  readonly name: string;
  readonly score: number;
  readonly detail: string;
}

/** What a budget silent for longer than its `maxSilence` scores at most: a fault, like a failing dependency. */
export const SILENCE_SCORE = 7;

/**
 * A circuit breaker's score by state: tripped open is a fault like a failing
 * dependency (7); half-open is recovering (8). Held open on purpose
 * (`forceOpen`, the monitor's mitigation) it scores 8: degraded by choice,
 * visible in the score, while the budgets measure what users get through
 * the fallback. Scoring it as a fault would make every circuit-opening
 * mitigation look like a failure, and the instance could never turn stable
 * enough for the monitor to try releasing it.
 */
export const BREAKER_SCORES: Readonly<Record<CircuitState | 'forced_open', number>> = Object.freeze({
  closed: 10,
  half_open: 8,
  forced_open: 8,
  open: 7,
});

/**
 * The last score each component had while it had data. A component that
 * loses its data (traffic stopped, too few samples) keeps that score, so
 * losing traffic never raises the score. Holds one number per budget and
 * per cache: bounded by configuration, not traffic.
 */
export class ScoreMemory {
  readonly #scores = new Map<string, number>();

  /** Remembers `score` as `name`'s latest score with data, and returns it. */
  keep(name: string, score: number): number {
    this.#scores.set(name, score);
    return score;
  }

  /** `name`'s latest score with data, or `undefined` if it never had data. */
  last(name: string): number | undefined {
    return this.#scores.get(name);
  }
}

/**
 * A budget's component. With data it is scored from its state; without, it
 * keeps its last score with data (10 if it never had any: nothing to judge),
 * and once silent for `maxSilence` it scores at most `SILENCE_SCORE`.
 */
export function budgetComponent(
  b: BudgetSnapshot,
  maxSilence: number | undefined,
  now: number,
  memory: ScoreMemory,
): ComponentInput {
  const name = `budget:${b.name}`;
  if (b.errorBudgetUsed !== null) {
    const detail =
      b.value === null ? `${b.state}` : `${b.state}: ${round(b.value)} ${b.unit} vs ${b.target} ${b.unit}`;
    return { name, score: memory.keep(name, budgetScore(b)), detail };
  }
  const held = memory.last(name);
  if (held === undefined || b.lastSampleAt === null) return { name, score: 10, detail: 'no_data' };
  const silent = now - b.lastSampleAt;
  if (maxSilence !== undefined && silent >= maxSilence) {
    return {
      name,
      score: Math.min(held, SILENCE_SCORE),
      detail: `no_data for ${seconds(silent)}, longer than maxSilence (${seconds(maxSilence)}): a fault`,
    };
  }
  return { name, score: held, detail: `no_data for ${seconds(silent)}: keeps its last score with data` };
}

/** A dependency check's component: passing or not yet checked 10, failing 7, or 4 when critical. */
export function dependencyComponent(s: DependencyStatus): ComponentInput {
  const score = s.checkedAt === null || s.ok ? 10 : s.critical ? 4 : 7;
  return { name: `dependency:${s.name}`, score, detail: s.ok ? 'ok' : (s.error ?? 'failing') };
}

/** A circuit breaker's component, from its state (`BREAKER_SCORES`). */
export function breakerComponent(b: CircuitStats): ComponentInput {
  const forced = b.forced ? ' (forced)' : '';
  return {
    name: `breaker:${b.name}`,
    score: BREAKER_SCORES[b.forced && b.state !== 'closed' ? 'forced_open' : b.state],
    detail: b.state === 'closed' ? 'closed' : `${b.state}${forced}${b.reason ? `: ${b.reason}` : ''}`,
  };
}

/** Event-loop delay, event-loop utilisation and heap, each against its thresholds. */
export function runtimeComponents(r: RuntimeSnapshot, t: RuntimeConfig): ComponentInput[] {
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

function seconds(ms: number): string {
  return `${Math.round(ms / 1000)} s`;
}
