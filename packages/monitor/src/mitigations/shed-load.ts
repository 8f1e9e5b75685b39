import { httpBreached } from './http-breach.js';
import type { Mitigation } from './mitigation.js';

/**
 * Answers new requests 503 + Retry-After (probes and critical routes
 * excepted) through the adapters' load shedding, so the requests that are
 * let in are served in time.
 */
export function shedLoad(): Mitigation {
  return {
    name: 'shed-load',
    description: 'answer non-critical requests 503 + Retry-After',
    priority: 40,
    applicable: (ctx) =>
      !ctx.keel.shedder.shedding &&
      (httpBreached(ctx) || ctx.analysis.costs.some((c) => c.name.startsWith('runtime:'))),
    apply(ctx) {
      ctx.keel.shedder.force(`monitor: ${ctx.reason}`);
      return 'shedding non-critical requests';
    },
    rollback(ctx) {
      ctx.keel.shedder.force(undefined);
    },
  };
}
