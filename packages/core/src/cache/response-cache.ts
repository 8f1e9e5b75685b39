import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { checkKnownKeys, invalidOptionOf, KeelError, KeelErrorCode } from '../errors.js';
import type { KeelCache } from './cache.js';
import type { CacheOptions } from './cache-options.js';

// What an HTTP adapter's response cache stores and how it answers, shared so
// @keel/express and @keel/fastify key, store, validate and 304 alike. Each
// adapter only captures the live answer, replays refreshes and writes the
// cached answer in its own framework's terms.

/** A route's response cache, as the adapters take it. */
export interface ResponseCacheOptions {
  /** Cache name in metrics (`keel_cache_requests_total{cache}`); unique per Keel. @default from the route (`@keel/fastify`), `http_<n>` in creation order (`@keel/express`) */
  name?: string;
  /** How long an answer is fresh, ms. @default 60000 */
  ttl?: number;
  /** How long after `ttl` a stale answer may still be served while one background refresh runs, ms. @default 0 */
  staleWhileRevalidate?: number;
  /**
   * Request headers that select a different answer (besides method and URL),
   * e.g. `['accept-language']`. A background refresh replays the request with
   * only these headers (and `accept`).
   * @default []
   */
  vary?: string[];
  /** Entries kept. @default 1000 */
  max?: number;
  /** Bytes of bodies kept. @default 50 MiB */
  maxBytes?: number;
  /** `Cache-Control` sent when the handler sets none; `false` sends none. @default `public, max-age=<ttl s>` */
  cacheControl?: string | false;
  /**
   * Cache answers to requests that carry `Authorization`; a background
   * refresh then replays the `Authorization` of the request that found the
   * answer stale. @default false
   */
  cacheAuthorized?: boolean;
  /**
   * How long identical requests wait on the one running the handler before
   * each runs its own, ms: a handler that hangs does not hold every request
   * for its URL. @default 30000
   */
  loadTimeout?: number;
}

/** Whatever makes caches, carries request contexts and takes failures: a Keel instance. */
export interface CacheOwner {
  cache<V>(options: CacheOptions<V>): KeelCache<V>;
  readonly context: { use(): void };
  reportError(where: string, error: unknown): void;
}

/** A stored answer: a 200 with its replayable headers (ETag always set) and body. */
export interface CachedResponse {
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly etag: string;
}

/** Per-request headers that must not be replayed from the cache. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'date',
  'server-timing',
  'set-cookie',
  'x-cache',
  'age',
]);
const KNOWN = new Set([
  'name',
  'ttl',
  'staleWhileRevalidate',
  'vary',
  'max',
  'maxBytes',
  'cacheControl',
  'cacheAuthorized',
  'loadTimeout',
]);
const HEADER_NAME = /^[\w-]+$/;
/** Longer keys (huge URLs, huge vary headers) bypass the cache instead of growing memory. */
const MAX_KEY_LENGTH = 4096;
/** Bookkeeping per entry on top of the body, for `maxBytes`. */
const ENTRY_OVERHEAD = 512;

/**
 * The HTTP half of a response cache, framework-agnostic: options checked at
 * startup, the key of a request, what may be stored, ETag and `If-None-Match`.
 */
export class ResponseCache {
  readonly cache: KeelCache<CachedResponse>;
  readonly vary: readonly string[];
  /** Sent when the handler set no `Cache-Control`; `false` for none. */
  readonly cacheControl: string | false;
  readonly cacheAuthorized: boolean;
  readonly #owner: CacheOwner;
  readonly #where: string;
  #varyError: KeelError | undefined;

