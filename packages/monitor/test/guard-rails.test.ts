import { createFakeClock, createKeel, KeelErrorCode } from '@keel/core';
import { describe, expect, it } from 'vitest';
import {
  createMonitor,
  gracefulRestart,
  type Mitigation,
  openCircuit,
  recyclePool,
  resizePool,
  serveStale,
} from '../src/index.js';

const MIN = 60_000;

/** An app whose latency is 900 ms until `fixed` is set; one tick of traffic per interval. */
function app(options: Parameters<typeof createMonitor>[1] = {}) {
  const clock = createFakeClock();
  const keel = createKeel({ clock, runtime: false, onError: () => {} });
  const state = { fixed: false };
  const monitor = createMonitor(keel, {
    schedule: false,
    builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
    ...options,
  });
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += keel.config.interval) {
      for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, state.fixed ? 10 : 900);
      await clock.advanceAsync(keel.config.interval);
    }
  };
  return { clock, keel, monitor, state, run };
}

const noop = (
  name: string,
  priority = 50,
  extra: Partial<Mitigation> = {},
): Mitigation & { applied: number } => {
  const m = {
    name,
    priority,
    applied: 0,
    apply() {
      m.applied++;
    },
    rollback() {},
    ...extra,
  };
  return m;
};

describe('guard rails', () => {
  it('dry run only recommends: nothing is applied', async () => {
    const fix = noop('fix');
    const { monitor, run } = app({ dryRun: true, mitigations: [fix] });
    await run(2 * MIN);
    await monitor.settled();
    expect(fix.applied).toBe(0);
    expect(monitor.lastCycle).toMatchObject({ outcome: 'recommended', recommendation: 'fix' });
    expect(monitor.steps().find((s) => s.kind === 'recommend')?.detail).toContain('would apply fix');
    expect(monitor.status().dryRun).toBe(true);
  });

  it('user mitigations register the same way; priority orders them; one action in flight', async () => {
    const order: string[] = [];
    const first = noop('first', 1, { apply: () => void order.push('first') });
    const second = noop('second', 2, { apply: () => void order.push('second') });
    const { monitor, run, state } = app({ mitigations: [second], validateAfter: 2 * MIN });
    monitor.register(first);
    expect(() => monitor.register(noop('first'))).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(() => monitor.register({ name: 'bad name', apply() {} })).toThrow();
    await run(90_000);
    await monitor.settled();
    expect(order).toEqual(['first']); // the second waits for the first to be validated
    expect(monitor.trigger('manual')).toBe(false); // a cycle is running
    await run(2 * MIN);
    expect(order).toEqual(['first', 'second']);
    await run(3 * MIN);
    expect(monitor.lastCycle?.outcome).toBe('exhausted'); // neither helped; both were rolled back
    expect(monitor.active).toEqual([]);
    state.fixed = true; // it recovers on its own
    await run(45 * MIN);
    const incident = monitor.incidents.list()[0]!;
    expect(incident.status).toBe('resolved');
    expect(incident.postMortem).toContain('No mitigation measurably helped');
  });

  it('caps actions per hour, and honours cooldowns across cycles', async () => {
    const ms = ['a', 'b', 'c'].map((n, i) => noop(n, i));
    const { monitor, run } = app({
      mitigations: ms,
      maxActionsPerHour: 2,
      validateAfter: MIN,
      cooldown: 3 * 3_600_000,
    });
    await run(5 * MIN);
    await monitor.settled();
    expect(ms.map((m) => m.applied)).toEqual([1, 1, 0]);
    expect(monitor.lastCycle?.outcome).toBe('capped');
    expect(monitor.steps().find((s) => s.kind === 'capped')?.mitigation).toBe('c');
    // An hour later the cap has room again: the next cycle applies c, but a and b are cooling down.
    await run(61 * MIN);
    monitor.trigger('manual');
    await run(5 * MIN);
    await monitor.settled();
    expect(ms.map((m) => m.applied)).toEqual([1, 1, 1]);
    expect(monitor.lastCycle?.outcome).toBe('exhausted');
  });

  it('a failing apply is recorded and the next mitigation is tried', async () => {
    const broken = noop('broken', 1, {
      apply() {
        throw new Error('no permission');
      },
    });
    const next = noop('next', 2);
    const { monitor, run } = app({ mitigations: [broken, next] });
    await run(90_000);
    await monitor.settled();
    expect(monitor.steps().find((s) => s.kind === 'apply-failed')).toMatchObject({
      mitigation: 'broken',
      detail: 'no permission',
    });
    expect(next.applied).toBe(1);
    expect(monitor.incidents.open?.actions.map((a) => `${a.mitigation}:${a.outcome}`)).toEqual([
      'broken:failed',
      'next:pending',
    ]);
  });

  it('an irreversible mitigation that did not help is recorded as such', async () => {
    const once: Mitigation = { name: 'once', apply() {} };
    const { monitor, run } = app({ mitigations: [once], validateAfter: MIN });
    await run(3 * MIN);
    await monitor.settled();
    expect(monitor.steps().find((s) => s.kind === 'not-helpful')?.mitigation).toBe('once');
  });

  it('readiness-off and graceful restart (drain, then the injected exit) are opt-in built-ins', async () => {
    const exits: number[] = [];
    const { keel, monitor, run } = app({
      builtIns: { serveStale: false, openCircuit: false, shedLoad: false, readinessOff: true },
      mitigations: [gracefulRestart({ exit: (code) => exits.push(code), drainMs: 1000 })],
      validateAfter: 2 * MIN,
    });
    expect(monitor.mitigations.map((m) => m.name)).toEqual(['readiness-off', 'graceful-restart']);
    await run(90_000);
    await monitor.settled();
    expect(keel.readiness()).toMatchObject({ ready: false });
    expect(keel.readiness().reasons[0]).toMatch(/^monitor: budget api_latency breached/);
    // The action states the capacity it takes away (20 requests per 10 s interval here).
    expect(monitor.steps().find((s) => s.kind === 'applied')?.detail).toMatch(
      /^readiness off \(capacity lost: [\d.]+ req\/s of 1 instance\(s\)' [\d.]+, 0 req\/s left for 2 req\/s of traffic; cost unchanged/,
    );
    await run(2 * MIN); // did not help: readiness back on, restart next
    await monitor.settled();
    expect(monitor.steps().find((s) => s.kind === 'rolled-back')?.mitigation).toBe('readiness-off');
    expect(exits).toEqual([0]);
    expect(keel.readiness().reasons).toContain('shutting down');
  });

  it('resizePool resizes a pool that has resize(max), and rolls back', async () => {
    const sizes: number[] = [];
    const pool = {
      max: 10,
      waitingCount: 3,
      resize(n: number) {
        sizes.push(n);
        this.max = n;
      },
    };
    const m = resizePool({ pool, factor: 2, maxSize: 15 });
    const { monitor, run } = app({ mitigations: [m], validateAfter: 2 * MIN });
    await run(90_000);
    await monitor.settled();
    expect(pool.max).toBe(15);
    expect(monitor.steps().find((s) => s.kind === 'applied')?.detail).toBe(
      'pool max 10 → 15 (+5 connections per instance: cost not configured (`cost` option), +5 connections in total)',
    );
    await run(2 * MIN);
    await monitor.settled();
    expect(sizes).toEqual([15, 10]);
  });

  it('a pool without resize() or recycle() is not offered those mitigations, and /health says why', async () => {
    // A bare pg.Pool: writing options.max would not retire a single client, so the monitor does not pretend.
    const pool = { options: { max: 10 }, waitingCount: 3 };
    const { monitor, run } = app({ mitigations: [resizePool({ pool }), recyclePool({ pool })] });
    expect(monitor.mitigations.map((m) => m.name)).toEqual([]);
    await run(90_000);
    await monitor.settled();
    expect(pool.options.max).toBe(10);
    expect(monitor.steps().some((s) => s.kind === 'applied')).toBe(false);
    expect(monitor.status().mitigations).toEqual(
      expect.arrayContaining([
        { name: 'resize-pool', priority: null, available: false, reason: 'the pool has no resize(max)' },
        { name: 'recycle-pool', priority: null, available: false, reason: 'the pool has no recycle()' },
        {
          name: 'shed-load',
          priority: null,
          available: false,
          reason: 'turned off (builtIns.shedLoad: false)',
        },
        {
          name: 'readiness-off',
          priority: null,
          available: false,
          reason: 'opt-in (builtIns.readinessOff: true)',
        },
      ]),
    );
  });

  it('validates options at startup', () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    for (const bad of [
      { schedule: 10 },
      { validateAfter: -1 },
      { healthyScore: 11 },
      { typo: 1 },
      { delivery: { maxAttempts: 0 } },
      { builtIns: { shedload: true } },
      { delivery: { retries: 3 } },
    ])
      expect(() => createMonitor(keel, bad as never)).toThrow(
        expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
      );
    // The mitigation factories reject unknown keys too.
    for (const make of [
      () => serveStale({ extend: 1 } as never),
      () => openCircuit({ ratio: 1 } as never),
      () => gracefulRestart({ code: 1 } as never),
      () => resizePool({ pool: {}, size: 3 } as never),
      () => recyclePool({ pool: { recycle() {} }, when: [] } as never),
    ])
      expect(make).toThrow(expect.objectContaining({ code: KeelErrorCode.InvalidOption }));
  });

  it('runs on its schedule even without a breach', async () => {
    const { monitor, clock } = app({ schedule: 4 * 3_600_000 });
    expect(monitor.status().nextScheduledAt).toBe(new Date(clock.now() + 4 * 3_600_000).toISOString());
    await clock.advanceAsync(4 * 3_600_000);
    expect(monitor.lastCycle).toMatchObject({ trigger: 'schedule', outcome: 'healthy' });
  });
});

describe('capacity actions state their cost', () => {
  it('resizePool prices the connections it adds across the fleet (cost option)', async () => {
    const clock = createFakeClock();
    const keel = createKeel({
      clock,
      runtime: false,
      onError: () => {},
      cost: { instanceHourly: 0.2, currency: 'EUR', dbConnectionHourly: 0.005, instances: 4 },
    });
    const pool = {
      max: 10,
      waitingCount: 2,
      resize(n: number) {
        this.max = n;
      },
    };
    const monitor = createMonitor(keel, {
      schedule: false,
      builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
      mitigations: [resizePool({ pool, factor: 2 })],
    });
    for (let t = 0; t < 90_000; t += keel.config.interval) {
      for (let i = 0; i < 20; i++) keel.recordRequest('GET', '/x', 200, 900);
      await clock.advanceAsync(keel.config.interval);
    }
    await monitor.settled();
    // +10 connections on each of 4 instances: 40 × 0.005 EUR × 730 h = 146 EUR a month.
    expect(monitor.steps().find((s) => s.kind === 'applied')?.detail).toBe(
      'pool max 10 → 20 (+10 connections per instance (×4 instances): +146.00 EUR/month, +40 connections in total)',
    );
    await monitor.close();
    await keel.close();
  });
});
