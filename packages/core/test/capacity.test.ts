import { describe, expect, it } from 'vitest';
import { Capacity } from '../src/capacity/capacity.js';
import { CapacityModel, type CapacityReadings } from '../src/capacity/capacity-model.js';
import { createFakeClock, createKeel, KeelErrorCode } from '../src/index.js';
import { testKeel } from './helpers.js';

/** Readings a test sets by hand: cumulative CPU µs, event-loop busy ms, requests, per-route counts. */
function fakeReadings() {
  const r = { cpuMicros: 0, busyMs: 0, requests: 0, routes: [] as { route: string; requests: number }[] };
  const readings: CapacityReadings = {
    cpuMicros: () => r.cpuMicros,
    busyMs: () => r.busyMs,
    requests: () => r.requests,
    routes: () => r.routes,
  };
  return { r, readings };
}

describe('the capacity model', () => {
  it('derives cost per request and requests per second per instance at known points', () => {
    const clock = createFakeClock();
    const { r, readings } = fakeReadings();
    const model = new CapacityModel(
      { targetUtilization: 0.7, cpus: 1, windowIntervals: 3, minRequests: 10 },
      4,
      readings,
      clock.now(),
    );
    expect(model.snapshot.rpsPerInstance).toBeNull();
    // 10 s: 1000 requests, 2 s of event-loop time, 3 s of CPU (GC threads too).
    clock.advance(10_000);
    r.requests = 1000;
    r.busyMs = 2000;
    r.cpuMicros = 3_000_000;
    const s = model.update(clock.now());
    expect(s.seconds).toBe(10);
    expect(s.rps).toBe(100);
    expect(s.busyMsPerRequest).toBe(2);
    expect(s.cpuMsPerRequest).toBe(3);
    expect(s.eventLoopUtilization).toBe(0.2);
    expect(s.cpuCores).toBe(0.3);
    // Event loop: 0.7 × 1000 / 2 = 350 req/s; one core of CPU: 0.7 × 1000 / 3 = 233.3: CPU runs out first.
    expect(s.rpsPerInstance).toBeCloseTo(233.333, 3);
    expect(s.limitedBy).toBe('cpu');
    expect(s.headroomRps).toBeCloseTo(133.333, 3);
    // 4 instances × 100 req/s = 400 req/s, at 233.3 each: 2 instances.
    expect(s.instancesNeeded).toBe(2);
  });

  it('keeps only the last window of intervals, in fixed arrays', () => {
    const clock = createFakeClock();
    const { r, readings } = fakeReadings();
    const model = new CapacityModel(
      { targetUtilization: 0.5, cpus: 2, windowIntervals: 2, minRequests: 1 },
      1,
      readings,
      clock.now(),
    );
    // Interval 1: expensive requests; intervals 2 and 3: cheap ones. The window holds the last two.
    for (const [requests, busy] of [
      [10, 500],
      [100, 100],
      [100, 100],
    ] as const) {
      clock.advance(1000);
      r.requests += requests;
      r.busyMs += busy;
      r.cpuMicros += busy * 1000;
      model.update(clock.now());
    }
    const s = model.snapshot;
    expect(s.requests).toBe(200);
    expect(s.seconds).toBe(2);
    expect(s.busyMsPerRequest).toBe(1);
    // Loop: 0.5 × 1000 / 1 = 500; CPU: 2 cores × 0.5 × 1000 / 1 = 1000: the loop runs out first.
    expect(s.rpsPerInstance).toBe(500);
    expect(s.limitedBy).toBe('event_loop');
    expect(s.instancesNeeded).toBe(1);
  });

  it('says nothing per request below minSamples, and lists the busiest routes', () => {
    const clock = createFakeClock();
    const { r, readings } = fakeReadings();
    const model = new CapacityModel(
      { targetUtilization: 0.7, cpus: 1, windowIntervals: 5, minRequests: 50 },
      1,
      readings,
      clock.now(),
    );
    clock.advance(1000);
    r.requests = 40;
    r.busyMs = 100;
    r.routes = [
      { route: '/a', requests: 30 },
      { route: '/b', requests: 10 },
    ];
    const s = model.update(clock.now());
    expect(s.busyMsPerRequest).toBeNull();
    expect(s.rpsPerInstance).toBeNull();
    expect(s.instancesNeeded).toBeNull();
    expect(s.routes).toEqual([
      { route: '/a', requests: 30, rps: 30, share: 0.75 },
      { route: '/b', requests: 10, rps: 10, share: 0.25 },
    ]);
  });
});

