import {
  isBoolean,
  isNonNegativeNumber,
  isPositiveInteger,
  object,
  read,
  readThresholds,
  type Thresholds,
} from '../option-readers.js';

/** How Keel's caches count in the health score. */
export interface CacheScoreOptions {
  /** Lookups a cache needs in the window before its hit ratio is judged. @default 100 */
  minLookups?: number;
  /**
   * The miss ratio (1 − hit ratio) over the window, 0..1, scored like the
   * runtime: 10 up to `ok`, 9 at `warn`, 7 at `bad`, 0 at `critical`.
   * @default { ok: 0.5, warn: 0.75, bad: 0.9, critical: 1 }
   */
  missRatio?: Partial<Thresholds>;
}

export interface HealthOptions {
  /** How long the score must stay >= 8 to be "stable", ms. @default 1800000 (30 min) */
  stabilityWindow?: number;
  /** `/readyz` answers 503 below this score. 0 disables it, so a fleet-wide slowdown cannot drain every instance. @default 0 */
  readinessMinScore?: number;
  /** Not ready until `keel.markStarted()` is called. @default false */
  manualStartup?: boolean;
  /**
   * A file Keel touches every interval. On start, the time since the last
   * touch (a crash or restart) counts as downtime in the availability budget.
   * @default none
   */
  heartbeatFile?: string;
  /**
   * Each cache made with `keel.cache` (response caches included) is a score
   * component `cache:<name>` once it has `minLookups` lookups in the window;
   * `false` leaves caches out of the score. @default on, see each field
   */
  cache?: CacheScoreOptions | false;
}

/** The health part of `KeelConfig`. */
export interface HealthConfig {
  readonly stabilityWindow: number;
  readonly readinessMinScore: number;
  readonly manualStartup: boolean;
  readonly heartbeatFile: string | undefined;
  /** `null` when caches are left out of the score. */
  readonly cacheScore: Readonly<{ minLookups: number; missRatio: Thresholds }> | null;
}

const KEYS: ReadonlySet<string> = new Set([
  'stabilityWindow',
  'readinessMinScore',
  'manualStartup',
  'heartbeatFile',
  'cache',
]);
const CACHE_KEYS: ReadonlySet<string> = new Set(['minLookups', 'missRatio']);

/** Validates `options.health`. */
export function resolveHealthOptions(value: unknown): HealthConfig {
  const o = object('health', value, KEYS);
  return {
    stabilityWindow: read(
      'health.stabilityWindow',
      o.stabilityWindow,
      30 * 60_000,
      isPositiveInteger,
      'must be an integer >= 1 (ms)',
    ),
    readinessMinScore: read(
      'health.readinessMinScore',
      o.readinessMinScore,
      0,
      (v) => isNonNegativeNumber(v) && (v as number) <= 10,
      'must be a number from 0 to 10',
    ),
    manualStartup: read('health.manualStartup', o.manualStartup, false, isBoolean, 'must be a boolean'),
    heartbeatFile: read<string | undefined>(
      'health.heartbeatFile',
      o.heartbeatFile,
      undefined,
      (v) => typeof v === 'string' && v.length > 0,
      'must be a file path',
    ),
    cacheScore: resolveCacheScore(o.cache),
  };
}

function resolveCacheScore(value: unknown): HealthConfig['cacheScore'] {
  if (value === false) return null;
  const o = object('health.cache', value, CACHE_KEYS);
  return Object.freeze({
    minLookups: read(
      'health.cache.minLookups',
      o.minLookups,
      100,
      isPositiveInteger,
      'must be an integer >= 1',
    ),
    missRatio: readThresholds('health.cache.missRatio', o.missRatio, {
      ok: 0.5,
      warn: 0.75,
      bad: 0.9,
      critical: 1,
    }),
  });
}
