import { LRUCache } from 'lru-cache';
import type { Clock } from '../clock.js';
import { KeelError, KeelErrorCode } from '../errors.js';
import { type CacheConfig, type CacheOptions, resolveCacheOptions } from './cache-options.js';

/** What a cache needs from its Keel: time, and somewhere to send failures nobody awaits. */
export interface CacheDeps {
  readonly clock: Clock;
  reportError(where: string, error: unknown): void;
}

/** Loads a missing or stale value. The signal aborts when `loadTimeout` runs out. */
export type CacheLoader<V> = (signal: AbortSignal) => Promise<V> | V;

/** A cache's counters since it was created, plus its size now. */
export interface CacheStats {
  readonly name: string;
  /** Reads answered from a fresh entry. */
  readonly hits: number;
  /** Reads answered from a stale entry (within `staleWhileRevalidate`) while it was refreshed. */
  readonly stale: number;
  /** Reads that had to wait for a load (their own or one already running). */
  readonly misses: number;
  /** Loader calls that resolved. */
  readonly loads: number;
  /** Loader calls that rejected, threw or timed out. */
  readonly loadErrors: number;
  /** Entries pushed out by `max` or `maxBytes`; deletes, replacements and expiry are not counted. */
  readonly evictions: number;
  /** Loads running now. */
  readonly loading: number;
  /** Entries held now, including expired ones not yet read or pruned. */
  readonly entries: number;
  /** Estimated bytes held now; `null` when `maxBytes` is not set and sizes are not measured. */
  readonly bytes: number | null;
  /** (hits + stale) / all reads; `null` before the first read. */
  readonly hitRatio: number | null;
}

// Holds `unknown`, not V: lru-cache's option types would make KeelCache<V>
// invariant, and a Keel keeps its caches together as KeelCache<unknown>.
// Only `#store` writes entries, always with a V.
interface Entry {
  readonly value: unknown;
  readonly storedAt: number;
  readonly size: number;
  // Made by the first read and handed to every later one, so a hit allocates no promise.
  resolved: Promise<unknown> | undefined;
}

type AnyFunction = (...args: never[]) => unknown;

// Handed to loaders when there is no `loadTimeout`: nothing will ever abort it.
const NEVER_ABORTED = new AbortController().signal;
const ignore = () => {};

/**
 * An LRU cache with TTL, stale-while-revalidate and single-flight loads.
 *
 * lru-cache holds the entries and enforces `max` and `maxBytes`; freshness is
 * judged here from the Keel clock (lru-cache's own TTL reads `performance.now()`,
 * which a fake clock cannot move). An entry's age decides what a read gets:
 *
 * ```
 * storedAt        + ttl                  + staleWhileRevalidate
 *    |---- fresh ----|---- stale: served, one refresh ----|---- expired: a miss
 * ```
 *
 * Every key has at most one load running; concurrent misses (and stale reads)
 * share it. After setup nothing here throws: a load's failure rejects the
 * reads waiting on it, and failures nobody waits on go to `reportError`.
 */
export class KeelCache<V> {
  readonly config: CacheConfig<V>;
  readonly #lru: LRUCache<string, Entry>;
  readonly #inflight = new Map<string, Promise<V>>();
  readonly #clock: Clock;
  readonly #reportError: CacheDeps['reportError'];
  readonly #ttl: number;
  readonly #baseServable: number;
  // ttl + staleWhileRevalidate, plus the extension while `serveStale` is on.
  #servable: number;
  readonly #refreshWhere: string;
  readonly #sizeWhere: string;
  readonly #keyWhere: string;
  #hits = 0;
  #stale = 0;
  #misses = 0;
  #loads = 0;
  #loadErrors = 0;
  #evictions = 0;

