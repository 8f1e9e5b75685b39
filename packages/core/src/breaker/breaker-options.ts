import { checkKnownKeys, invalidOptionOf, type KeelError } from '../errors.js';

export interface CircuitBreakerOptions {
  /** Names the breaker in `/health`, events and errors: 1-64 letters, digits, "_", "." or "-". */
  name: string;
  /**
   * Trip when at least this share of the calls in `window` failed (a rejection,
   * a throw, or — with `tripOnSlowCalls` — a slow call). @default 0.5
   */
  failureRatio?: number;
  /** Calls `window` must hold before the ratio is judged, so two failures of three do not trip it. @default 10 */
  minimumCalls?: number;
  /** Rolling window the ratios are counted over, ms. @default 60000 */
  window?: number;
  /** How long the circuit stays open before one probe call is let through (half-open), ms. @default 30000 */
  openFor?: number;
  /** Probe calls that must succeed in a row, in half-open, to close the circuit. @default 1 */
  probes?: number;
  /**
   * A call taking longer than this is counted slow: reported in `stats()` (which is
   * how the monitor spots a slow dependency) and, with `tripOnSlowCalls`, a failure.
   * @default the request deadline (`api_latency` target) of the Keel, else 1000
   */
  slowCallMs?: number;
  /** Count slow calls as failures for tripping. @default false */
  tripOnSlowCalls?: boolean;
  /**
   * Also trip after this many failed calls in a row, whatever the window
   * holds: a dependency that goes down under heavy traffic has thousands of
   * successes in its window, and the ratio alone would take as many failures
   * to trip. `undefined`: the ratio only. @default undefined
   */
  consecutiveFailures?: number;
}

export interface CircuitBreakerConfig {
  readonly name: string;
  readonly failureRatio: number;
  readonly minimumCalls: number;
  readonly window: number;
  readonly openFor: number;
  readonly probes: number;
  readonly slowCallMs: number;
  readonly tripOnSlowCalls: boolean;
  readonly consecutiveFailures: number | undefined;
}

const NAME = /^[\w.-]{1,64}$/;
const KEYS: ReadonlySet<string> = new Set([
  'name',
  'failureRatio',
  'minimumCalls',
  'window',
  'openFor',
  'probes',
  'slowCallMs',
  'tripOnSlowCalls',
  'consecutiveFailures',
]);

/** Validates a breaker's options and applies the defaults; the result is frozen. */
export function resolveBreakerOptions(
  options: CircuitBreakerOptions,
  defaultSlowCallMs: number,
): CircuitBreakerConfig {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw invalid('', 'must be an object with `name`', options);
  checkKnownKeys(options, KEYS, invalid);
  if (typeof options.name !== 'string' || !NAME.test(options.name))
    throw invalid('name', 'must be 1-64 letters, digits, "_", "." or "-"', options.name);
  const ratio = options.failureRatio ?? 0.5;
  if (!(typeof ratio === 'number' && ratio > 0 && ratio <= 1))
    throw invalid('failureRatio', 'must be in (0, 1]', ratio);
  const positive = (key: keyof CircuitBreakerOptions, value: unknown, fallback: number) => {
    const v = value ?? fallback;
    if (!(Number.isSafeInteger(v) && (v as number) > 0)) throw invalid(key, 'must be a positive integer', v);
    return v as number;
  };
  const slowCallMs = options.slowCallMs ?? defaultSlowCallMs;
  if (!(Number.isFinite(slowCallMs) && slowCallMs >= 0))
    throw invalid('slowCallMs', 'must be a number >= 0', slowCallMs);
  if (options.tripOnSlowCalls !== undefined && typeof options.tripOnSlowCalls !== 'boolean')
    throw invalid('tripOnSlowCalls', 'must be a boolean', options.tripOnSlowCalls);
  return Object.freeze({
    name: options.name,
    failureRatio: ratio,
    minimumCalls: positive('minimumCalls', options.minimumCalls, 10),
    window: positive('window', options.window, 60_000),
    openFor: positive('openFor', options.openFor, 30_000),
    probes: positive('probes', options.probes, 1),
    slowCallMs,
    tripOnSlowCalls: options.tripOnSlowCalls === true,
    consecutiveFailures:
      options.consecutiveFailures === undefined
        ? undefined
        : positive('consecutiveFailures', options.consecutiveFailures, 1),
  });
}

function invalid(option: string, rule: string, got: unknown): KeelError {
  return invalidOptionOf('keel.breaker', option || 'options', rule, got);
}
