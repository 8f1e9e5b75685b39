import { describe, expect, it, vi } from 'vitest';
import { expectMetricsPassLint, promtoolAvailable } from '../../../scripts/test/support/promtool.js';
import { createCache, type KeelCache } from '../src/cache/cache.js';
import type { CacheOptions } from '../src/cache/cache-options.js';
import { createFakeClock, type FakeClock, KeelError, KeelErrorCode } from '../src/index.js';
import { cacheMetricFamilies } from '../src/prometheus/cache-metrics.js';
import { renderMetric } from '../src/prometheus/exposition.js';

function setup<V = string>(options: Partial<CacheOptions<V>> = {}) {
  const clock = createFakeClock();
  const reportError = vi.fn<(where: string, error: unknown) => void>();
  const cache = createCache<V>({ clock, reportError }, { name: 'test', ...options });
  return { clock, reportError, cache };
}

/** The caches' families as `/metrics` writes them ('' with none). */
const renderCacheMetrics = (caches: Parameters<typeof cacheMetricFamilies>[0]) =>
  cacheMetricFamilies(caches)
    .map((f) => renderMetric(f.name, f.type, f.help, f.samples))
    .join('');

/** A loader whose calls are counted and settled by the test. */
function deferredLoader<V>() {
  const calls: { resolve(value: V): void; reject(error: unknown): void; signal: AbortSignal }[] = [];
  const load = vi.fn(
    (signal: AbortSignal) => new Promise<V>((resolve, reject) => calls.push({ resolve, reject, signal })),
  );
  return { load, calls };
}

// Loaders start a microtask after the read; this lets them run and settle.
const settle = (clock: FakeClock) => clock.advanceAsync(0);

