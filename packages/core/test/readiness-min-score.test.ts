import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { testKeel, traffic } from './helpers.js';

/**
 * A Keel whose score is exactly `score` after two evaluations: 9 from an
 * `at_risk` latency budget (4.6 % of requests slow against the 5 % allowed),
 * 8 from a half-open circuit breaker.
 */
async function scoredAt(score: 9 | 8, readinessMinScore: number) {
  const t = testKeel({ health: { readinessMinScore } });
  if (score === 9) {
    traffic(t.keel, 1000, { slowShare: 0.046 });
  } else {
    const breaker = t.keel.breaker({ name: 'inventory', minimumCalls: 1, openFor: 15_000 });
    await breaker.run(() => Promise.reject(new Error('down'))).catch(() => {});
  }
  t.step(2);
  expect(t.keel.health().score).toBe(score);
  return t;
}

describe('health.readinessMinScore at its boundaries', () => {
  for (const score of [9, 8] as const) {
    it(`with the score at exactly ${score}: ready at the floor and above it, not ready just below`, async () => {
      const below = await scoredAt(score, score + 0.01);
      expect(below.keel.readiness()).toEqual({
        ready: false,
        reasons: [`health score ${score} below ${score + 0.01}`],
      });
      const at = await scoredAt(score, score);
      expect(at.keel.readiness()).toEqual({ ready: true, reasons: [] });
      const above = await scoredAt(score, score - 0.01);
      expect(above.keel.readiness()).toEqual({ ready: true, reasons: [] });
      for (const t of [below, at, above]) await t.keel.close();
    });
  }

  it('answers /readyz 503 with the reason just below the floor and 200 at it, over HTTP', async () => {
    for (const [floor, status] of [
      [9.01, 503],
      [9, 200],
      [8.99, 200],
    ] as const) {
      const { keel } = await scoredAt(9, floor);
      const server = createServer((req, res) => keel.handle(req, res));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/readyz`);
      expect(res.status, `floor ${floor}`).toBe(status);
      expect(await res.text()).toBe(status === 200 ? 'ready\n' : 'not ready: health score 9 below 9.01\n');
      server.close();
      await keel.close();
    }
  });

  it('is off at 0 (the default): a breached budget does not drain the instance', async () => {
    const { keel, step } = testKeel();
    traffic(keel, 1000, { slowShare: 0.5 });
    step(2);
    expect(keel.health().score).toBeLessThan(8);
    expect(keel.readiness().ready).toBe(true);
    await keel.close();
  });
});