  /**
   * @param owner makes the underlying cache: the Keel instance.
   * @param naming the default cache name, the option's path (`cache`,
   * `config.keel.cache`) and who is asking, for error messages
   * (`@keel/fastify: route GET /users/:id`).
   */
  constructor(
    owner: CacheOwner,
    options: ResponseCacheOptions,
    naming: { readonly name: string; readonly option: string; readonly where: string },
  ) {
    const { option, where } = naming;
    this.#owner = owner;
    this.#where = where;
    const fail = (key: string, rule: string, got: unknown) =>
      invalidOptionOf(where, `${option}${key}`, rule, got);
    if (typeof options !== 'object' || options === null || Array.isArray(options)) {
      throw fail('', 'must be an object', options);
    }
    checkKnownKeys(options, KNOWN, (key, rule, got) => fail(`.${key}`, rule, got));
    const vary = options.vary ?? [];
    if (!Array.isArray(vary) || !vary.every((h) => typeof h === 'string' && HEADER_NAME.test(h))) {
      throw fail('.vary', 'must be an array of header names', vary);
    }
    const { cacheControl, cacheAuthorized = false } = options;
    if (cacheControl !== undefined && cacheControl !== false && typeof cacheControl !== 'string') {
      throw fail('.cacheControl', 'must be a string or false', cacheControl);
    }
    if (typeof cacheAuthorized !== 'boolean') {
      throw fail('.cacheAuthorized', 'must be a boolean', cacheAuthorized);
    }
    const ttl = options.ttl ?? 60_000;
    this.vary = Object.freeze(vary.map((h) => h.toLowerCase()));
    this.cacheAuthorized = cacheAuthorized;
    // Infinity (cache until evicted) has no max-age to tell clients.
    this.cacheControl =
      cacheControl ?? (Number.isFinite(ttl) ? `public, max-age=${Math.floor(ttl / 1000)}` : 'public');
    // Cache time reaches Server-Timing through the request context.
    owner.context.use();
    try {
      // Core's cache checks ttl, max, maxBytes and the name itself.
      this.cache = owner.cache<CachedResponse>({
        name: options.name ?? naming.name,
        ttl,
        staleWhileRevalidate: options.staleWhileRevalidate ?? 0,
        max: options.max ?? 1000,
        maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
        sizeOf: (entry) => entry.body.length + ENTRY_OVERHEAD,
        loadTimeout: options.loadTimeout ?? 30_000,
      });
    } catch (error) {
      if (!(error instanceof KeelError)) throw error;
      throw new KeelError(error.code, `${where}: ${error.message}`, { cause: error });
    }
  }

  /** The cache key of a request, or `undefined` when it bypasses the cache. */
  keyOf(method: string, url: string, headers: IncomingHttpHeaders): string | undefined {
    if (method !== 'GET' && method !== 'HEAD') return undefined;
    if (!this.cacheAuthorized && headers.authorization !== undefined) return undefined;
    let key = url;
    for (const h of this.vary) key += `\n${h}:${String(headers[h] ?? '')}`;
    return key.length > MAX_KEY_LENGTH ? undefined : key;
  }

  /** The request headers a background refresh replays with. */
  replayHeaders(headers: IncomingHttpHeaders): Record<string, string> {
    const out: Record<string, string> = { accept: String(headers.accept ?? '*/*') };
    for (const h of this.vary) if (headers[h] !== undefined) out[h] = String(headers[h]);
    // The answer was cached for callers with credentials; without them the refresh would get a 401.
    if (this.cacheAuthorized && headers.authorization !== undefined)
      out.authorization = headers.authorization;
    return out;
  }

  /**
   * Why an answer must not be stored, in words, or `null` when it may be:
   * not a 200, `Set-Cookie`, `private`, `no-store` or `no-cache`, already
   * compressed (the stored headers would lose the encoding). A `Vary` beyond
   * the key is `entryOf`'s to judge. A background refresh reports this when
   * its answer cannot replace the stale entry (served until it expires).
   */
  static refusal(status: number, raw: OutgoingHttpHeaders): string | null {
    if (status !== 200) return `the app answered ${status}, not 200`;
    if (raw['set-cookie'] !== undefined) return 'the answer sets a cookie';
    if (raw['content-encoding'] !== undefined)
      return `the answer is already encoded (Content-Encoding: ${String(raw['content-encoding'])})`;
    const control = String(raw['cache-control'] ?? '').toLowerCase();
    const forbids = /\b(no-store|private|no-cache)\b/.exec(control);
    if (forbids) return `the answer says Cache-Control: ${forbids[1]}`;
    return null;
  }