describe('cache: single-flight', () => {
  it('100 concurrent misses of one key call the loader once and all get its value', async () => {
    const { cache, clock } = setup();
    const { load, calls } = deferredLoader<string>();
    const reads = Array.from({ length: 100 }, () => cache.get('user:1', load));
    await settle(clock);
    expect(load).toHaveBeenCalledTimes(1);
    calls[0]!.resolve('ada');
    expect(await Promise.all(reads)).toEqual(Array(100).fill('ada'));
    expect(cache.stats()).toMatchObject({ misses: 100, hits: 0, loads: 1, loading: 0, entries: 1 });
  });

  it('different keys load independently', async () => {
    const { cache } = setup();
    const load = vi.fn(async () => 'v');
    await Promise.all([cache.get('a', load), cache.get('b', load), cache.get('a', load)]);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('a fresh hit skips the loader and hands out one shared settled promise', async () => {
    const { cache } = setup();
    await cache.get('k', () => 'v');
    const load = vi.fn(() => 'other');
    const first = cache.get('k', load);
    // The same promise each time: a hit allocates none of its own.
    expect(cache.get('k', load)).toBe(first);
    expect(await first).toBe('v');
    expect(load).not.toHaveBeenCalled();
    expect(cache.stats()).toMatchObject({ hits: 2, misses: 1 });
  });

  it('a failing load rejects every waiter, caches nothing, and the next read retries', async () => {
    const { cache, clock, reportError } = setup();
    const { load, calls } = deferredLoader<string>();
    const reads = Array.from({ length: 10 }, () => cache.get('k', load));
    await settle(clock);
    const boom = new Error('db down');
    calls[0]!.reject(boom);
    const results = await Promise.allSettled(reads);
    expect(results.every((r) => r.status === 'rejected' && r.reason === boom)).toBe(true);
    expect(cache.size).toBe(0);
    expect(cache.stats()).toMatchObject({ loads: 0, loadErrors: 1 });
    // The caller got the error; reporting it as well would log it twice.
    expect(reportError).not.toHaveBeenCalled();

    await expect(cache.get('k', () => 'recovered')).resolves.toBe('recovered');
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('a loader that throws synchronously rejects instead of throwing', async () => {
    const { cache } = setup();
    const read = cache.get('k', () => {
      throw new Error('sync');
    });
    await expect(read).rejects.toThrow('sync');
  });
});

describe('cache: freshness', () => {
  it('serves stale within staleWhileRevalidate, refreshes once for a burst, then serves the new value', async () => {
    const { cache, clock } = setup({ ttl: 1000, staleWhileRevalidate: 5000 });
    await cache.get('k', () => 'v1');
    clock.advance(1500);

    const { load, calls } = deferredLoader<string>();
    const reads = Array.from({ length: 50 }, () => cache.get('k', load));
    expect(await Promise.all(reads)).toEqual(Array(50).fill('v1'));
    await settle(clock);
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ stale: 50, loading: 1 });

    calls[0]!.resolve('v2');
    await settle(clock);
    const other = vi.fn(() => 'v3');
    expect(await cache.get('k', other)).toBe('v2');
    expect(other).not.toHaveBeenCalled();
    expect(cache.stats()).toMatchObject({ hits: 1, stale: 50, misses: 1, loads: 2 });
  });

  it('an entry is a miss again after ttl + staleWhileRevalidate', async () => {
    const { cache, clock } = setup({ ttl: 1000, staleWhileRevalidate: 500 });
    await cache.get('k', () => 'v1');
    clock.advance(1499);
    expect(cache.peek('k')).toBe('v1');
    clock.advance(1);
    expect(cache.peek('k')).toBeUndefined();
    const load = vi.fn(() => 'v2');
    expect(await cache.get('k', load)).toBe('v2');
    expect(load).toHaveBeenCalledTimes(1);
    expect(cache.stats()).toMatchObject({ misses: 2, stale: 0 });
  });

  it('without staleWhileRevalidate an entry is a miss right at ttl', async () => {
    const { cache, clock } = setup({ ttl: 1000 });
    await cache.get('k', () => 'v1');
    clock.advance(999);
    expect(await cache.get('k', () => 'v2')).toBe('v1');
    clock.advance(1);
    expect(await cache.get('k', () => 'v2')).toBe('v2');
  });

  it('a failing refresh keeps serving stale, reports each failure once, and the entry still expires', async () => {
    const { cache, clock, reportError } = setup({ ttl: 1000, staleWhileRevalidate: 5000 });
    await cache.get('k', () => 'v1');
    clock.advance(2000);
    const failing = vi.fn(async () => {
      throw new Error('upstream 503');
    });

    for (let attempt = 1; attempt <= 3; attempt++) {
      const reads = Array.from({ length: 20 }, () => cache.get('k', failing));
      expect(await Promise.all(reads)).toEqual(Array(20).fill('v1'));
      await settle(clock);
      expect(failing).toHaveBeenCalledTimes(attempt);
      expect(reportError).toHaveBeenCalledTimes(attempt);
    }
    const [where, error] = reportError.mock.calls[0]!;
    expect(where).toBe('cache-refresh:test');
    expect((error as KeelError).code).toBe(KeelErrorCode.CallbackFailed);
    expect(cache.stats()).toMatchObject({ loadErrors: 3, stale: 60 });

    clock.advance(4000);
    await expect(cache.get('k', failing)).rejects.toThrow('upstream 503');
    // A foreground failure belongs to its caller, not to the error report.
    expect(reportError).toHaveBeenCalledTimes(3);
  });

  it('ttl 0 with no staleWhileRevalidate only shares concurrent loads', async () => {
    const { cache, clock } = setup({ ttl: 0 });
    const { load, calls } = deferredLoader<string>();
    const reads = [cache.get('k', load), cache.get('k', load)];
    await settle(clock);
    calls[0]!.resolve('v');
    expect(await Promise.all(reads)).toEqual(['v', 'v']);
    expect(cache.size).toBe(0);
  });

  it('prune drops expired entries only', async () => {
    const { cache, clock } = setup({ ttl: 1000 });
    cache.set('old', 'a');
    clock.advance(600);
    cache.set('new', 'b');
    clock.advance(500);
    expect(cache.prune()).toBe(1);
    expect(cache.size).toBe(1);
    expect(cache.peek('new')).toBe('b');
  });
});

describe('cache: loadTimeout', () => {
  it('rejects the waiters with KEEL_LOAD_TIMEOUT, aborts the signal and lets the next read retry', async () => {
    const { cache, clock } = setup({ loadTimeout: 500 });
    const { load, calls } = deferredLoader<string>();
    const reads = [cache.get('k', load), cache.get('k', load)];
    const outcome = Promise.allSettled(reads);
    await clock.advanceAsync(500);
    const results = await outcome;
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason.code).toBe(KeelErrorCode.LoadTimeout);
    }
    expect(calls[0]!.signal.aborted).toBe(true);
    // The late answer is dropped.
    calls[0]!.resolve('late');
    await settle(clock);
    expect(cache.size).toBe(0);
    expect(cache.stats().loadErrors).toBe(1);
    await expect(cache.get('k', () => 'retried')).resolves.toBe('retried');
    expect(clock.pending()).toBe(0);
  });
});

