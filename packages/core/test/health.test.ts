import { describe, expect, it } from 'vitest';
import type { HealthChangeEvent } from '../src/index.js';
import { testKeel, traffic } from './helpers.js';

describe('health and stability', () => {
  it('a worse signal never raises the score of a running instance', () => {
    const scores: number[] = [];
    for (const slowShare of [0, 0.02, 0.04, 0.06, 0.1, 0.2, 0.5, 1]) {
      const { keel, step } = testKeel();
      traffic(keel, 2000, { slowShare });
      step(2);
      scores.push(keel.health().score);
    }
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeLessThanOrEqual(scores[i - 1]!);
    expect(scores[0]).toBeGreaterThanOrEqual(9);
    expect(scores.at(-1)).toBeLessThan(8);
  });

  it('becomes stable only after the stability window, and a break restarts it', () => {
    const { keel, step, clock } = testKeel({ health: { stabilityWindow: 60_000 } });
    const start = clock.now();
    traffic(keel, 200);
    step();
    expect(keel.health().healthy).toBe(true);
    expect(keel.health().stable).toBe(false);
    // Healthy (nothing to judge yet) from the first evaluation at start.
    expect(keel.health().stableSince).toBe(start);
    step(5);
    expect(keel.health().stable).toBe(true);

    traffic(keel, 2000, { slowShare: 0.5 });
    step(2);
    expect(keel.health().healthy).toBe(false);
    expect(keel.health().stable).toBe(false);
    expect(keel.health().stableSince).toBeNull();
  });

  it('emits health status changes', () => {
    const { keel, step } = testKeel();
    const events: HealthChangeEvent[] = [];
    keel.on('health', (e) => events.push(e));
    traffic(keel, 1000, { errorShare: 0.2 });
    step(2);
    expect(events.at(-1)).toMatchObject({ from: 'healthy', to: 'unhealthy' });
  });

  it('lists the routes that consumed the most time', () => {
    const { keel, step } = testKeel();
    traffic(keel, 100, { route: '/slow', fastMs: 500 });
    traffic(keel, 1000, { route: '/fast', fastMs: 2 });
    step();
    const http = keel.health().signals.find((s) => s.name === 'http.server.request.duration')!;
    expect(http.top.map((g) => g.group)).toEqual(['/slow', '/fast']);
    expect(http.top[0]!.p95).toBeCloseTo(500, -1);
    expect(http.samples).toBe(1100);
  });

  it('samples the real runtime off the request path', async () => {
    const { createKeel, createFakeClock } = await import('../src/index.js');
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: { sampleInterval: 100 } });
    // Block the loop for ~150 ms so the delay histogram sees it.
    // The delay monitor's own timer must be running before the block to see it.
    await new Promise((r) => setTimeout(r, 50));
    const until = Date.now() + 150;
    while (Date.now() < until) {}
    await new Promise((r) => setTimeout(r, 50));
    // One sample (each sample resets the delay histogram), then an evaluation that picks it up.
    clock.advance(100);
    const runtime = keel.evaluate().runtime!;
    expect(runtime.heapUsedBytes).toBeGreaterThan(0);
    expect(runtime.heapLimitBytes).toBeGreaterThan(runtime.heapUsedBytes);
    expect(runtime.rssBytes).toBeGreaterThan(0);
    expect(runtime.eventLoopDelayMax).toBeGreaterThan(100);
    expect(keel.health().components.map((c) => c.name)).toContain('runtime:event_loop_delay');
    await keel.close();
  });
});

describe('live parts of the report', () => {
  it('reports readiness and dependencies as they are now, not as of the last evaluation', async () => {
    const { keel } = testKeel();
    keel.addCheck({ name: 'db', check: () => true });
    await keel.runChecks();
    expect(keel.health().dependencies.map((d) => [d.name, d.ok])).toEqual([['db', true]]);
    keel.beginShutdown();
    expect(keel.health().readiness).toEqual({ ready: false, reasons: ['shutting down'] });
  });

  it('says once that a planned shutdown began, for listeners that must stand down', () => {
    const { keel } = testKeel();
    const seen: number[] = [];
    keel.on('shutdown', ({ at }) => seen.push(at));
    expect(keel.shuttingDown).toBe(false);
    keel.beginShutdown();
    keel.beginShutdown();
    expect(keel.shuttingDown).toBe(true);
    expect(seen).toEqual([keel.config.clock.now()]);
  });

  it('scores a breached latency budget by how far its percentile is over target', () => {
    const { keel, step } = testKeel();
    traffic(keel, 1000, { fastMs: 400 });
    step(2);
    const latency = keel.health().components.find((c) => c.name === 'budget:api_latency')!;
    // p95 at twice the target: 7.5 - 2.5 = 5, "degraded" rather than "down".
    expect(latency.score).toBeCloseTo(5, 1);
  });

  it('never counts an aborted request as an error, even when 4xx are errors', () => {
    const { keel, step } = testKeel({ http: { clientErrorsAreErrors: true } });
    for (let i = 0; i < 100; i++) keel.recordRequest('GET', '/', i < 10 ? 499 : 200, 5);
    step(2);
    expect(keel.health().budgets.find((b) => b.name === 'error_rate')!.value).toBe(0);
  });
});
