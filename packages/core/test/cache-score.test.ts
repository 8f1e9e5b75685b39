import { describe, expect, it } from 'vitest';
import { createKeel, type KeelCache, ResponseCache } from '../src/index.js';
import { random, testKeel } from './helpers.js';

let next = 0;

/** `hits` reads of a key already stored and `misses` reads of keys never seen. */
async function lookups(cache: KeelCache<number>, hits: number, misses: number): Promise<void> {
  // `set` is not a lookup: the warm key is there without counting a read.
  if (cache.peek('warm') === undefined) cache.set('warm', 1);
  for (let i = 0; i < misses; i++) await cache.get(`cold-${next++}`, () => 1);
  for (let i = 0; i < hits; i++) await cache.get('warm', () => 1);
}

const component = (keel: ReturnType<typeof testKeel>['keel'], name: string) =>
  keel.health().components.find((c) => c.name === name);

describe('cache hit ratio in the health score', () => {
  it('is a component once a cache has enough lookups in the window, scored on its miss ratio', async () => {
    const { keel, step } = testKeel();
    const users = keel.cache<number>({ name: 'users', ttl: 600_000 });
    await lookups(users, 40, 50);
    step();
    // 90 lookups, fewer than the default 100: not judged yet.
    expect(component(keel, 'cache:users')).toBeUndefined();

    await lookups(users, 10, 0);
    step();
    // 100 lookups, 50 % hits: at the `ok` threshold (miss ratio 0.5), no cost.
    expect(component(keel, 'cache:users')).toMatchObject({
      score: 10,
      cost: 0,
      detail: 'hit ratio 50 % of 100 lookups',
    });

    await lookups(users, 1, 800);
    step();
    const poor = component(keel, 'cache:users')!;
    expect(poor.detail).toBe('hit ratio 5.66 % of 901 lookups');
    expect(poor.score).toBeLessThan(7);
    expect(keel.health().score).toBeLessThan(8);
  });

  it('counts the adapters’ response caches too: they are Keel caches', async () => {
    const { keel, step } = testKeel();
    const route = new ResponseCache(
      keel,
      { name: 'route-users', ttl: 600_000 },
      {
        name: 'route-users',
        option: 'cache',
        where: 'test: GET /users',
      },
    );
    expect(keel.caches).toContain(route.cache);
    route.cache.set('GET /users', { headers: {}, body: Buffer.from('[]'), etag: '"1"' });
    for (let i = 0; i < 120; i++)
      await route.cache.get('GET /users', () => Promise.reject(new Error('not called')));
    step();
    expect(component(keel, 'cache:route-users')).toMatchObject({
      score: 10,
      detail: 'hit ratio 100 % of 120 lookups',
    });
  });

  it('judges the hit ratio over the window, not since the cache was made', async () => {
    const { keel, step } = testKeel({ window: { interval: 10_000, length: 60_000 } });
    const users = keel.cache<number>({ name: 'users', ttl: 3_600_000 });
    await lookups(users, 10, 200); // a cold start: almost every lookup misses
    step();
    expect(component(keel, 'cache:users')!.score).toBeLessThan(7);
    step(6); // the cold start leaves the window
    await lookups(users, 200, 0);
    step();
    expect(component(keel, 'cache:users')).toMatchObject({
      score: 10,
      detail: 'hit ratio 100 % of 200 lookups',
    });
  });

  it('keeps its last score when lookups fall below minLookups: losing traffic does not raise the score', async () => {
    const { keel, step } = testKeel({ window: { interval: 10_000, length: 60_000 } });
    const users = keel.cache<number>({ name: 'users', ttl: 3_600_000 });
    await lookups(users, 30, 170);
    step();
    const judged = component(keel, 'cache:users')!;
    expect(judged.score).toBeLessThan(9);
    step(10);
    expect(component(keel, 'cache:users')).toMatchObject({
      score: judged.score,
      detail: '0 lookups, fewer than 100: keeps its last score',
    });
  });

  it('takes thresholds and minLookups as options, and `health.cache: false` leaves caches out', async () => {
    const tuned = testKeel({
      health: { cache: { minLookups: 10, missRatio: { ok: 0.1, warn: 0.2, bad: 0.3 } } },
    });
    const users = tuned.keel.cache<number>({ name: 'users' });
    await lookups(users, 7, 3);
    tuned.step();
    expect(component(tuned.keel, 'cache:users')!.score).toBe(7);

    const off = testKeel({ health: { cache: false } });
    await lookups(off.keel.cache<number>({ name: 'users' }), 1, 500);
    off.step();
    expect(off.keel.health().components.some((c) => c.name.startsWith('cache:'))).toBe(false);

    for (const cache of [{ minLookups: 0 }, { missRatio: { ok: 0.9, warn: 0.5 } }, { minLookup: 5 }]) {
      expect(() => createKeel({ health: { cache: cache as never } })).toThrow(
        expect.objectContaining({ code: 'KEEL_INVALID_OPTION' }),
      );
    }
  });

  it('never raises the score for a worse hit ratio (property, seeded)', async () => {
    const rand = random(2024);
    for (let trial = 0; trial < 40; trial++) {
      const a = testKeel({
        window: { interval: 10_000, length: 30_000 },
        health: { cache: { minLookups: 20 } },
      });
      const b = testKeel({
        window: { interval: 10_000, length: 30_000 },
        health: { cache: { minLookups: 20 } },
      });
      const ca = a.keel.cache<number>({ name: 'c', ttl: 3_600_000 });
      const cb = b.keel.cache<number>({ name: 'c', ttl: 3_600_000 });
      for (let step = 0; step < 8; step++) {
        const total = Math.floor(rand() * 60);
        const hits = Math.floor(rand() * (total + 1));
        // b: the same lookups, some of a's hits turned into misses.
        const worse = Math.floor(rand() * (hits + 1));
        if (total > 0) {
          await lookups(ca, hits, total - hits);
          await lookups(cb, hits - worse, total - hits + worse);
        }
        a.step();
        b.step();
        const sa = a.keel.health();
        const sb = b.keel.health();
        expect(sb.score, `trial ${trial}, step ${step}`).toBeLessThanOrEqual(sa.score);
        const [compA, compB] = [sa, sb].map((r) => r.components.find((c) => c.name === 'cache:c')?.score);
        if (compA !== undefined && compB !== undefined) expect(compB).toBeLessThanOrEqual(compA);
      }
      await a.keel.close();
      await b.keel.close();
    }
  });
});
