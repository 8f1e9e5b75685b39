import type { CacheStats } from '../cache/cache.js';
import type { ComponentInput, ScoreMemory } from './components.js';
import type { HealthConfig } from './health-options.js';
import { round } from './report.js';
import { thresholdScore } from './score.js';

interface Counts {
  readonly at: number;
  readonly served: number;
  readonly misses: number;
}

/**
 * Scores each cache by its hit ratio over the health window, not since it was
 * made: a cache's counters only grow, so each evaluation keeps them and the
 * window's ratio is the difference to the counters a window ago. Runs once
 * per evaluation, off the request path; keeps at most one entry per
 * evaluation in the window per cache.
 */
export class CacheHitRatios {
  readonly #windowMs: number;
  readonly #history = new Map<string, Counts[]>();

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /**
   * A `cache:<name>` component per cache with at least `minLookups` lookups
   * in the window, scored on its miss ratio. A cache that falls below it
   * after being judged keeps its last score (`memory`); one never judged has
   * no component.
   */
  components(
    caches: readonly CacheStats[],
    now: number,
    config: NonNullable<HealthConfig['cacheScore']>,
    memory: ScoreMemory,
  ): ComponentInput[] {
    const components: ComponentInput[] = [];
    for (const stats of caches) {
      const name = `cache:${stats.name}`;
      const { served, misses } = this.#window(stats, now);
      const lookups = served + misses;
      if (lookups >= config.minLookups) {
        const score = thresholdScore(misses / lookups, config.missRatio);
        const detail = `hit ratio ${round((served / lookups) * 100)} % of ${lookups} lookups`;
        components.push({ name, score: memory.keep(name, score), detail });
        continue;
      }
      const held = memory.last(name);
      if (held !== undefined) {
        const detail = `${lookups} lookups, fewer than ${config.minLookups}: keeps its last score`;
        components.push({ name, score: held, detail });
      }
    }
    return components;
  }

  /** Hits (fresh or stale) and misses of one cache within the window ending at `now`. */
  #window(stats: CacheStats, now: number): { served: number; misses: number } {
    const current: Counts = { at: now, served: stats.hits + stats.stale, misses: stats.misses };
    let history = this.#history.get(stats.name);
    if (history === undefined) {
      history = [];
      this.#history.set(stats.name, history);
    }
    // The newest counters at least a window old are the baseline; older ones are no longer needed.
    // A cache first seen inside the window started from zero, within one evaluation of being seen.
    const start = now - this.#windowMs;
    let base = -1;
    for (let i = 0; i < history.length && history[i]!.at <= start; i++) base = i;
    if (base > 0) history.splice(0, base);
    const baseline = base >= 0 ? history[0]! : undefined;
    history.push(current);
    return {
      served: current.served - (baseline?.served ?? 0),
      misses: current.misses - (baseline?.misses ?? 0),
    };
  }
}