  /**
   * A background refresh's answer as it will be stored. Throws, saying why,
   * when it cannot replace the stale entry (the cache reports it, once).
   */
  refreshedEntry(status: number, raw: OutgoingHttpHeaders, body: Buffer): CachedResponse {
    const entry = this.entryOf(status, raw, body);
    if (entry) return entry;
    throw new Error(
      ResponseCache.refusal(status, raw) ??
        'the answer varies on a header the cache key does not hold (reported at :vary)',
    );
  }

  /**
   * The answer as it would be stored, or `undefined` when it must not be
   * (`refusal`), or when it varies on a request header the key does not hold
   * (see `#variesBeyondKey`; reported unless `preview`, for a look at an
   * answer that is checked again later).
   */
  entryOf(
    status: number,
    raw: OutgoingHttpHeaders,
    body: Buffer,
    preview = false,
  ): CachedResponse | undefined {
    if (ResponseCache.refusal(status, raw) !== null) return undefined;
    const ownVary = varyOf(raw.vary);
    if (this.#variesBeyondKey(ownVary, preview)) return undefined;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
    }
    const etag =
      typeof raw.etag === 'string'
        ? raw.etag
        : `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`;
    headers.etag = etag;
    // Shared caches between us and the client must key on the same headers: the handler's and the key's.
    const missing = this.vary.filter((h) => !ownVary.includes(h));
    if (missing.length > 0) headers.vary = [...ownVary, ...missing].join(', ');
    if (this.cacheControl && headers['cache-control'] === undefined) {
      headers['cache-control'] = this.cacheControl;
    }
    return Object.freeze({ headers, body, etag });
  }

  /**
   * An answer whose own `Vary` names a request header the key does not hold
   * differs by that header, so stored it would be served to every value of
   * it (one language's page to all). Such answers are not stored, and the
   * first is reported so the option can be fixed. `Accept-Encoding` is fine:
   * the stored body is never encoded, and an identity body suits any client.
   */
  #variesBeyondKey(ownVary: readonly string[], preview: boolean): boolean {
    if (ownVary.length === 0) return false;
    const beyond = ownVary.filter((h) => h !== 'accept-encoding' && !this.vary.includes(h));
    if (beyond.length === 0) return false;
    if (preview) return true;
    // Made once: the same answer comes back on every miss, and the reporter only counts repeats.
    this.#varyError ??= new KeelError(
      KeelErrorCode.InvalidOption,
      `${this.#where}: the answer varies on ${beyond.join(', ')} (its Vary header), which the cache key does not hold, so it is not stored: ${
        beyond.includes('*')
          ? 'an answer with `Vary: *` is never cached'
          : `add ${beyond.map((h) => `'${h}'`).join(', ')} to the cache's \`vary\` option`
      }.`,
    );
    this.#owner.reportError(`${this.#where}:vary`, this.#varyError);
    return true;
  }

  /**
   * The headers the live answer of a miss gets, so that its client can
   * revalidate it as the hits' clients can: its ETag, and its Vary. Not
   * Cache-Control: hooks that run later (a session's) can still add
   * `Set-Cookie` to that answer, and a shared cache must not be told to keep it.
   */
  labelOf(entry: CachedResponse): OutgoingHttpHeaders {
    const label: OutgoingHttpHeaders = { etag: entry.etag };
    if (entry.headers.vary !== undefined) label.vary = entry.headers.vary;
    return label;
  }
}

/** The lowercased header names of a `Vary` value (a string, or a list of them). */
function varyOf(value: OutgoingHttpHeaders[string]): string[] {
  if (value === undefined) return [];
  const text = Array.isArray(value) ? value.join(',') : String(value);
  return text
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter((h) => h !== '');
}

/** `If-None-Match` uses weak comparison: `W/"x"` matches `"x"`. */
export function etagMatches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
