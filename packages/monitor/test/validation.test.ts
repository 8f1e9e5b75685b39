import { createFakeClock, createKeel, type KeelOutcome } from '@keel/core';
import { describe, expect, it } from 'vitest';
import { judge, plainHarm } from '../src/cycle/validation.js';
import {
  createMonitor,
  type Measurement,
  type Mitigation,
  type MitigationContext,
  memoryNotifier,
  shedLoad,
} from '../src/index.js';
import { analyse } from '../src/measure.js';
import { TrafficMeter, type TrafficRates } from '../src/traffic/traffic-meter.js';

const MIN = 60_000;
const config = { minImprovement: 0.25, healthyScore: 8, minGoodGain: 0.05, maxRefusedShare: 0.5 };

function rates(good: number, requests: number, refused = 0, seconds = 100): TrafficRates {
  return {
    seconds,
    requests,
    good,
    refused,
    refusedByOutcome: { shed: refused, circuit_open: 0, not_ready: 0, cut_off: 0 },
    goodPerSecond: good / seconds,
    requestsPerSecond: requests / seconds,
    refusedShare: requests === 0 ? 0 : refused / requests,
  };
}

const measurement = (traffic: TrafficRates | null, score = 5): Measurement => ({
  at: 0,
  score,
  status: 'degraded',
  budgets: {},
  requests: 0,
  p95: null,
  errorRatio: 0,
  traffic,
});

describe('validation judges what users felt', () => {
  it('keeps a mitigation when good requests per second rose by minGoodGain of the offered traffic: at the threshold, not below', () => {
    // 1000 requests per 100 s offered = 10 req/s; 5 % of it = +0.5 good req/s needed.
    const before = measurement(rates(100, 1000));
    expect(judge(before, measurement(rates(149, 1000)), false, [], config)).toMatchObject({ keep: false });
    expect(judge(before, measurement(rates(150, 1000)), false, [], config)).toMatchObject({
      keep: true,
      lastResort: false,
      reason: expect.stringContaining('served better'),
    });
    // The score alone does not decide when there is traffic: a healthy score with no gain for users is rolled back.
    expect(judge(before, measurement(rates(100, 1000), 9.5), true, [], config).keep).toBe(false);
  });

  it('refusals are never good: turning slow answers into fast 503s does not count', () => {
    const before = measurement(rates(0, 1000)); // all slow
    const after = measurement(rates(0, 1000, 900)); // 900 shed, 100 still slow
    expect(judge(before, after, false, [], config)).toMatchObject({ keep: false });
  });

  it('one refusing most requests is rolled back while less harmful ones are left; kept as a stated last resort when none is', () => {
    const before = measurement(rates(0, 1000));
    const refusingMost = measurement(rates(400, 1000, 501));
    expect(judge(before, refusingMost, false, ['serve-stale'], config)).toMatchObject({
      keep: false,
      reason: expect.stringContaining('serve-stale'),
    });
    expect(judge(before, refusingMost, false, [], config)).toMatchObject({
      keep: true,
      lastResort: true,
      reason: expect.stringContaining('last resort'),
    });
    // At exactly maxRefusedShare it is not "most".
    expect(judge(before, measurement(rates(400, 1000, 500)), false, ['x'], config)).toMatchObject({
      keep: true,
      lastResort: false,
    });
  });

  it('without HTTP traffic before and after, the score decides', () => {
    const quiet = rates(0, 0);
    expect(judge(measurement(quiet, 5), measurement(quiet, 5.25), false, [], config).keep).toBe(true);
    expect(judge(measurement(quiet, 5), measurement(quiet, 5.2), false, [], config).keep).toBe(false);
    // Traffic before but none after: nothing shows users were served better.
    expect(judge(measurement(rates(0, 100), 5), measurement(quiet, 9), true, [], config).keep).toBe(false);
  });

  it('the traffic meter splits requests: good (app, non-5xx, in budget), refused by outcome, the rest', () => {
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: false });
    const meter = new TrafficMeter(keel);
    const start = meter.read();
    keel.recordRequest('GET', '/a', 200, 50); // good
    keel.recordRequest('GET', '/a', 404, 50); // good: a client error is not the server's
    keel.recordRequest('GET', '/a', 200, 900); // over the 200 ms budget
    keel.recordRequest('GET', '/a', 500, 5); // a server error
    keel.recordRequest('GET', '/a', 499, 5); // the client left: not served
    keel.recordRequest('GET', '/a', 503, 1, 'shed');
    keel.recordRequest('GET', '/b', 503, 1, 'shed');
    keel.recordRequest('GET', '/a', 503, 2, 'circuit_open');
    clock.advance(10_000);
    const r = TrafficMeter.between(start, meter.read())!;
    expect(r).toMatchObject({ seconds: 10, requests: 8, good: 2, refused: 3, goodPerSecond: 0.2 });
    expect(r.refusedByOutcome).toEqual({ shed: 2, circuit_open: 1, not_ready: 0, cut_off: 0 });
    expect(r.refusedShare).toBe(0.375);
  });
});