describe('cache: writes during a load', () => {
  it('delete and set detach a running load: its callers get its value, the cache keeps the newer state', async () => {
    const { cache, clock } = setup();
    const { load, calls } = deferredLoader<string>();
    const deleted = cache.get('a', load);
    const replaced = cache.get('b', load);
    await settle(clock);
    cache.delete('a');
    cache.set('b', 'explicit');
    calls[0]!.resolve('loaded-a');
    calls[1]!.resolve('loaded-b');
    expect(await deleted).toBe('loaded-a');
    expect(await replaced).toBe('loaded-b');
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.peek('b')).toBe('explicit');
  });

  it('clear drops entries and detaches running loads', async () => {
    const { cache, clock } = setup();
    cache.set('a', '1');
    const { load, calls } = deferredLoader<string>();
    const read = cache.get('b', load);
    await settle(clock);
    cache.clear();
    calls[0]!.resolve('2');
    expect(await read).toBe('2');
    expect(cache.size).toBe(0);
    expect(cache.stats().evictions).toBe(0);
  });
});

describe('cache: bounds', () => {
  it('evicts the least recently used entry past max, and counts it', async () => {
    const { cache } = setup({ max: 2 });
    cache.set('a', '1');
    cache.set('b', '2');
    await cache.get('a', () => 'unused'); // a is now more recent than b
    cache.set('c', '3');
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.peek('a')).toBe('1');
    expect(cache.size).toBe(2);
    cache.delete('a');
    cache.set('c', '4');
    expect(cache.stats().evictions).toBe(1);
  });

  it('evicts by estimated bytes past maxBytes, and counts it', () => {
    const { cache } = setup({ maxBytes: 100 });
    const twenty = 'x'.repeat(20); // 40 bytes as UTF-16
    cache.set('a', twenty);
    cache.set('b', twenty);
    expect(cache.bytes).toBe(80);
    cache.set('c', twenty);
    expect(cache.bytes).toBe(80);
    expect(cache.peek('a')).toBeUndefined();
    expect(cache.stats()).toMatchObject({ evictions: 1, entries: 2, bytes: 80 });
  });

  it('returns but does not cache a value larger than maxBytes', async () => {
    const { cache } = setup({ maxBytes: 100 });
    expect(await cache.get('big', () => 'y'.repeat(51))).toBe('y'.repeat(51));
    expect(cache.size).toBe(0);
  });

  it('sizes buffers by byteLength and objects by their JSON by default', () => {
    const { cache } = setup<unknown>({ maxBytes: 10_000 });
    cache.set('buf', Buffer.alloc(300));
    expect(cache.bytes).toBe(300);
    cache.set('obj', { id: 1 }); // {"id":1}: 8 characters
    expect(cache.bytes).toBe(316);
  });

  it('a custom sizeOf that fails is reported and the value goes uncached', async () => {
    const { cache, reportError } = setup<number>({
      maxBytes: 100,
      sizeOf: (v) => (v > 1 ? Number.NaN : 8),
    });
    expect(await cache.get('k', () => 1)).toBe(1);
    expect(await cache.get('j', () => 2)).toBe(2);
    expect(cache.size).toBe(1);
    expect(reportError).toHaveBeenCalledTimes(1);
    expect(reportError.mock.calls[0]![0]).toBe('cache-size:test');
  });

  it('bytes is null when sizes are not measured', () => {
    const { cache } = setup();
    cache.set('a', 'x');
    expect(cache.bytes).toBeNull();
  });
});

