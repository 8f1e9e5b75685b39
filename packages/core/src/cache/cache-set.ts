import { NamedSet } from '../named-set.js';
import { type CacheDeps, type CacheStats, createCache, type KeelCache } from './cache.js';
import type { CacheOptions } from './cache-options.js';

/** The caches one instance made (`keel.cache()`), by their unique name. */
export class CacheSet {
  readonly #caches = new NamedSet<KeelCache<unknown>>('keel.cache', 'cache.name');
  readonly #deps: CacheDeps;

  /** Every cache runs on the instance's clock and reports to its `onError`. */
  constructor(deps: CacheDeps) {
    this.#deps = deps;
  }

  /** A new cache; a name already in use on this instance is refused (`KEEL_INVALID_OPTION`). */
  create<V>(options: CacheOptions<V>): KeelCache<V> {
    this.#caches.checkFree(options?.name);
    const cache = createCache<V>(this.#deps, options);
    this.#caches.add(cache as KeelCache<unknown>);
    return cache;
  }

  /** A fresh array, oldest first. */
  list(): KeelCache<unknown>[] {
    return this.#caches.list();
  }

  stats(): CacheStats[] {
    return this.list().map((c) => c.stats());
  }

  /** Expired entries leave every cache, so its gauges tell the truth (once per interval). */
  prune(): void {
    for (const cache of this.#caches.values()) cache.prune();
  }
}
