import { httpBreached } from './http-breach.js';
import type { Mitigation } from './mitigation.js';

/**
 * Answers new requests 503 + Retry-After through the adapters' load
 * shedding (probes and critical routes excepted), so the requests that are
 * let in are served in time. Offered only while an HTTP budget is breached:
 * refusing users is a cost, paid only when users are already hurt. A busy
 * event loop while every request is served within budget (a load test, a
 * batch) sheds nothing. Scoped to the routes in breach (`analysis.scope`):
 * the rest of the app keeps being served and measured; app-wide only when
 * the breach cannot be pinned to routes.
 */
export function shedLoad(): Mitigation {
  return {
    name: 'shed-load',
    description: 'answer non-critical requests 503 + Retry-After',
    priority: 40,
    applicable: (ctx) => !ctx.keel.shedder.shedding && httpBreached(ctx),
    apply(ctx) {
      // Only what is in breach: one slow route must not shut the whole app.
      const { routes, why } = ctx.analysis.scope;
      if (routes && routes.length > 0) {
        ctx.keel.shedder.force(`monitor: ${ctx.reason}`, routes);
        return `shedding ${routes.join(', ')} (${why}); other routes are served`;
      }
      ctx.keel.shedder.force(`monitor: ${ctx.reason}`);
      return `shedding every non-critical route (${why})`;
    },
    rollback(ctx) {
      ctx.keel.shedder.force(undefined);
    },
  };
}
