import type { CapacityChange, CostEstimate } from '../capacity/cost.js';
import type { Bottleneck, BottleneckCost, RouteBreakdown } from './optimise-report.js';

/** What pricing a fix needs from `keel.capacity` (MISSION.md §8: scaling advice states its cost). */
export interface CapacityPricer {
  readonly snapshot: { readonly eventLoopUtilization: number; readonly busyMsPerRequest: number | null };
  costOf(change: CapacityChange): CostEstimate;
}

/**
 * The capacity a fix adds or frees, priced:
 * - raising a pool's max adds connections on every instance (they cost, `cost.dbConnectionHourly`);
 * - a CPU hot spot's share of the samples, taken off the event loop's busy time, frees capacity;
 * - caching a route frees the event-loop time of the answers the cache would serve (at the
 *   instance's mean busy time per request: an estimate, and said to be one).
 * An index or an N+1 saves database time, not the app's capacity: no price.
 */
export function priceBottleneck(
  bottleneck: Bottleneck,
  pricer: CapacityPricer,
  routes: readonly RouteBreakdown[],
): BottleneckCost | null {
  const priced = (change: CapacityChange, estimate: boolean): BottleneckCost => {
    const c = pricer.costOf(change);
    return { monthly: c.monthly, currency: c.currency, text: estimate ? `about ${c.text}` : c.text };
  };
  const { snapshot } = pricer;
  switch (bottleneck.kind) {
    case 'pool': {
      const { from, to } = bottleneck.details;
      return to > from ? priced({ dbConnections: to - from }, false) : null;
    }
    case 'cpu': {
      const savedMsPerSecond = bottleneck.details.selfShare * snapshot.eventLoopUtilization * 1000;
      return savedMsPerSecond > 0 ? priced({ busyMsPerSecond: -savedMsPerSecond }, true) : null;
    }
    case 'cache': {
      const busy = snapshot.busyMsPerRequest;
      const { method, route, expectedHitRatio } = bottleneck.details;
      const breakdown = routes.find((r) => r.method === method && r.route === route);
      if (busy === null || !breakdown) return null;
      const saved = (breakdown.perMinute / 60) * expectedHitRatio * busy;
      return saved > 0 ? priced({ busyMsPerSecond: -saved }, true) : null;
    }
    default:
      return null;
  }
}
