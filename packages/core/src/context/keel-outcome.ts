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

/**
 * The `keel_outcome` an adapter records for a request it saw close:
 * `cut_off` when it closed unanswered with a 5xx (graceful shutdown's
 * `unansweredStatus` once it has cut connections; a client that left is a
 * 499), the outcome a refusal marked on its context (`contexts.refuse`) when
 * the app answered it with a 5xx, else `''` (the app's own answer). Only a
 * 5xx reads the context, so the common answer costs one comparison.
 */
export function outcomeAtClose(
  status: number,
  answered: boolean,
  context: { readonly outcome: KeelOutcome | undefined } | undefined,
): KeelOutcome | '' {
  if (status < 500) return '';
  if (!answered) return 'cut_off';
  return context?.outcome ?? '';
}
