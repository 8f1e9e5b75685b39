import type { OptimiseReport } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { createMonitor } from '../src/index.js';
import { describeReport } from '../src/optimise-link.js';
import { scenario } from './helpers.js';

const MIN = 60_000;

describe('the monitor and the optimisation loop', () => {
  it('asks for a capture when a latency incident opens, and puts the report in its timeline', async () => {
    const s = scenario({ optimise: { profileMs: 0 } });
    const { keel } = s;
    const monitor = createMonitor(keel, { schedule: false });
    const reasons: string[] = [];
    keel.optimiser!.on('capture', (c) => reasons.push(c.reason));
    await s.run(2 * MIN);
    s.dependencyMs = 800;
    for (let i = 0; i < 30 && !monitor.incidents.open; i++) await s.run(10_000);
    const incident = monitor.incidents.open!;
    expect(incident.triggers).toEqual(['api_latency']);
    expect(reasons[0]).toBe(`incident ${incident.id} opened: ${incident.title}`);
    // During the capture, requests whose queries @keel/pg would tally: an N+1 of 12 lookups each.
    keel.context.use();
    for (let i = 0; i < 20; i++) {
      const ctx = keel.context.create(undefined);
      for (let q = 0; q < 12; q++) ctx.profile!.query('select * from stock where sku = ?', 30);
      keel.recordRequest('GET', '/products', 200, 400, '', ctx);
    }
    await s.run(10_000);
    const note = incident.timeline.find((e) => e.kind === 'note' && e.detail.startsWith('optimise '));
    expect(note?.detail).toMatch(
      /^optimise opt-\d+ \(incident .+ opened: .+\): #1 N\+1: 12 identical queries per request on GET \/products .*; fix: N\+1: 12 identical queries per request \(select \* from stock where sku = \?\)/,
    );
    await monitor.close();
    await keel.close();
  });

  it('names the bottleneck most worth fixing and its fix in one line', () => {
    const report = {
      id: 'opt-1',
      reason: 'route /orders: p95 1400 ms',
      bottlenecks: [
        {
          kind: 'index',
          title: '250 ms per call, scanning orders',
          fix: 'CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id);',
          impact: { userSecondsPerMinute: 120, overshootShare: 1, trafficShare: 0.8 },
        },
        { kind: 'cache' },
      ],
    } as unknown as OptimiseReport;
    expect(describeReport(report)).toBe(
      'optimise opt-1 (route /orders: p95 1400 ms): #1 250 ms per call, scanning orders; fix: CREATE INDEX CONCURRENTLY orders_customer_id_idx ON orders (customer_id); (120 user-s/min); 1 more in opt-1',
    );
  });
});
