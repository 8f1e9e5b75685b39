import { describe, expect, it } from 'vitest';
import { testKeel, traffic } from './helpers.js';

describe('instances', () => {
  it('two instances in one process do not interfere', async () => {
    const a = testKeel({ service: 'a' });
    const b = testKeel({ service: 'b' });
    traffic(a.keel, 1000, { slowShare: 0.5 });
    traffic(b.keel, 1000);
    a.step(2);
    b.step(2);
    expect(a.keel.health().budgets.find((x) => x.name === 'api_latency')!.state).toBe('breached');
    expect(b.keel.health().budgets.find((x) => x.name === 'api_latency')!.state).toBe('ok');
    expect(a.keel.registry).not.toBe(b.keel.registry);
    a.keel.registry.registerMetric(
      new (await import('prom-client')).Gauge({ name: 'only_in_a', help: 'x', registers: [] }),
    );
    expect(await a.keel.metrics()).toContain('only_in_a');
    expect(await b.keel.metrics()).not.toContain('only_in_a');
    expect(await b.keel.metrics()).not.toContain(
      '/api/users/:id",http_response_status_code="200",le="0.25"} 0',
    );
    await a.keel.close();
    expect(b.keel.closed).toBe(false);
    await b.keel.close();
  });

  it('close() is idempotent and stops the background tick', async () => {
    const { keel, clock } = testKeel();
    expect(clock.pending()).toBeGreaterThan(0);
    await keel.close();
    await keel.close();
    expect(clock.pending()).toBe(0);
  });
});
