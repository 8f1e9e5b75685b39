import type { CapacitySnapshot } from '@keel/core';
import { budgetBreached } from './http-breach.js';
import type { Mitigation } from './mitigation.js';

/**
 * What draining this instance takes from the fleet: its measured capacity, and
 * its traffic, which the other instances must absorb. The cost does not change:
 * the instance keeps running.
 */
function capacityLost(s: CapacitySnapshot): string {
  const rps = Math.round(s.rps * 10) / 10;
  if (s.rpsPerInstance === null)
    return `capacity lost: this instance's ${rps} req/s go to the other ${s.instances - 1} instance(s); its capacity is not measured yet; cost unchanged`;
  const lost = Math.round(s.rpsPerInstance * 10) / 10;
  const left = Math.round(s.rpsPerInstance * (s.instances - 1) * 10) / 10;
  return `capacity lost: ${lost} req/s of ${s.instances} instance(s)' ${Math.round(s.rpsPerInstance * s.instances * 10) / 10}, ${left} req/s left for ${Math.round(s.rps * s.instances * 10) / 10} req/s of traffic; cost unchanged (the instance keeps running)`;
}

/**
 * Turns `/readyz` 503 so the orchestrator stops routing here (and may replace
 * the instance). Opt-in: a fleet-wide cause would drain every instance at once.
 * Offered only while a budget is breached: draining an instance whose users
 * are served as promised takes capacity for nothing.
 */
export function readinessOff(): Mitigation {
  let release: (() => void) | undefined;
  return {
    name: 'readiness-off',
    description: 'turn readiness off so the load balancer drains this instance',
    priority: 80,
    applicable: (ctx) => release === undefined && budgetBreached(ctx.report),
    apply(ctx) {
      release = ctx.keel.holdReadiness(`monitor: ${ctx.reason}`);
      return `readiness off (${capacityLost(ctx.keel.capacity.snapshot)})`;
    },
    rollback() {
      release?.();
      release = undefined;
    },
  };
}