describe('cache: options', () => {
  const deps = { clock: createFakeClock(), reportError() {} };
  it.each<[string, unknown]>([
    ['missing name', {}],
    ['bad name', { name: 'has space' }],
    ['too long a name', { name: 'n'.repeat(65) }],
    ['max 0', { name: 'c', max: 0 }],
    ['fractional max', { name: 'c', max: 1.5 }],
    ['huge max', { name: 'c', max: 1e9 }],
    ['negative maxBytes', { name: 'c', maxBytes: -1 }],
    ['sizeOf without maxBytes', { name: 'c', sizeOf: () => 1 }],
    ['sizeOf not a function', { name: 'c', maxBytes: 10, sizeOf: 3 }],
    ['negative ttl', { name: 'c', ttl: -1 }],
    ['NaN ttl', { name: 'c', ttl: Number.NaN }],
    ['string staleWhileRevalidate', { name: 'c', staleWhileRevalidate: '5s' }],
    ['loadTimeout 0', { name: 'c', loadTimeout: 0 }],
    ['loadTimeout past the timer limit', { name: 'c', loadTimeout: 2 ** 31 }],
    ['an unknown option', { name: 'c', ttlMs: 5 }],
    ['not an object', 'c'],
  ])('%s throws KEEL_INVALID_OPTION', (_, options) => {
    let caught: unknown;
    try {
      createCache(deps, options as CacheOptions<string>);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(KeelError);
    expect((caught as KeelError).code).toBe(KeelErrorCode.InvalidOption);
  });

  it('applies defaults into a frozen config without touching the caller’s options', () => {
    const options = { name: 'c', ttl: Number.POSITIVE_INFINITY };
    const cache = createCache(deps, options);
    expect(cache.config).toEqual({
      name: 'c',
      max: 1000,
      maxBytes: undefined,
      ttl: Number.POSITIVE_INFINITY,
      staleWhileRevalidate: 0,
      loadTimeout: undefined,
    });
    expect(Object.isFrozen(cache.config)).toBe(true);
    expect(options).toEqual({ name: 'c', ttl: Number.POSITIVE_INFINITY });
  });
});

describe('cache: wrap', () => {
  it('memoises by key', async () => {
    const { cache } = setup<{ id: string }>();
    const fetchUser = vi.fn(async (id: string) => ({ id }));
    const getUser = cache.wrap(fetchUser);
    const [a1, a2, b] = await Promise.all([getUser('a'), getUser('a'), getUser('b')]);
    expect(a1).toBe(a2);
    expect(b).toEqual({ id: 'b' });
    expect(await getUser('a')).toBe(a1);
    expect(fetchUser).toHaveBeenCalledTimes(2);
    expect(cache.peek('a')).toBe(a1);
  });

  it('keys several arguments by their JSON, or by keyOf', async () => {
    const { cache } = setup<number>();
    const add = vi.fn((a: number, b: number) => a + b);
    const cachedAdd = cache.wrap(add);
    expect(await cachedAdd(1, 2)).toBe(3);
    expect(await cachedAdd(1, 2)).toBe(3);
    expect(add).toHaveBeenCalledTimes(1);
    expect(cache.peek('[1,2]')).toBe(3);

    const byFirst = cache.wrap(add, (a) => `first:${a}`);
    expect(await byFirst(5, 1)).toBe(6);
    expect(await byFirst(5, 100)).toBe(6);
  });

  it('a failing keyOf calls through uncached and is reported', async () => {
    const { cache, reportError } = setup<number>();
    const double = cache.wrap(
      (n: number) => n * 2,
      () => {
        throw new Error('bad key');
      },
    );
    expect(await double(4)).toBe(8);
    expect(cache.size).toBe(0);
    expect(reportError.mock.calls[0]![0]).toBe('cache-key:test');
  });
});

describe('cache: stats and metrics', () => {
  it('stats is a frozen snapshot with the hit ratio', async () => {
    const { cache, clock } = setup({ ttl: 100, staleWhileRevalidate: 100 });
    expect(cache.hitRatio()).toBeNull();
    await cache.get('k', () => 'v');
    await cache.get('k', () => 'v');
    clock.advance(150);
    await cache.get('k', () => 'v');
    const stats = cache.stats();
    expect(Object.isFrozen(stats)).toBe(true);
    expect(stats.hitRatio).toBeCloseTo(2 / 3);
    await cache.get('k', () => 'v');
    expect(stats.hits).toBe(1);
  });

  async function twoCaches(): Promise<KeelCache<unknown>[]> {
    const clock = createFakeClock();
    const deps = { clock, reportError() {} };
    const users = createCache<{ id: number }>(deps, { name: 'users', max: 1 });
    const pages = createCache<string>(deps, { name: 'pages', maxBytes: 1000 });
    await users.get('1', () => ({ id: 1 }));
    await users.get('1', () => ({ id: 1 }));
    await users.get('2', () => ({ id: 2 }));
    await pages.get('/', () => 'hello').catch(() => {});
    await pages.get('/x', () => Promise.reject(new Error('404'))).catch(() => {});
    // KeelCache<V> is accepted where KeelCache<unknown> is expected.
    return [users, pages];
  }

  it('renders requests, loads, evictions, entries and bytes', async () => {
    const text = renderCacheMetrics(await twoCaches());
    for (const line of [
      '# TYPE keel_cache_requests_total counter',
      'keel_cache_requests_total{cache="users",result="hit"} 1',
      'keel_cache_requests_total{cache="users",result="miss"} 2',
      'keel_cache_requests_total{cache="users",result="stale"} 0',
      'keel_cache_loads_total{cache="users",outcome="ok"} 2',
      'keel_cache_loads_total{cache="pages",outcome="error"} 1',
      'keel_cache_evictions_total{cache="users"} 1',
      '# TYPE keel_cache_entries gauge',
      'keel_cache_entries{cache="users"} 1',
      'keel_cache_size_bytes{cache="pages"} 10',
    ]) {
      expect(text).toContain(`${line}\n`);
    }
    // Only caches that measure sizes have a bytes series.
    expect(text).not.toContain('keel_cache_size_bytes{cache="users"}');
    expect(renderCacheMetrics([])).toBe('');
  });

  it.skipIf(!promtoolAvailable('promtool check metrics on the cache families'))(
    'passes promtool check metrics',
    async () => {
      expectMetricsPassLint(renderCacheMetrics(await twoCaches()));
    },
  );
});
