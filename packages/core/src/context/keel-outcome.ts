/**
 * Why Keel, not the app, answered a request; the HTTP signal's
 * `keel_outcome` label, so dashboards and the monitor can tell refusals
 * from the app's own answers.
 * - `shed`: load shedding (503 + Retry-After);
 * - `circuit_open`: an open circuit breaker refused the call the answer needed;
 * - `not_ready`: the instance is not ready (starting, draining) and said so;
 * - `cut_off`: graceful shutdown cut the request at its drain timeout.
 */
export type KeelOutcome = 'shed' | 'circuit_open' | 'not_ready' | 'cut_off';

/** Every `KeelOutcome`, for code that splits recorded requests by it. */
export const KEEL_OUTCOMES: readonly KeelOutcome[] = Object.freeze([
  'shed',
  'circuit_open',
  'not_ready',
  'cut_off',
]);