describe('costOf', () => {
  const snapshot = () => {
    const clock = createFakeClock();
    const { r, readings } = fakeReadings();
    const model = new CapacityModel(
      { targetUtilization: 0.5, cpus: 1, windowIntervals: 3, minRequests: 1 },
      3,
      readings,
      clock.now(),
    );
    clock.advance(10_000);
    r.requests = 1000;
    r.busyMs = 1000;
    r.cpuMicros = 1_000_000;
    model.update(clock.now());
    // 1 ms per request at 50 %: 500 req/s per instance; 3 instances.
    return model;
  };

  it('prices instances, connections and work, monthly, and says what capacity they buy', () => {
    const cost = { instanceHourly: 0.1, currency: 'USD', dbConnectionHourly: 0.01, instances: 3 };
    const capacity = new Capacity({ targetUtilization: 0.5, cpus: 1 }, cost, snapshot());
    const one = capacity.costOf({ instances: 1 });
    expect(one.monthly).toBeCloseTo(73, 9);
    expect(one.rps).toBe(500);
    expect(one.text).toBe('+1 instance: +73.00 USD/month, +500 req/s');
    // A pool max raised from 10 to 20 on each of 3 instances: 30 connections × 0.01 × 730.
    const pool = capacity.costOf({ dbConnections: 10 });
    expect(pool.dbConnections).toBe(30);
    expect(pool.monthly).toBeCloseTo(219, 9);
    expect(pool.text).toBe(
      '+10 connections per instance (×3 instances): +219.00 USD/month, +30 connections in total',
    );
    // Work saved: 100 ms/s of event loop on each of 3 instances = 0.6 instance at 50 %.
    const saved = capacity.costOf({ busyMsPerSecond: -100 });
    expect(saved.instances).toBeCloseTo(0.6, 9);
    expect(saved.monthly).toBeCloseTo(-0.6 * 73, 9);
    expect(saved.rps).toBeCloseTo(300, 9);
    const removed = capacity.costOf({ instances: -1 });
    expect(removed.text).toBe('-1 instance: -73.00 USD/month, -500 req/s');
  });

  it('still states the capacity without prices, and refuses a malformed change', () => {
    const capacity = new Capacity({ targetUtilization: 0.5, cpus: 1 }, null, snapshot());
    const one = capacity.costOf({ instances: 2 });
    expect(one.monthly).toBeNull();
    expect(one.text).toBe('+2 instances: cost not configured (`cost` option), +1000 req/s');
    for (const bad of [{ instance: 1 }, { instances: Number.NaN }, null])
      expect(() => capacity.costOf(bad as never)).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
  });
});

describe('cost and capacity options', () => {
  it('validates cost: required price and currency, positive instances', () => {
    for (const cost of [
      { currency: 'USD' },
      { instanceHourly: 0.1 },
      { instanceHourly: -1, currency: 'USD' },
      { instanceHourly: 0.1, currency: 'US D' },
      { instanceHourly: 0.1, currency: 'USD', instances: 0 },
      { instanceHourly: 0.1, currency: 'USD', spot: true },
    ])
      expect(() => createKeel({ runtime: false, cost: cost as never })).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    for (const capacity of [{ targetUtilization: 0 }, { targetUtilization: 1.5 }, { cpus: 0 }])
      expect(() => createKeel({ runtime: false, capacity })).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    const { keel } = testKeel({ cost: { instanceHourly: 0.25, currency: 'EUR' } });
    expect(keel.config.cost).toEqual({
      instanceHourly: 0.25,
      currency: 'EUR',
      dbConnectionHourly: 0,
      instances: 1,
    });
    expect(keel.config.capacity).toEqual({ targetUtilization: 0.7, cpus: 1 });
  });

  it('puts a capacity section in /health, measured from the process once per interval', () => {
    const { keel, step } = testKeel({
      cost: { instanceHourly: 0.1, currency: 'USD', instances: 2 },
      minSamples: 5,
    });
    for (let i = 0; i < 50; i++) keel.recordRequest('GET', '/a', 200, 5);
    step();
    const section = keel.health().sections!.capacity as ReturnType<Capacity['json']>;
    expect(section.requests).toBe(50);
    expect(section.rps).toBe(5);
    expect(section.instances).toBe(2);
    expect(section.cost).toMatchObject({ currency: 'USD', monthlyNow: 146 });
    expect(section.routes).toEqual([{ route: '/a', requests: 50, rps: 5, share: 1 }]);
    expect(typeof section.advice).toBe('string');
  });
});