/** Two routes: /slow over budget on its own, /fast fine. Requests on a shed route are answered 503 by "Keel". */
function twoRoutes(options: Parameters<typeof createMonitor>[1] = {}) {
  const clock = createFakeClock();
  const keel = createKeel({ clock, runtime: false, budgets: { page_load: false, db_latency: false } });
  const notes = memoryNotifier();
  const monitor = createMonitor(keel, {
    schedule: false,
    builtIns: { serveStale: false, openCircuit: false },
    validateAfter: 2 * MIN,
    recoveryWindow: 2 * MIN,
    stabilityWindow: 2 * MIN,
    notifiers: [notes],
    ...options,
  });
  const state = { slowMs: 900, answered: { '/slow': [] as number[], '/fast': [] as number[] } };
  const serve = (route: '/slow' | '/fast', ms: number, outcome?: KeelOutcome) => {
    if (keel.shedder.shedsRoute(route)) {
      keel.recordRequest('GET', route, 503, 1, 'shed');
      state.answered[route].push(503);
    } else {
      keel.recordRequest('GET', route, outcome ? 503 : 200, ms, outcome);
      state.answered[route].push(outcome ? 503 : 200);
    }
  };
  const run = async (ms: number) => {
    for (let t = 0; t < ms; t += keel.config.interval) {
      for (let i = 0; i < 10; i++) serve('/slow', state.slowMs);
      for (let i = 0; i < 20; i++) serve('/fast', 10);
      await clock.advanceAsync(keel.config.interval);
    }
    await monitor.settled();
  };
  return { clock, keel, monitor, notes, state, run };
}

