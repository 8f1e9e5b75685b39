import type { CircuitState, CircuitStats } from '../breaker/circuit-breaker.js';
import type { GaugeSample, MetricFamily } from './exposition.js';

const STATES: readonly CircuitState[] = ['closed', 'open', 'half_open'];

/**
 * A Keel's circuit breakers as metric families: three state series per
 * breaker (one of them 1), so the label set is bounded by the breakers the
 * app made, never by traffic. With no breakers there are none.
 */
export function breakerMetricFamilies(breakers: Iterable<{ stats(): CircuitStats }>): MetricFamily[] {
  const stats = Array.from(breakers, (breaker) => breaker.stats());
  if (stats.length === 0) return [];
  return [
    {
      name: 'keel_circuit_breaker_state',
      type: 'gauge',
      help: 'Circuit breaker state: 1 for the current state (closed, open, half_open), 0 for the others.',
      samples: stats.flatMap((s) =>
        STATES.map((state): GaugeSample => [{ breaker: s.name, state }, s.state === state ? 1 : 0]),
      ),
    },
    {
      name: 'keel_circuit_breaker_rejected_total',
      type: 'counter',
      help: 'Calls a circuit breaker turned away (or sent to the fallback) while open.',
      samples: stats.map((s): GaugeSample => [{ breaker: s.name }, s.rejected]),
    },
  ];
}
