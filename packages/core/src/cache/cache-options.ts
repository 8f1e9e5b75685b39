import { checkKnownKeys, invalidOptionOf, type KeelError } from '../errors.js';

export interface CacheOptions<V> {
  /** Names the cache in metrics, reports and errors: 1-64 letters, digits, "_", "." or "-". */
  name: string;
  /**
   * Most entries held; past it the least recently used entry is evicted.
   * lru-cache reserves about 24 bytes per slot up front, so size it to what you need.
   * @default 1000
   */
  max?: number;
  /**
   * Most bytes held, as estimated by `sizeOf`, on top of `max`. A value larger
   * than this on its own is returned to its callers but not cached.
   * @default unbounded (sizes are not measured)
   */
  maxBytes?: number;
  /**
   * Estimated size of a value in bytes; only used with `maxBytes`.
   * @default Buffers and typed arrays: their byteLength; strings: 2 bytes per
   * UTF-16 unit; anything else: 2 bytes per character of its JSON
   */
  sizeOf?(value: V): number;
  /**
   * How long an entry stays fresh after it was stored, ms. `Infinity`: until
   * evicted. `0` with no `staleWhileRevalidate` keeps nothing: concurrent
   * loads of a key are still shared. @default 60000
   */
  ttl?: number;
  /**
   * How long after `ttl` a stale entry may still be served, ms, while one
   * background refresh replaces it. A failing refresh is reported and the stale
   * value stays until this runs out. @default 0
   */
  staleWhileRevalidate?: number;
  /**
   * A load that has not settled after this long rejects its waiters with a
   * `KeelError` (`KEEL_LOAD_TIMEOUT`) and aborts the signal the loader received;
   * its late result is discarded. @default no limit
   */
  loadTimeout?: number;
}

/** The options after validation and defaults, frozen. */
export interface CacheConfig<V> {
  readonly name: string;
  readonly max: number;
  readonly maxBytes: number | undefined;
  /** Set exactly when `maxBytes` is: the caller's `sizeOf` or the default estimate. */
  // Method syntax keeps `KeelCache<User>` assignable to `KeelCache<unknown>`.
  sizeOf?(value: V): number;
  readonly ttl: number;
  readonly staleWhileRevalidate: number;
  readonly loadTimeout: number | undefined;
}

const NAME = /^[\w.-]{1,64}$/;
// lru-cache preallocates its slot arrays at construction, so a typo like 1e9 would cost gigabytes at once.
const MAX_ENTRIES = 2 ** 24;
// Node clamps longer timer delays to 1 ms (TimeoutOverflowWarning): the timeout would fire at once.
const MAX_TIMER_MS = 2 ** 31 - 1;
const KNOWN = new Set(['name', 'max', 'maxBytes', 'sizeOf', 'ttl', 'staleWhileRevalidate', 'loadTimeout']);

const isPositiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isDuration = (v: unknown): v is number =>
  v === Number.POSITIVE_INFINITY || (Number.isSafeInteger(v) && (v as number) >= 0);

/** Validates a cache's options and applies the defaults; the only place defaults live. */
export function resolveCacheOptions<V>(options: CacheOptions<V>): CacheConfig<V> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalid('', 'must be an object with at least `name`', options);
  }
  const o = options as Partial<Record<keyof CacheOptions<V>, unknown>>;
  checkKnownKeys(options, KNOWN, invalid);
  if (typeof o.name !== 'string' || !NAME.test(o.name)) {
    throw invalid('name', 'must be 1-64 letters, digits, "_", "." or "-"', o.name);
  }
  const max = o.max ?? 1000;
  if (!isPositiveInteger(max) || max > MAX_ENTRIES) {
    throw invalid('max', `must be an integer from 1 to ${MAX_ENTRIES}`, max);
  }
  if (o.maxBytes !== undefined && !isPositiveInteger(o.maxBytes)) {
    throw invalid('maxBytes', 'must be a positive integer (bytes)', o.maxBytes);
  }
  if (o.sizeOf !== undefined) {
    if (typeof o.sizeOf !== 'function') throw invalid('sizeOf', 'must be a function', o.sizeOf);
    if (o.maxBytes === undefined)
      throw invalid('sizeOf', 'is only used with `cache.maxBytes`; set it', o.sizeOf);
  }
  const ttl = o.ttl ?? 60_000;
  if (!isDuration(ttl)) throw invalid('ttl', 'must be an integer >= 0 (ms) or Infinity', ttl);
  const staleWhileRevalidate = o.staleWhileRevalidate ?? 0;
  if (!isDuration(staleWhileRevalidate)) {
    throw invalid('staleWhileRevalidate', 'must be an integer >= 0 (ms) or Infinity', staleWhileRevalidate);
  }
  if (o.loadTimeout !== undefined && !(isPositiveInteger(o.loadTimeout) && o.loadTimeout <= MAX_TIMER_MS)) {
    throw invalid('loadTimeout', `must be an integer from 1 to ${MAX_TIMER_MS} (ms)`, o.loadTimeout);
  }
  const config: CacheConfig<V> = {
    name: o.name,
    max,
    maxBytes: o.maxBytes,
    ttl,
    staleWhileRevalidate,
    loadTimeout: o.loadTimeout,
  };
  if (o.maxBytes !== undefined) config.sizeOf = (o.sizeOf as CacheOptions<V>['sizeOf']) ?? defaultSizeOf;
  return Object.freeze(config);
}

/**
 * A rough estimate, meant to bound memory, not to measure it: JS strings take
 * 1 or 2 bytes per unit, objects carry headers and pointers JSON does not show.
 * Throws for values JSON cannot represent (BigInt, cycles); the cache reports
 * that and leaves the value uncached.
 */
export function defaultSizeOf(value: unknown): number {
  if (typeof value === 'string') return value.length * 2;
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value.byteLength;
  const json = JSON.stringify(value) as string | undefined;
  return json === undefined ? 0 : json.length * 2;
}

function invalid(option: string, rule: string, got: unknown): KeelError {
  const path = option ? `cache.${option}` : 'cache';
  return invalidOptionOf('keel.cache', path, rule, got);
}
