import { describe, expect, it, vi } from 'vitest';
import { type BudgetChangeEvent, KeelErrorCode } from '../src/index.js';
import { testKeel, traffic } from './helpers.js';

const budget = (keel: ReturnType<typeof testKeel>['keel'], name: string) =>
  keel.health().budgets.find((b) => b.name === name)!;

describe('budgets', () => {
  it('report no_data rather than pretending to be met', () => {
    const { keel, step } = testKeel();
    step(3);
    expect(budget(keel, 'api_latency').state).toBe('no_data');
    expect(budget(keel, 'api_latency').value).toBeNull();
    expect(budget(keel, 'db_latency').state).toBe('no_data');
    // Ready all along but no request yet: nothing says anyone was served.
    expect(budget(keel, 'availability')).toMatchObject({
      state: 'no_data',
      value: null,
      samples: 0,
      lastSampleAt: null,
    });
  });

  it('all budgets met gives a score of at least 9 and healthy', () => {
    const { keel, step } = testKeel();
    step();
    traffic(keel, 1000, { fastMs: 30 });
    for (let i = 0; i < 200; i++) keel.recordQuery('SELECT', 'SELECT users', 5);
    keel.tti.record(1200, true, '/home');
    for (let i = 0; i < 20; i++) keel.tti.record(1500, true, '/home');
    for (let i = 0; i < 20; i++) {
      keel.signal('web_vitals.lcp').record(1800, true, '/home');
      keel.signal('web_vitals.inp').record(80, true, '/home');
      keel.signal('web_vitals.cls').record(i % 2 ? 0 : 0.02, true, '/home');
    }
    step(2);
    const report = keel.health();
    expect(report.budgets.map((b) => [b.name, b.state])).toEqual([
      ['availability', 'ok'],
      ['api_latency', 'ok'],
      ['page_load', 'ok'],
      ['error_rate', 'ok'],
      ['db_latency', 'ok'],
      ['lcp', 'ok'],
      ['inp', 'ok'],
      ['cls', 'ok'],
    ]);
    expect(report.score).toBeGreaterThanOrEqual(9);
    expect(report.status).toBe('healthy');
  });

  it('any breached budget gives a score below 8', () => {
    for (const breach of ['latency', 'errors', 'db'] as const) {
      const { keel, step } = testKeel();
      traffic(keel, 1000, {
        fastMs: 30,
        slowShare: breach === 'latency' ? 0.1 : 0,
        errorShare: breach === 'errors' ? 0.01 : 0,
      });
      for (let i = 0; i < 100; i++) keel.recordQuery('SELECT', 'SELECT users', breach === 'db' ? 300 : 5);
      step(2);
      const report = keel.health();
      expect(
        report.budgets.some((b) => b.state === 'breached'),
        breach,
      ).toBe(true);
      expect(report.score, breach).toBeLessThan(8);
    }
  });

  it('decides p95 exactly at the target boundary, not by interpolation', () => {
    // 95 % at <= 200 ms is met; one more slow request breaks it.
    const met = testKeel();
    traffic(met.keel, 950, { fastMs: 200 });
    traffic(met.keel, 50, { fastMs: 201 });
    met.step(2);
    expect(budget(met.keel, 'api_latency').state).not.toBe('breached');

    const missed = testKeel();
    traffic(missed.keel, 949, { fastMs: 200 });
    traffic(missed.keel, 51, { fastMs: 201 });
    missed.step(2);
    expect(budget(missed.keel, 'api_latency').state).toBe('breached');
  });

  it('does not flap on one noisy interval (hysteresis)', () => {
    const { keel, step } = testKeel({ window: { interval: 10_000, length: 10_000 } });
    const states: string[] = [];
    const quiet = () => traffic(keel, 100, { fastMs: 20 });
    const noisy = () => traffic(keel, 100, { fastMs: 20, slowShare: 0.5 });
    for (const interval of [quiet, quiet, noisy, quiet, quiet, noisy, noisy, quiet, quiet]) {
      interval();
      step();
      states.push(budget(keel, 'api_latency').state);
    }
    // The single noisy interval changes nothing; two in a row breach; two quiet ones recover.
    expect(states).toEqual(['no_data', 'ok', 'ok', 'ok', 'ok', 'ok', 'breached', 'breached', 'ok']);
  });

  it('emits state changes to subscribers', () => {
    const { keel, step } = testKeel();
    const events: BudgetChangeEvent[] = [];
    keel.on('budget', (e) => events.push(e));
    traffic(keel, 500, { slowShare: 0.5 });
    step(2);
    const latency = events.find((e) => e.budget === 'api_latency')!;
    expect(latency).toMatchObject({ from: 'no_data', to: 'breached' });
    expect(latency.snapshot.value).toBeGreaterThan(200);
  });

  it('turns at_risk when most of the error budget is used but the target still holds', () => {
    const { keel, step } = testKeel();
    // 4.5 % slow: 90 % of a 5 % error budget.
    traffic(keel, 1000, { slowShare: 0.045 });
    step(2);
    const b = budget(keel, 'api_latency');
    expect(b.state).toBe('at_risk');
    expect(b.errorBudgetUsed).toBeCloseTo(0.045 / 0.05, 1);
    expect(keel.health().score).toBeGreaterThanOrEqual(9);
  });

  it('computes burn rates over the SRE window pairs as hand-computed', () => {
    const { keel, step } = testKeel();
    // 55 min at 1 error in 501 requests (burn ~2), then 5 min at 2 % errors (burn 20).
    for (let i = 0; i < 330; i++) {
      for (let j = 0; j < 500; j++) keel.recordRequest('GET', '/', 200, 10);
      keel.recordRequest('GET', '/', 500, 10);
      step();
    }
    // Last 30 intervals (5 min): 50 errors per 1000+ requests.
    for (let i = 0; i < 30; i++) {
      for (let j = 0; j < 490; j++) keel.recordRequest('GET', '/', 200, 10);
      for (let j = 0; j < 10; j++) keel.recordRequest('GET', '/', 500, 10);
      step();
    }
    const rates = budget(keel, 'error_rate').burnRates;
    const fast = rates.find((r) => r.shortWindow === '5m')!;
    // 5 m: 300 errors / 15000 = 2 % -> burn 20.
    expect(fast.short).toBeCloseTo(0.02 / 0.001, 6);
    // 1 h = 360 intervals: 30 at 10/500 and 330 at 1/501 errors.
    const expectedLong = (30 * 10 + 330) / (30 * 500 + 330 * 501) / 0.001;
    expect(fast.long).toBeCloseTo(expectedLong, 6);
    expect(fast.alerting).toBe(false);
    expect(fast.factor).toBe(14.4);
    const slow = rates.find((r) => r.shortWindow === '30m')!;
    expect(slow.longWindow).toBe('6h');
  });

  it('counts time not ready against availability', () => {
    const { keel, step } = testKeel({ health: { manualStartup: true } });
    traffic(keel, 1000);
    step(15); // half of the 5 min window not ready
    keel.markStarted();
    traffic(keel, 1000);
    step(15);
    const a = budget(keel, 'availability');
    expect(a.value).toBeCloseTo(50, 0);
    expect(a.state).toBe('breached');
  });

  it('measures time not ready even without requests (it is not a lack of data)', () => {
    const { keel, step } = testKeel({ health: { manualStartup: true } });
    step(30);
    expect(budget(keel, 'availability')).toMatchObject({ state: 'breached', value: 0, samples: 0 });
  });

  it('does not count a planned shutdown against availability, though readiness turns 503', () => {
    const planned = testKeel();
    const held = testKeel();
    for (const { keel, step } of [planned, held]) {
      traffic(keel, 500);
      step(15);
    }
    planned.keel.beginShutdown();
    const release = held.keel.holdReadiness('drained by hand');
    // Half the 5-minute window not ready, with requests still arriving (drain, pre-stop).
    for (const { keel, step } of [planned, held]) {
      expect(keel.readiness().ready).toBe(false);
      traffic(keel, 500);
      step(15);
    }
    expect(planned.keel.readiness().reasons).toEqual(['shutting down']);
    expect(budget(planned.keel, 'availability')).toMatchObject({ state: 'ok', value: 100 });
    expect(budget(planned.keel, 'availability').burnRates.every((r) => r.short === 0 && r.long === 0)).toBe(
      true,
    );
    // The same not-ready time without a shutdown is downtime.
    expect(budget(held.keel, 'availability').value).toBeCloseTo(50, 0);
    expect(budget(held.keel, 'availability').state).toBe('breached');
    release();
  });

  it('does not count a critical check that has not answered yet as downtime; a failing answer counts', async () => {
    const { keel, step } = testKeel();
    let answer!: (ok: boolean) => void;
    const firstAnswer = new Promise<boolean>((r) => (answer = r));
    keel.addCheck({ name: 'postgres', check: () => firstAnswer, timeout: 60_000 });
    // A busy start-up: the first check has not answered after three intervals. Not ready
    // (traffic must wait), but unknown is not an outage.
    step(3);
    expect(keel.readiness()).toEqual({ ready: false, reasons: ['dependency postgres: not checked yet'] });
    expect(budget(keel, 'availability')).toMatchObject({ state: 'no_data', value: null });
    answer(true);
    await vi.waitFor(() => expect(keel.readiness().ready).toBe(true));
    step(3);
    expect(budget(keel, 'availability')).toMatchObject({ state: 'no_data', value: null });

    // The same wait ending in a failure: from the failing answer on, it is downtime.
    const failed = testKeel();
    failed.keel.addCheck({ name: 'postgres', check: () => false });
    await vi.waitFor(() =>
      expect(failed.keel.readiness().reasons).toEqual([
        'dependency postgres: dependency check postgres returned false',
      ]),
    );
    failed.step(3);
    expect(budget(failed.keel, 'availability')).toMatchObject({ state: 'breached', value: 0 });
    await keel.close();
    await failed.keel.close();
  });

  it('counts the time before a shutdown began as it was, and none after', () => {
    const { keel, step, clock } = testKeel({ health: { manualStartup: true } });
    traffic(keel, 100);
    step(); // 10 s not ready (starting)
    keel.markStarted();
    clock.advance(5000); // 5 s ready, accounted when the shutdown begins
    keel.beginShutdown();
    step(3);
    expect(budget(keel, 'availability').value).toBeCloseTo((5 / 15) * 100, 3);
  });

  it('assertBudgets throws a readable report on a breach and passes otherwise', () => {
    const ok = testKeel();
    traffic(ok.keel, 200);
    expect(() => ok.keel.assertBudgets()).not.toThrow();
    expect(() => ok.keel.assertBudgets({ requireData: true })).toThrowError(
      expect.objectContaining({ code: KeelErrorCode.BudgetBreached }),
    );

    const bad = testKeel();
    traffic(bad.keel, 200, { slowShare: 0.5 });
    let error: unknown;
    try {
      bad.keel.assertBudgets({ budgets: ['api_latency'] });
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({ code: KeelErrorCode.BudgetBreached });
    expect(String((error as Error).message)).toMatch(/BREACHED\s+api_latency: \d+(\.\d+)? ms/);
    expect(() => bad.keel.assertBudgets({ budgets: ['nope'] })).toThrowError(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(() => bad.keel.assertBudgets({ budget: ['api_latency'] } as never)).toThrowError(
      expect.objectContaining({
        code: KeelErrorCode.InvalidOption,
        message: expect.stringMatching(/`budget`/),
      }),
    );
  });

  it('can scope a budget to one group', () => {
    const { keel, step } = testKeel({
      budgets: {
        checkout_latency: {
          kind: 'latency',
          signal: 'http.server.request.duration',
          group: '/checkout',
          target: 100,
        },
      },
    });
    traffic(keel, 100, { route: '/checkout', fastMs: 150 });
    traffic(keel, 2000, { route: '/home', fastMs: 10 });
    step(2);
    expect(budget(keel, 'checkout_latency').state).toBe('breached');
    expect(budget(keel, 'api_latency').state).toBe('ok');
  });
});

describe('heartbeat', () => {
  it('counts the gap of a restart as downtime in the availability budget', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const file = join(mkdtempSync(join(tmpdir(), 'keel-hb-')), 'heartbeat.json');
    const first = testKeel({ health: { heartbeatFile: file } });
    traffic(first.keel, 100);
    first.step(3);
    await first.keel.close();

    // The new process starts 60 s after the old one stopped, with a 5 min window.
    const { createKeel, createFakeClock } = await import('../src/index.js');
    const clock = createFakeClock(first.clock.now() + 60_000);
    const second = createKeel({ clock, runtime: false, health: { heartbeatFile: file } });
    traffic(second, 100);
    for (let i = 0; i < 6; i++) clock.advance(10_000);
    const availability = second.health().budgets.find((b) => b.name === 'availability')!;
    // 60 s down out of 120 s observed.
    expect(availability.value).toBeCloseTo(50, 0);
    expect(availability.state).toBe('breached');
    await second.close();
  });

  it('does not count the gap after a planned shutdown, only after a crash', async () => {
    const { mkdtempSync, readFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { createKeel, createFakeClock } = await import('../src/index.js');
    const file = join(mkdtempSync(join(tmpdir(), 'keel-hb-')), 'heartbeat.json');
    const first = testKeel({ health: { heartbeatFile: file } });
    traffic(first.keel, 100);
    first.step(3);
    first.keel.beginShutdown();
    await first.keel.close();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ at: first.clock.now(), planned: true });

    const clock = createFakeClock(first.clock.now() + 60_000);
    const second = createKeel({ clock, runtime: false, health: { heartbeatFile: file } });
    traffic(second, 100);
    for (let i = 0; i < 6; i++) clock.advance(10_000);
    expect(second.health().budgets.find((b) => b.name === 'availability')).toMatchObject({
      state: 'ok',
      value: 100,
    });
    // The second run dies without a word (its last beat is an ordinary one): the next start counts the gap.
    await vi.waitFor(() => expect(JSON.parse(readFileSync(file, 'utf8')).planned).toBeUndefined());
    const thirdClock = createFakeClock(clock.now() + 60_000);
    const third = createKeel({ clock: thirdClock, runtime: false, health: { heartbeatFile: file } });
    for (let i = 0; i < 6; i++) thirdClock.advance(10_000);
    // No request yet, but 60 s down out of 120 s is measured all the same.
    const availability = third.health().budgets.find((b) => b.name === 'availability')!;
    expect(availability).toMatchObject({ state: 'breached', samples: 0 });
    expect(availability.value).toBeCloseTo(50, 0);
    await second.close();
    await third.close();
  });
});
