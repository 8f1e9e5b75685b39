import { describe, expect, it } from 'vitest';
import type { CapacityChange, CostEstimate } from '../src/index.js';
import { type CapacityPricer, priceBottleneck } from '../src/optimise/bottleneck-cost.js';
import type { Bottleneck, RouteBreakdown } from '../src/optimise/optimise-report.js';

/** A pricer that states the change it was asked to price, so each case reads off what was asked. */
function pricer(snapshot: CapacityPricer['snapshot']): CapacityPricer & { asked: CapacityChange[] } {
  const asked: CapacityChange[] = [];
  return {
    asked,
    snapshot,
    costOf(change): CostEstimate {
      asked.push(change);
      return {
        currency: 'USD',
        hourly: 0,
        monthly: -1,
        instances: 0,
        rps: null,
        dbConnections: 0,
        text: JSON.stringify(change),
      };
    },
  };
}

const base = {
  rank: 1,
  score: 1,
  route: 'GET /api/catalog',
  impact: { userSecondsPerMinute: 10, overshootShare: null, trafficShare: 1 },
  expectedGain: null,
  title: 't',
  fix: 'f',
};
const catalog = { method: 'GET', route: '/api/catalog', perMinute: 600 } as RouteBreakdown;

describe('what a fix costs or saves in capacity', () => {
  it('prices the connections a bigger pool adds on every instance', () => {
    const p = pricer({ eventLoopUtilization: 0.5, busyMsPerRequest: 2 });
    const pool = {
      ...base,
      kind: 'pool',
      effort: 'pool',
      details: { from: 10, to: 16 },
    } as unknown as Bottleneck;
    expect(priceBottleneck(pool, p, [])?.text).toBe('{"dbConnections":6}');
    const full = {
      ...base,
      kind: 'pool',
      effort: 'pool',
      details: { from: 10, to: 10 },
    } as unknown as Bottleneck;
    expect(priceBottleneck(full, p, [])).toBeNull();
  });

  it('frees a CPU hot spot’s share of the busy event loop: 30 % of samples at 50 % busy is 150 ms/s', () => {
    const p = pricer({ eventLoopUtilization: 0.5, busyMsPerRequest: 2 });
    const cpu = {
      ...base,
      kind: 'cpu',
      effort: 'code',
      details: { selfShare: 0.3 },
    } as unknown as Bottleneck;
    expect(priceBottleneck(cpu, p, [])?.text).toBe('about {"busyMsPerSecond":-150}');
  });

  it('frees the event-loop time of the answers a cache would serve: 10 req/s × 80 % × 2 ms is 16 ms/s', () => {
    const p = pricer({ eventLoopUtilization: 0.5, busyMsPerRequest: 2 });
    const cache = {
      ...base,
      kind: 'cache',
      effort: 'cache',
      details: { method: 'GET', route: '/api/catalog', expectedHitRatio: 0.8 },
    } as unknown as Bottleneck;
    expect(priceBottleneck(cache, p, [catalog])?.text).toBe('about {"busyMsPerSecond":-16}');
    // Before capacity has measured a cost per request there is nothing to price.
    expect(
      priceBottleneck(cache, pricer({ eventLoopUtilization: 0, busyMsPerRequest: null }), [catalog]),
    ).toBeNull();
  });

  it('gives an index or an N+1 no price: they save database time, not the app’s capacity', () => {
    const p = pricer({ eventLoopUtilization: 0.5, busyMsPerRequest: 2 });
    for (const kind of ['index', 'n-plus-one'] as const)
      expect(
        priceBottleneck({ ...base, kind, effort: 'index', details: {} } as unknown as Bottleneck, p, []),
      ).toBeNull();
    expect(p.asked).toEqual([]);
  });
});
