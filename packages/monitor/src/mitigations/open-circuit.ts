import type { Keel } from '@keel/core';
import { checkFactoryOptions, type Mitigation } from './mitigation.js';

export interface OpenCircuitOptions {
  /** Only these breakers (by name). @default every breaker of the Keel (`keel.breaker`) */
  breakers?: string[];
  /** Calls a breaker's window must hold before it is judged. @default 5 */
  minimumCalls?: number;
  /** Open a breaker whose share of slow calls (over its `slowCallMs`) is at least this. @default 0.2 */
  slowCallRatio?: number;
  /** ... or whose share of failed calls is at least this. @default 0.2 */
  failureRatio?: number;
}

/**
 * Opens the circuit to each dependency that is slow or failing (judged from
 * its breaker's window), so requests take the fallback instead of waiting.
 * Rolling back releases it: the breaker probes half-open and closes once the
 * dependency answers.
 */
export function openCircuit(options: OpenCircuitOptions = {}): Mitigation {
  checkFactoryOptions('openCircuit', options, ['breakers', 'minimumCalls', 'slowCallRatio', 'failureRatio']);
  const minimumCalls = options.minimumCalls ?? 5;
  const slow = options.slowCallRatio ?? 0.2;
  const failing = options.failureRatio ?? 0.2;
  const suspects = (keel: Keel) =>
    keel.breakers.filter((b) => {
      if (options.breakers && !options.breakers.includes(b.name)) return false;
      const s = b.stats();
      if (s.state === 'open' || s.calls < minimumCalls) return false;
      return (s.slowCallRatio ?? 0) >= slow || (s.failureRatio ?? 0) >= failing;
    });
  let opened: ReturnType<typeof suspects> = [];
  return {
    name: 'open-circuit',
    description: 'open the circuit to slow or failing dependencies (callers get the fallback)',
    priority: 20,
    unavailable(keel) {
      const named = keel.breakers.filter((b) => !options.breakers || options.breakers.includes(b.name));
      if (named.length === 0)
        return options.breakers
          ? `none of the breakers ${options.breakers.join(', ')} exists`
          : 'no breaker registered';
      return null;
    },
    applicable: (ctx) => suspects(ctx.keel).length > 0,
    apply(ctx) {
      opened = suspects(ctx.keel);
      const detail = opened.map((b) => {
        const s = b.stats();
        return `${b.name} (${Math.round((s.slowCallRatio ?? 0) * 100)} % slow, ${Math.round((s.failureRatio ?? 0) * 100)} % failed)`;
      });
      for (const b of opened) b.forceOpen(`monitor: ${ctx.reason}`);
      return `opened ${detail.join(', ')}`;
    },
    rollback() {
      for (const b of opened) b.release();
      opened = [];
    },
  };
}
