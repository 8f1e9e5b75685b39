import type { CircuitState, CircuitStats } from '../breaker/circuit-breaker.js';
import { type GaugeSample, renderMetric } from './exposition.js';

const STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

/**
 * Prometheus text for a Keel's circuit breakers: three state series per
 * breaker (one of them 1), so the label set is bounded by the breakers the
 * app made, never by traffic. With no breakers it writes nothing.
 */
export function renderBreakerMetrics(breakers: Iterable<{ stats(): CircuitStats }>): string {
  const stats = Array.from(breakers, (breaker) => breaker.stats());
  if (stats.length === 0) return '';
  return (
    renderMetric(
      'keel_circuit_breaker_state',
      'gauge',
      'Circuit breaker state: 1 for the current state (closed, open, half_open), 0 for the others.',
      stats.flatMap((s) =>
        STATES.map((state): GaugeSample => [{ breaker: s.name, state }, s.state === state ? 1 : 0]),
      ),
    ) +
    renderMetric(
      'keel_circuit_breaker_rejected_total',
      'counter',
      'Calls a circuit breaker turned away (or sent to the fallback) while open.',
      stats.map((s): GaugeSample => [{ breaker: s.name }, s.rejected]),
    )
  );
}