describe('scoped mitigations and the truth about them', () => {
  it('a breach on one route sheds that route only; the others keep answering 200 and being measured', async () => {
    const { keel, monitor, state, run } = twoRoutes();
    for (let i = 0; i < 12 && !monitor.incidents.open; i++) await run(10_000);
    await run(10_000);
    expect(monitor.cycle?.current?.mitigation).toBe('shed-load');
    expect(keel.shedder.routes).toEqual(new Set(['/slow']));
    expect(keel.shedder.shedsRoute('/fast')).toBe(false);
    expect(keel.health().shedding).toMatchObject({ active: true, routes: ['/slow'] });
    expect(monitor.steps().find((s) => s.kind === 'applied')?.detail).toMatch(
      /^shedding \/slow \(\/slow p95/,
    );
    await run(2 * MIN);
    expect(state.answered['/fast'].every((s) => s === 200)).toBe(true);
    expect(state.answered['/slow']).toContain(503);
  });

  it('shedding a route that is slow on its own did not serve users better: rolled back, with the numbers and the reason; the post-mortem counts the refused requests', async () => {
    const { keel, monitor, state, run } = twoRoutes();
    for (let i = 0; i < 12 && !monitor.incidents.open; i++) await run(10_000);
    const incident = monitor.incidents.open!;
    await run(2 * MIN + 10_000);
    const rolled = monitor.steps().find((s) => s.kind === 'rolled-back')!;
    expect(rolled.mitigation).toBe('shed-load');
    expect(rolled.detail).toContain('users were not served better');
    expect(keel.shedder.shedding).toBe(false);
    const action = incident.actions.find((a) => a.mitigation === 'shed-load')!;
    expect(action.outcome).toBe('rolled-back');
    expect(action.reason).toContain('users were not served better');
    const before = action.before.traffic!;
    const after = action.after!.traffic!;
    // /fast: 20 good per 10 s before and after; /slow: never good, refused while shed.
    expect(before.goodPerSecond).toBeCloseTo(2, 1);
    expect(after.goodPerSecond).toBeCloseTo(2, 1);
    expect(before.refusedShare).toBe(0);
    expect(after.refusedShare).toBeGreaterThan(0.3);
    expect(after.refusedByOutcome.shed).toBe(after.refused);
    const shed = state.answered['/slow'].filter((s) => s === 503).length;
    expect(after.refused).toBe(shed);

    state.slowMs = 10; // fixed
    for (let i = 0; i < 90 && incident.status === 'open'; i++) await run(10_000);
    expect(incident.status).toBe('resolved');
    await monitor.settled();
    expect(incident.refused).toEqual({ shed });
    expect(incident.postMortem).toContain(
      `**Requests refused by Keel** (answered by Keel itself, not the app): ${shed} (shed ${shed})`,
    );
    expect(incident.postMortem).toMatch(/shed-load \| rolled-back \| [\d.]+ → [\d.]+ \| 0 % → [\d.]+ %/);
  });

  it('a mitigation that turns away users who were served well is rolled back at the next evaluation, not validateAfter later', async () => {
    // Sheds every route, /fast included: /fast's users were served well and now get 503.
    const shedEverything: Mitigation = {
      name: 'shed-everything',
      priority: 1,
      apply: (ctx) => ctx.keel.shedder.force('test: everything'),
      rollback: (ctx) => ctx.keel.shedder.force(undefined),
    };
    const { keel, monitor, state, run } = twoRoutes({
      builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
      mitigations: [shedEverything],
      validateAfter: 10 * MIN,
    });
    for (let i = 0; i < 12 && !monitor.incidents.open; i++) await run(10_000);
    const incident = monitor.incidents.open!;
    await run(10_000);
    const applied = monitor.steps().find((s) => s.kind === 'applied' && s.mitigation === 'shed-everything')!;
    expect(applied).toBeDefined();
    for (let i = 0; i < 3 && keel.shedder.shedding; i++) await run(10_000);

    const rolled = monitor.steps().find((s) => s.kind === 'rolled-back')!;
    expect(rolled.mitigation).toBe('shed-everything');
    expect(rolled.at - applied.at).toBeLessThanOrEqual(30_000); // not the 10 min of validateAfter
    expect(rolled.detail).toMatch(
      /^rolled back early, \d+ s after it was applied \(it refuses 100 % of requests and good requests fell -2\/s \(2 → 0 req\/s\)\); did not help: users were not served better/,
    );
    expect(keel.shedder.shedding).toBe(false);
    expect(incident.actions.find((a) => a.mitigation === 'shed-everything')).toMatchObject({
      outcome: 'rolled-back',
    });
    const fastAfter = state.answered['/fast'].length;
    await run(10_000);
    expect(state.answered['/fast'].slice(fastAfter).every((s) => s === 200)).toBe(true);
    await monitor.close();
    await keel.close();
  });

  it('judges early only a trial that refuses most requests and loses good ones', () => {
    // Refuses most, but the good requests rose (the refused ones were slow anyway): wait for validateAfter.
    expect(plainHarm(rates(20, 100), rates(60, 100, 70), config)).toBeNull();
    // Good requests fell, but Keel refuses few: the app's own trouble, judged at validateAfter.
    expect(plainHarm(rates(80, 100), rates(20, 100, 10), config)).toBeNull();
    // Too few requests after it to say anything.
    expect(plainHarm(rates(80, 100), rates(0, 10, 10), config)).toBeNull();
    expect(plainHarm(rates(80, 100), rates(10, 100, 90), config)).toBe(
      'it refuses 90 % of requests and good requests fell -0.7/s (0.8 → 0.1 req/s)',
    );
  });

  it('a mitigation that refuses most traffic is rolled back while others are left, kept as a stated last resort when none is', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: false, budgets: { page_load: false, db_latency: false } });
    // Bulk traffic makes the API slow; dropping bulk (refused by Keel) makes the API fast.
    const state = { dropBulk: false };
    const dropBulk: Mitigation = {
      name: 'drop-bulk',
      priority: 1,
      cooldown: 0,
      apply() {
        state.dropBulk = true;
      },
      rollback() {
        state.dropBulk = false;
      },
    };
    const other: Mitigation = { name: 'other', priority: 2, cooldown: 0, apply() {}, rollback() {} };
    const monitor = createMonitor(keel, {
      schedule: false,
      builtIns: { serveStale: false, openCircuit: false, shedLoad: false },
      mitigations: [dropBulk, other],
      validateAfter: 2 * MIN,
      escalation: { recheckAfter: 10 * MIN },
    });
    const run = async (ms: number) => {
      for (let t = 0; t < ms; t += keel.config.interval) {
        for (let i = 0; i < 30; i++)
          if (state.dropBulk) keel.recordRequest('POST', '/bulk', 503, 1, 'shed');
          else keel.recordRequest('POST', '/bulk', 200, 900);
        for (let i = 0; i < 10; i++) keel.recordRequest('GET', '/api', 200, state.dropBulk ? 20 : 900);
        await clock.advanceAsync(keel.config.interval);
      }
      await monitor.settled();
    };
    for (let i = 0; i < 12 && !monitor.incidents.open; i++) await run(10_000);
    const incident = monitor.incidents.open!;
    await run(2 * MIN + 10_000);
    const first = incident.actions.find((a) => a.mitigation === 'drop-bulk')!;
    expect(first.outcome).toBe('rolled-back');
    expect(first.reason).toMatch(
      /refuses 75 % of requests.*less harmful mitigations are left to try first: other/,
    );

    // `other` does nothing; then drop-bulk is all that is left: tried again, kept as a last resort, and said so.
    for (let i = 0; i < 10 && !incident.actions.some((a) => a.lastResort); i++) await run(MIN);
    expect(incident.actions.map((a) => `${a.mitigation}:${a.outcome}`)).toEqual([
      'drop-bulk:rolled-back',
      'other:rolled-back',
      'drop-bulk:kept',
    ]);
    const kept = incident.actions.find((a) => a.mitigation === 'drop-bulk' && a.outcome === 'kept')!;
    expect(kept).toMatchObject({
      lastResort: true,
      reason: expect.stringContaining('kept as a last resort'),
    });
    expect(kept.after!.traffic!.refusedShare).toBe(0.75);
    expect(incident.timeline.find((e) => e.kind === 'mitigated')?.detail).toContain('as a last resort');
    expect(monitor.incidentsJson().open[0]!.actions.at(-1)).toMatchObject({
      lastResort: true,
      outcome: 'kept',
    });
    await monitor.close();
    await keel.close();
  });

  it('shed-load is offered only while an HTTP budget is breached: a busy event loop with users served in budget sheds nothing', async () => {
    const clock = createFakeClock();
    const keel = createKeel({ clock, runtime: false, hysteresis: 1 });
    const context = (): MitigationContext => {
      const report = keel.health();
      const analysis = analyse(report, [report.score], 8);
      // What a load test on a CPU-bound instance looks like to the monitor: the runtime costs points.
      const busy = { name: 'runtime:event_loop_utilization', cost: 3, detail: 'event-loop utilisation 0.99' };
      return {
        keel,
        report,
        analysis: { ...analysis, costs: [busy, ...analysis.costs] },
        reason: 'health score dropped to 7',
        flush: async () => {},
      };
    };
    const shed = shedLoad();
    for (let i = 0; i < 3; i++) {
      for (let n = 0; n < 50; n++) keel.recordRequest('GET', '/api/orders', 200, 3);
      await clock.advanceAsync(keel.config.interval);
    }
    expect(keel.health().budgets.find((b) => b.name === 'api_latency')!.state).toBe('ok');
    expect(shed.applicable!(context())).toBe(false);

    for (let i = 0; i < 3; i++) {
      for (let n = 0; n < 50; n++) keel.recordRequest('GET', '/api/orders', 200, 900);
      await clock.advanceAsync(keel.config.interval);
    }
    expect(keel.health().budgets.find((b) => b.name === 'api_latency')!.state).toBe('breached');
    expect(shed.applicable!(context())).toBe(true);
    await keel.close();
  });

  it('/health says which mitigations are available now and why the others are not', async () => {
    const keel = createKeel({ clock: createFakeClock(), runtime: false });
    const monitor = createMonitor(keel, { schedule: false });
    const byName = () => Object.fromEntries(monitor.status().mitigations.map((m) => [m.name, m]));
    expect(byName()['serve-stale']).toMatchObject({ available: false, reason: 'no cache registered' });
    expect(byName()['open-circuit']).toMatchObject({ available: false, reason: 'no breaker registered' });
    expect(byName()['shed-load']).toMatchObject({ available: true, reason: null });
    expect(byName()['graceful-restart']).toMatchObject({
      available: false,
      reason: expect.stringContaining('opt-in'),
    });
    const cache = keel.cache<string>({ name: 'users', ttl: 60_000 });
    expect(byName()['serve-stale']).toMatchObject({ available: false, reason: 'no cache holds entries' });
    await cache.get('1', () => 'ada');
    keel.breaker({ name: 'billing' });
    expect(byName()['serve-stale']).toMatchObject({ available: true, reason: null });
    expect(byName()['open-circuit']).toMatchObject({ available: true, reason: null });
    await monitor.close();
    await keel.close();
  });
});
