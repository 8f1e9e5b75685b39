import type { Mitigation } from './mitigation.js';

/**
 * Turns `/readyz` 503 so the orchestrator stops routing here (and may replace
 * the instance). Opt-in: a fleet-wide cause would drain every instance at once.
 */
export function readinessOff(): Mitigation {
  let release: (() => void) | undefined;
  return {
    name: 'readiness-off',
    description: 'turn readiness off so the load balancer drains this instance',
    priority: 80,
    applicable: () => release === undefined,
    apply(ctx) {
      release = ctx.keel.holdReadiness(`monitor: ${ctx.reason}`);
      return 'readiness off';
    },
    rollback() {
      release?.();
      release = undefined;
    },
  };
}