  /** Prefer `createCache` (or `keel.cache`). Invalid options throw `KEEL_INVALID_OPTION`. */
  constructor(deps: CacheDeps, options: CacheOptions<V>) {
    this.config = resolveCacheOptions(options);
    if (typeof deps?.clock?.now !== 'function' || typeof deps.reportError !== 'function') {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        'createCache: `deps` needs a `clock` and `reportError`.',
      );
    }
    this.#clock = deps.clock;
    this.#reportError = deps.reportError;
    const { name, max, maxBytes, ttl, staleWhileRevalidate } = this.config;
    this.#ttl = ttl;
    this.#baseServable = ttl + staleWhileRevalidate;
    this.#servable = this.#baseServable;
    this.#refreshWhere = `cache-refresh:${name}`;
    this.#sizeWhere = `cache-size:${name}`;
    this.#keyWhere = `cache-key:${name}`;
    this.#lru = new LRUCache<string, Entry>({
      max,
      ...(maxBytes === undefined ? {} : { maxSize: maxBytes, sizeCalculation: (entry) => entry.size }),
      dispose: (_entry, _key, reason) => {
        if (reason === 'evict') this.#evictions++;
      },
    });
  }

  get name(): string {
    return this.config.name;
  }

  /**
   * The value for `key`: from the cache when fresh (or stale within
   * `staleWhileRevalidate`, refreshing it in the background), else from
   * `load`, shared with every concurrent read of the same key. A failing load
   * rejects every read waiting on it and caches nothing; the next read retries.
   */
  get(key: string, load: CacheLoader<V>): Promise<V> {
    return this.#read(key, load, undefined);
  }

  /** The cached value if it may still be served, without counting a read, refreshing or touching recency. */
  peek(key: string): V | undefined {
    const entry = this.#lru.peek(key);
    if (entry === undefined || this.#clock.now() - entry.storedAt >= this.#servable) return undefined;
    return entry.value as V;
  }

  /** Stores `value` as fresh. A load of `key` already running still answers its callers but no longer writes. */
  set(key: string, value: V): void {
    this.#inflight.delete(key);
    this.#store(key, value);
  }

  /** Drops `key`. A load of it already running still answers its callers but does not write back. */
  delete(key: string): boolean {
    this.#inflight.delete(key);
    return this.#lru.delete(key);
  }

  /** Drops every entry; running loads still answer their callers but do not write back. */
  clear(): void {
    this.#inflight.clear();
    this.#lru.clear();
  }

  /**
   * Drops entries past `ttl + staleWhileRevalidate`. Reads drop them anyway;
   * this only frees their memory (and the `entries` count) sooner. Returns how many went.
   */
  prune(): number {
    const now = this.#clock.now();
    const expired: string[] = [];
    for (const [key, entry] of this.#lru.entries()) {
      if (now - entry.storedAt >= this.#servable) expired.push(key);
    }
    for (const key of expired) this.#lru.delete(key);
    return expired.length;
  }

  /**
   * `fn`, memoised through this cache. `keyOf` maps the arguments to a key;
   * by default a single string argument is its own key and anything else is
   * keyed by its JSON. If `keyOf` fails, that call goes to `fn` uncached and the
   * failure is reported.
   */
  wrap<A extends unknown[]>(
    fn: (...args: A) => Promise<V> | V,
    keyOf?: (...args: A) => string,
  ): (...args: A) => Promise<V> {
    if (typeof fn !== 'function') {
      throw new KeelError(KeelErrorCode.InvalidOption, `cache "${this.config.name}": wrap needs a function.`);
    }
    if (keyOf !== undefined && typeof keyOf !== 'function') {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `cache "${this.config.name}": wrap's \`keyOf\` must be a function.`,
      );
    }
    return (...args: A) => {
      let key: string;
      try {
        key = keyOf === undefined ? defaultKey(args) : keyOf(...args);
        if (typeof key !== 'string') throw new TypeError(`keyOf returned a ${typeof key}, not a string`);
      } catch (error) {
        this.#fail(this.#keyWhere, 'computing a key failed; the call went uncached', error);
        return Promise.resolve().then(() => fn(...args));
      }
      return this.#read(key, fn, args);
    };
  }

  /**
   * Degraded mode, for an incident (the monitor's "serve stale cache"
   * mitigation): entries stay servable `extendMs` longer than
   * `ttl + staleWhileRevalidate`, answered at once while one background
   * refresh per key runs, so users stop waiting on a slow or failing loader.
   * `false` (or 0) returns to normal. Only entries still held can be served.
   */
  serveStale(extendMs: number | false): void {
    const extra = extendMs === false ? 0 : extendMs;
    if (!(extra >= 0)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `cache "${this.config.name}": serveStale needs a number of ms >= 0 or false.`,
      );
    }
    this.#servable = this.#baseServable + extra;
  }

  /** How much longer than normal entries are served, ms (0 unless `serveStale` is on). */
  get staleExtension(): number {
    return this.#servable - this.#baseServable;
  }

  /** Entries held now, including expired ones not yet read or pruned. */
  get size(): number {
    return this.#lru.size;
  }

  /** Estimated bytes held now; `null` when `maxBytes` is not set and sizes are not measured. */
  get bytes(): number | null {
    return this.config.maxBytes === undefined ? null : this.#lru.calculatedSize;
  }

  /** (hits + stale) / all reads; `null` before the first read. */
  hitRatio(): number | null {
    const served = this.#hits + this.#stale;
    const reads = served + this.#misses;
    return reads === 0 ? null : served / reads;
  }

  stats(): CacheStats {
    return Object.freeze({
      name: this.config.name,
      hits: this.#hits,
      stale: this.#stale,
      misses: this.#misses,
      loads: this.#loads,
      loadErrors: this.#loadErrors,
      evictions: this.#evictions,
      loading: this.#inflight.size,
      entries: this.#lru.size,
      bytes: this.bytes,
      hitRatio: this.hitRatio(),
    });
  }

  // `args` is set for `wrap`: `fn` is then called with them instead of a signal,
  // so a wrapped call needs no closure per read.
  #read(key: string, fn: AnyFunction, args: unknown[] | undefined): Promise<V> {
    const entry = this.#lru.get(key);
    if (entry !== undefined) {
      const age = this.#clock.now() - entry.storedAt;
      if (age < this.#ttl) {
        this.#hits++;
        entry.resolved ??= Promise.resolve(entry.value);
        return entry.resolved as Promise<V>;
      }
      if (age < this.#servable) {
        this.#stale++;
        if (!this.#inflight.has(key)) this.#load(key, fn, args, true);
        entry.resolved ??= Promise.resolve(entry.value);
        return entry.resolved as Promise<V>;
      }
      this.#lru.delete(key);
    }
    this.#misses++;
    return this.#inflight.get(key) ?? this.#load(key, fn, args, false);
  }

  #load(key: string, fn: AnyFunction, args: unknown[] | undefined, background: boolean): Promise<V> {
    const timeout = this.config.loadTimeout;
    const controller = timeout === undefined ? undefined : new AbortController();
    const signal = controller?.signal ?? NEVER_ABORTED;
    // The loader starts a microtask later, so a synchronous throw rejects the
    // waiters like an async one instead of escaping into the caller.
    let loading = Promise.resolve().then(
      () =>
        (args === undefined ? (fn as CacheLoader<V>)(signal) : Reflect.apply(fn, undefined, args)) as
          | V
          | Promise<V>,
    );
    if (controller !== undefined) loading = this.#deadline(loading, controller, timeout!);
    const flight: Promise<V> = loading.then(
      (value) => {
        this.#loads++;
        // A set, delete or clear since the load began detached it: its value is stale news.
        if (this.#inflight.get(key) === flight) {
          this.#inflight.delete(key);
          this.#store(key, value);
        }
        return value;
      },
      (error: unknown) => {
        this.#loadErrors++;
        if (this.#inflight.get(key) === flight) this.#inflight.delete(key);
        if (background) this.#fail(this.#refreshWhere, 'refreshing a stale entry failed', error);
        throw error;
      },
    );
    this.#inflight.set(key, flight);
    // Nobody awaits a background refresh; its failure was reported above.
    if (background) flight.catch(ignore);
    return flight;
  }

  #deadline(loading: Promise<V>, controller: AbortController, ms: number): Promise<V> {
    return new Promise<V>((resolve, reject) => {
      const timer = this.#clock.setTimeout(() => {
        const error = new KeelError(
          KeelErrorCode.LoadTimeout,
          `cache "${this.config.name}": load did not settle within ${ms} ms`,
        );
        controller.abort(error);
        reject(error);
      }, ms);
      // After the timeout these settle an already-settled promise: the late result is dropped.
      loading.then(
        (value) => {
          this.#clock.clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          this.#clock.clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  #store(key: string, value: V): void {
    // With `ttl` and `staleWhileRevalidate` both 0 nothing could ever be served: keep nothing.
    if (this.#baseServable === 0) return;
    let size = 1;
    const { sizeOf } = this.config;
    if (sizeOf !== undefined) {
      try {
        size = sizeOf(value);
        if (!(Number.isFinite(size) && size >= 0)) {
          throw new TypeError(`sizeOf returned ${String(size)}, not a finite number >= 0`);
        }
      } catch (error) {
        // The old entry is outdated either way; serving it on would hide the failure.
        this.#lru.delete(key);
        this.#fail(this.#sizeWhere, 'sizing a value failed; it was returned but not cached', error);
        return;
      }
      // lru-cache requires a positive integer size.
      size = Math.max(1, Math.ceil(size));
    }
    this.#lru.set(key, { value, storedAt: this.#clock.now(), size, resolved: undefined });
  }

  #fail(where: string, what: string, error: unknown): void {
    try {
      const reported =
        error instanceof KeelError
          ? error
          : new KeelError(
              KeelErrorCode.CallbackFailed,
              `cache "${this.config.name}": ${what}: ${error instanceof Error ? error.message : String(error)}`,
              { cause: error },
            );
      this.#reportError(where, reported);
    } catch {
      // A throwing reporter must not turn a caught failure into a crash.
    }
  }
}

/** Creates a cache on `deps.clock` that reports to `deps.reportError`. Invalid options throw `KEEL_INVALID_OPTION`. */
export function createCache<V>(deps: CacheDeps, options: CacheOptions<V>): KeelCache<V> {
  return new KeelCache(deps, options);
}

function defaultKey(args: readonly unknown[]): string {
  return args.length === 1 && typeof args[0] === 'string' ? args[0] : JSON.stringify(args);
}
