import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { createKeel, type HealthJson, type Keel } from '../src/index.js';
import { random, testKeel, traffic } from './helpers.js';

const budget = (keel: Keel, name: string) => keel.health().budgets.find((b) => b.name === name)!;
const component = (keel: Keel, name: string) => keel.health().components.find((c) => c.name === name)!;

describe('no data is not health', () => {
  it('a budget whose traffic stopped reads no_data, says since when, and keeps its score with data', () => {
    const { keel, step, clock } = testKeel();
    traffic(keel, 1000, { slowShare: 0.1 });
    step(2);
    const withData = keel.health();
    expect(budget(keel, 'api_latency').state).toBe('breached');
    const lastSample = clock.now() - 10_000; // the end of the first interval, which held the requests
    expect(budget(keel, 'api_latency').lastSampleAt).toBe(lastSample);

    step(40); // the requests left the 5-minute window long ago
    expect(budget(keel, 'api_latency')).toMatchObject({
      state: 'no_data',
      samples: 0,
      value: null,
      lastSampleAt: lastSample,
    });
    expect(component(keel, 'budget:api_latency')).toMatchObject({
      score: withData.components.find((c) => c.name === 'budget:api_latency')!.score,
      detail: 'no_data for 410 s: keeps its last score with data',
    });
    // Losing all traffic does not raise the score.
    expect(keel.health().score).toBe(withData.score);
    expect(keel.health().score).toBeLessThan(8);
  });

  it('keeps the score with data when too few samples remain to judge', () => {
    const { keel, step } = testKeel();
    traffic(keel, 200, { slowShare: 0.1 });
    step(2);
    const before = keel.health().score;
    step(30);
    traffic(keel, 5, { fastMs: 10 }); // fewer than minSamples (10): nothing to judge
    step(2);
    expect(budget(keel, 'api_latency')).toMatchObject({ state: 'no_data', samples: 5 });
    expect(keel.health().score).toBe(before);
  });

  it('counts a silence longer than the budget’s maxSilence as a fault', () => {
    const { keel, step } = testKeel({ budgets: { api_latency: { maxSilence: 600_000 } } });
    traffic(keel, 1000, { fastMs: 20 });
    step(2);
    expect(component(keel, 'budget:api_latency').score).toBe(10);
    step(58); // 590 s since the last sample
    expect(component(keel, 'budget:api_latency').score).toBe(10);
    step();
    expect(component(keel, 'budget:api_latency')).toMatchObject({
      score: 7,
      detail: 'no_data for 600 s, longer than maxSilence (600 s): a fault',
    });
    expect(keel.health().healthy).toBe(false);
    // A budget without maxSilence (availability here) keeps its score.
    expect(component(keel, 'budget:availability').score).toBe(10);
    // Traffic back: judged on its data again.
    traffic(keel, 1000, { fastMs: 20 });
    step(2);
    expect(component(keel, 'budget:api_latency').score).toBe(10);
    expect(() => createKeel({ budgets: { api_latency: { maxSilence: -1 } } })).toThrow(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
    );
  });

  it('scores a budget that never had data as 10, and says no_data', () => {
    const { keel, step } = testKeel();
    step(3);
    expect(keel.health().budgets.every((b) => b.state === 'no_data' && b.lastSampleAt === null)).toBe(true);
    expect(keel.health().components.every((c) => c.score === 10 && c.detail === 'no_data')).toBe(true);
  });

  it('shows lastSampleAt and silentForSeconds in /health', async () => {
    const { keel, step, clock } = testKeel();
    traffic(keel, 100);
    step(40);
    const server = createServer((req, res) => keel.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/health`;
    const health = (await (await fetch(url)).json()) as HealthJson;
    server.close();
    expect(health.budgets.find((b) => b.name === 'api_latency')).toMatchObject({
      state: 'no_data',
      lastSampleAt: new Date(clock.now() - 390_000).toISOString(),
      silentForSeconds: 390,
    });
    expect(health.budgets.find((b) => b.name === 'db_latency')).toMatchObject({
      lastSampleAt: null,
      silentForSeconds: null,
    });
  });

  it('removing samples (a silence, or too few to judge) never raises the score (property, seeded)', () => {
    const rand = random(15);
    for (let trial = 0; trial < 60; trial++) {
      const maxSilence = rand() < 0.5 ? 60_000 : false;
      const { keel, step } = testKeel({
        window: { interval: 10_000, length: 60_000 },
        budgets: { api_latency: { maxSilence }, error_rate: { maxSilence }, db_latency: { maxSilence } },
      });
      const lastWithData = new Map<string, number>();
      let lastScoreWithData: number | undefined;
      for (let i = 0; i < 40; i++) {
        const mode = rand();
        if (mode < 0.45) {
          traffic(keel, 10 + Math.floor(rand() * 300), {
            slowShare: rand() * 0.3,
            errorShare: rand() * 0.03,
            fastMs: 5 + rand() * 100,
          });
          for (let q = Math.floor(rand() * 50); q > 0; q--) keel.recordQuery('SELECT', 'q', rand() * 200);
        } else if (mode < 0.65) {
          traffic(keel, 1 + Math.floor(rand() * 3), { fastMs: rand() * 500 });
        } // else: silence
        step();
        const report = keel.health();
        for (const b of report.budgets) {
          const score = report.components.find((c) => c.name === `budget:${b.name}`)!.score;
          if (b.errorBudgetUsed !== null) lastWithData.set(b.name, score);
          else if (lastWithData.has(b.name)) {
            expect(score, `trial ${trial}, step ${i}, ${b.name}`).toBeLessThanOrEqual(
              lastWithData.get(b.name)!,
            );
          }
        }
        if (report.budgets.some((b) => b.errorBudgetUsed !== null)) lastScoreWithData = report.score;
        else if (lastScoreWithData !== undefined) {
          expect(report.score, `trial ${trial}, step ${i}`).toBeLessThanOrEqual(lastScoreWithData);
        }
      }
      void keel.close();
    }
  });
});
