import { describe, expect, it } from 'vitest';
import { createFakeClock, createKeel, KeelErrorCode, serverTiming } from '../src/index.js';
import type { RuntimeSnapshot } from '../src/runtime/runtime-sampler.js';

const runtime = (delay: number, heap = 0.5): RuntimeSnapshot => ({
  eventLoopDelayP99: delay,
  eventLoopDelayMax: delay,
  eventLoopUtilization: 0.5,
  heapUsedBytes: heap * 1000,
  heapLimitBytes: 1000,
  rssBytes: 1,
  gcPauseTotalMs: 0,
  sampledAt: 0,
});

describe('load shedding', () => {
  it('sheds while the event loop or heap is over its threshold, and stops after', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock(), shedding: { eventLoopDelay: 500 } });
    keel.shedder.update(runtime(100));
    expect(keel.shedder.shedding).toBe(false);
    keel.shedder.update(runtime(800));
    expect(keel.shedder.shedding).toBe(true);
    expect(keel.shedder.reason).toMatch(/event-loop delay p99 800 ms >= 500 ms/);
    keel.shedder.update(runtime(10, 0.99));
    expect(keel.shedder.reason).toMatch(/heap 99 %/);
    keel.shedder.update(runtime(10));
    expect(keel.shedder.shedding).toBe(false);
    await keel.close();
  });

  it('can be forced (by the monitor) even when pressure-based shedding is off', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock(), shedding: false });
    keel.shedder.update(runtime(5000));
    expect(keel.shedder.shedding).toBe(false);
    keel.shedder.force('monitor: shed load');
    expect(keel.shedder.shedding).toBe(true);
    expect(keel.evaluate().shedding).toEqual({
      active: true,
      reason: 'monitor: shed load',
      shed: 0,
      routes: null,
    });
    keel.shedder.force(undefined);
    expect(keel.shedder.shedding).toBe(false);
    expect(await keel.metrics()).toContain('keel_shedding 0');
    await keel.close();
  });

  it('can be forced for some routes only, which runtime pressure widens to every route', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock(), shedding: { eventLoopDelay: 500 } });
    keel.shedder.force('monitor: api_latency breached on /slow', ['/slow']);
    expect(keel.shedder.shedding).toBe(true);
    expect(keel.shedder.shedsRoute('/slow')).toBe(true);
    expect(keel.shedder.shedsRoute('/users/:id')).toBe(false);
    expect(keel.evaluate().shedding).toMatchObject({ active: true, routes: ['/slow'] });

    keel.shedder.update(runtime(800));
    expect(keel.shedder.routes).toBeNull();
    expect(keel.shedder.shedsRoute('/users/:id')).toBe(true);
    expect(keel.shedder.reason).toMatch(/event-loop delay/);

    keel.shedder.update(runtime(10));
    expect(keel.shedder.shedsRoute('/users/:id')).toBe(false);
    expect(keel.shedder.shedsRoute('/slow')).toBe(true);
    keel.shedder.force(undefined);
    expect(keel.shedder.shedding).toBe(false);
    expect(keel.shedder.shedsRoute('/slow')).toBe(false);
    await keel.close();
  });

  it('rejects bad shedding options', () => {
    expect(() => createKeel({ shedding: { heapUsedRatio: 2 } })).toThrowError(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });
});

describe('request context', () => {
  it('carries the deadline from the API budget through async work', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ runtime: false, clock });
    expect(keel.context.remainingMs()).toBeUndefined();
    const seen = await keel.context.run(keel.config.requestDeadline, async () => {
      await new Promise((r) => setImmediate(r));
      clock.advance(50);
      keel.context.addDbTime(12.34);
      keel.context.addCacheTime(0.5, true);
      return { remaining: keel.context.remainingMs(), context: keel.context.current()! };
    });
    expect(seen.remaining).toBe(150);
    expect(serverTiming(seen.context, 60)).toBe(
      'app;dur=60.0, db;dur=12.3;desc="1 queries", cache;dur=0.5;desc="1 hit, 0 miss"',
    );
    await keel.close();
  });

  it('writes Server-Timing durations with one decimal, as toFixed(1) does (away from exact halves)', () => {
    for (const ms of [0, 0.04, 0.06, 0.96, 9.96, 12.34, 123456.78, 2e9, 1e12]) {
      expect(serverTiming(undefined, ms)).toBe(`app;dur=${ms.toFixed(1)}`);
    }
    expect(serverTiming(undefined, 1.25, 'render;dur=3')).toBe('render;dur=3, app;dur=1.3');
  });

  it('has no deadline when turned off', async () => {
    const keel = createKeel({ runtime: false, clock: createFakeClock(), requestDeadline: false });
    expect(keel.context.run(keel.config.requestDeadline, () => keel.context.remainingMs())).toBeUndefined();
    await keel.close();
  });
});
