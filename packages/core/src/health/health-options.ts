import { isBoolean, isNonNegativeNumber, isPositiveInteger, object, read } from '../option-readers.js';

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
}

/** The health part of `KeelConfig`. */
export interface HealthConfig {
  readonly stabilityWindow: number;
  readonly readinessMinScore: number;
  readonly manualStartup: boolean;
  readonly heartbeatFile: string | undefined;
}

const KEYS: ReadonlySet<string> = new Set([
  'stabilityWindow',
  'readinessMinScore',
  'manualStartup',
  'heartbeatFile',
]);

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
  };
}
