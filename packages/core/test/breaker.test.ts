import { describe, expect, it } from 'vitest';
import { createFakeClock, createKeel, KeelErrorCode } from '../src/index.js';

function setup(options: Record<string, unknown> = {}) {
  const clock = createFakeClock();
  const keel = createKeel({ clock, runtime: false });
  const breaker = keel.breaker({ name: 'inventory', minimumCalls: 4, openFor: 1000, ...options });
  return { clock, keel, breaker };
}

const fail = () => Promise.reject(new Error('down'));
const ok = () => Promise.resolve('fresh');

describe('circuit breaker', () => {
  it('trips on the failure ratio, rejects without calling, then probes half-open and closes', async () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 4; i++) await expect(breaker.run(fail)).rejects.toThrow('down');
    expect(breaker.state).toBe('open');
    let called = 0;
    await expect(
      breaker.run(() => {
        called++;
        return 'x';
      }),
    ).rejects.toMatchObject({ code: KeelErrorCode.CircuitOpen });
    expect(await breaker.run(ok, () => 'fallback')).toBe('fallback');
    expect(called).toBe(0);
    expect(breaker.stats().rejected).toBe(2);

    clock.advance(1000);
    expect(breaker.state).toBe('half_open');
    // One probe at a time: a second call while the probe is out goes to the fallback.
    let release!: (v: string) => void;
    const probe = breaker.run(() => new Promise<string>((r) => (release = r)));
    expect(await breaker.run(ok, () => 'fallback')).toBe('fallback');
    release('fresh');
    expect(await probe).toBe('fresh');
    expect(breaker.state).toBe('closed');
  });

  it('a failed probe opens it again for another openFor', async () => {
    const { clock, breaker } = setup();
    for (let i = 0; i < 4; i++) await breaker.run(fail).catch(() => {});
    clock.advance(1000);
    await breaker.run(fail).catch(() => {});
    expect(breaker.state).toBe('open');
    clock.advance(999);
    expect(breaker.state).toBe('open');
    clock.advance(1);
    expect(breaker.state).toBe('half_open');
  });

  it('does not trip below minimumCalls or below the ratio', async () => {
    const { breaker } = setup();
    for (let i = 0; i < 3; i++) await breaker.run(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
    for (let i = 0; i < 10; i++) await breaker.run(ok);
    await breaker.run(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('counts slow calls from the clock, and trips on them only when asked', async () => {
    const { clock, breaker } = setup({ slowCallMs: 100 });
    const slow = () => new Promise<string>((r) => clock.setTimeout(() => r('late'), 300));
    for (let i = 0; i < 4; i++) {
      const p = breaker.run(slow);
      await clock.advanceAsync(300);
      await p;
    }
    const stats = breaker.stats();
    expect(stats).toMatchObject({ state: 'closed', calls: 4, slowCalls: 4, slowCallRatio: 1, meanMs: 300 });

    const tripping = setup({ slowCallMs: 100, tripOnSlowCalls: true, name: 'slowdep' });
    for (let i = 0; i < 4; i++) {
      const p = tripping.breaker.run(() => new Promise((r) => tripping.clock.setTimeout(() => r(1), 300)));
      await tripping.clock.advanceAsync(300);
      await p;
    }
    expect(tripping.breaker.state).toBe('open');
  });

  it('forgets calls older than the window', async () => {
    const { clock, breaker } = setup({ window: 6000 });
    for (let i = 0; i < 3; i++) await breaker.run(fail).catch(() => {});
    clock.advance(7000);
    expect(breaker.stats().calls).toBe(0);
    await breaker.run(fail).catch(() => {});
    expect(breaker.state).toBe('closed');
  });

  it('forceOpen holds it open through successful probes until release, then it probes and closes', async () => {
    const { clock, breaker } = setup();
    const changes: string[] = [];
    breaker.onChange((state) => changes.push(state));
    breaker.forceOpen('monitor: api_latency breached');
    expect(breaker.stats()).toMatchObject({ state: 'open', forced: true });
    expect(await breaker.run(ok, () => 'fallback')).toBe('fallback');
    clock.advance(1000);
    expect(await breaker.run(ok)).toBe('fresh'); // the scheduled probe reaches the dependency
    expect(breaker.state).toBe('open'); // but the hold stands
    breaker.release();
    expect(breaker.state).toBe('half_open');
    expect(await breaker.run(ok)).toBe('fresh');
    expect(breaker.state).toBe('closed');
    expect(changes).toEqual(['open', 'half_open', 'open', 'half_open', 'closed']);
  });

  it('validates options and unique names', () => {
    const { keel } = setup();
    expect(() => keel.breaker({ name: 'inventory' })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(() => keel.breaker({ name: 'x', failureRatio: 2 })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(() => keel.breaker({ name: 'bad name' })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
    expect(keel.breakers.map((b) => b.name)).toEqual(['inventory']);
  });

  it('rejects an unknown option, naming it', () => {
    const { keel } = setup();
    const options = { name: 'payments', failureRate: 0.5 };
    expect(() => keel.breaker(options)).toThrow(
      expect.objectContaining({
        code: KeelErrorCode.InvalidOption,
        message: expect.stringMatching(/`failureRate`/),
      }),
    );
    expect(keel.breakers.map((b) => b.name)).toEqual(['inventory']);
  });

  it('slow calls default to the request deadline', () => {
    const { keel } = setup();
    expect(keel.breaker({ name: 'd' }).config.slowCallMs).toBe(keel.config.requestDeadline);
  });
});
