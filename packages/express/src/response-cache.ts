import { createHash } from 'node:crypto';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type Keel, KeelError, KeelErrorCode } from '@keel/core';
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import inject from 'light-my-request';

export interface ResponseCacheOptions {
  /** Cache name in metrics (`keel_cache_requests_total{cache}`). @default `http_<n>` */
  name?: string;
  /** How long an answer is fresh, ms. @default 60000 */
  ttl?: number;
  /** How long after `ttl` a stale answer may still be served while one background refresh runs, ms. @default 0 */
  staleWhileRevalidate?: number;
  /** Request headers that select a different answer (besides method and URL), e.g. `['accept-language']`. @default [] */
  vary?: string[];
  /** Entries kept. @default 1000 */
  max?: number;
  /** Bytes of bodies kept. @default 50 MiB */
  maxBytes?: number;
  /** `Cache-Control` sent when the handler sets none; `false` sends none. @default `public, max-age=<ttl s>` */
  cacheControl?: string | false;
  /** Cache answers to requests that carry `Authorization`. @default false */
  cacheAuthorized?: boolean;
}

interface CachedResponse {
  readonly headers: OutgoingHttpHeaders;
  readonly body: Buffer;
  readonly etag: string;
}

/** Set on requests Keel replays to refresh a stale answer: they bypass the cache and are not recorded. */
export const REFRESH = Symbol('keel.refresh');

/** Per-request headers that must not be replayed from the cache. */
const HOP_HEADERS = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'content-encoding',
  'date',
  'server-timing',
  'set-cookie',
  'x-cache',
  'age',
]);
const MAX_KEY_LENGTH = 4096;
/** The methods light-my-request's response overrides to capture the answer. */
const INJECTED_METHODS = ['setTimeout', 'writeHead', 'write', 'end', 'destroy', 'addTrailers'] as const;

class NotCacheable extends Error {}

let counter = 0;

/**
 * Route middleware that answers GET and HEAD from a Keel cache: keyed by
 * method, URL and the chosen `vary` headers; single-flight, so a burst of
 * identical misses runs the handler once; stale-while-revalidate by replaying
 * the request through the app in the background; ETag and 304. Only 200
 * answers without `Set-Cookie`, `private` or `no-store` are stored.
 */
export function responseCache(
  app: Application,
  keel: Keel,
  options: ResponseCacheOptions = {},
): RequestHandler {
  const vary = (options.vary ?? []).map((h) => {
    if (typeof h !== 'string' || !/^[\w-]+$/.test(h)) {
      throw new KeelError(
        KeelErrorCode.InvalidOption,
        `cache: option \`vary\` must list header names (got ${String(h)}).`,
      );
    }
    return h.toLowerCase();
  });
  const ttl = options.ttl ?? 60_000;
  const cache = keel.cache<CachedResponse>({
    name: options.name ?? `http_${++counter}`,
    ttl,
    staleWhileRevalidate: options.staleWhileRevalidate ?? 0,
    max: options.max ?? 1000,
    maxBytes: options.maxBytes ?? 50 * 1024 * 1024,
    sizeOf: (entry) => entry.body.length + 512,
  });
  const cacheControl =
    options.cacheControl === undefined ? `public, max-age=${Math.floor(ttl / 1000)}` : options.cacheControl;
  const cacheAuthorized = options.cacheAuthorized ?? false;

  return function keelResponseCache(req: Request, res: Response, next: NextFunction): void {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || (req as { [REFRESH]?: boolean })[REFRESH]) {
      next();
      return;
    }
    if (!cacheAuthorized && req.headers.authorization !== undefined) {
      next();
      return;
    }
    let key = req.originalUrl;
    for (const h of vary) key += `\n${h}:${String(req.headers[h] ?? '')}`;
    if (key.length > MAX_KEY_LENGTH) {
      next();
      return;
    }

    const started = performance.now();
    const cached = cache.peek(key) !== undefined;
    let ranHandler = false;
    cache
      .get(key, () => {
        if (cached) return replay(app, req, vary);
        ranHandler = true;
        return capture(req, res, next);
      })
      .then(
        (entry) => {
          keel.context.addCacheTime(performance.now() - started, cached);
          if (!ranHandler) send(req, res, entry, cached ? 'HIT' : 'MISS', cacheControl);
        },
        (error: unknown) => {
          // Not cacheable, or the load failed: this request runs the handler itself.
          if (ranHandler) return;
          if (!(error instanceof NotCacheable)) keel.reportError('express:response-cache', error);
          next();
        },
      );
  };
}

/** Runs the handler for this request and records its answer as it is written. */
function capture(req: Request, res: Response, next: NextFunction): Promise<CachedResponse> {
  // The answer is for everyone: this client gets it whole rather than a 304.
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  res.setHeader('x-cache', 'MISS');
  return new Promise<CachedResponse>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const write = res.write;
    const end = res.end;
    const keep = (chunk: unknown, encoding?: unknown) => {
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding as BufferEncoding));
    };
    res.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
      keep(chunk, typeof rest[0] === 'string' ? rest[0] : undefined);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Response['write'];
    res.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
      keep(chunk, typeof rest[0] === 'string' ? rest[0] : undefined);
      return (end as (...a: unknown[]) => Response).call(this, chunk, ...rest);
    } as Response['end'];
    res.once('close', () => {
      if (!res.writableFinished || req.method === 'HEAD') return reject(new NotCacheable());
      const entry = toEntry(res.statusCode, res.getHeaders(), Buffer.concat(chunks));
      if (entry) resolve(entry);
      else reject(new NotCacheable());
    });
    next();
  });
}

/** Refreshes a stale answer by replaying the request through the app, off the request path. */
async function replay(app: Application, req: Request, vary: readonly string[]): Promise<CachedResponse> {
  const headers: Record<string, string> = { accept: String(req.headers.accept ?? '*/*') };
  for (const h of vary) if (req.headers[h] !== undefined) headers[h] = String(req.headers[h]);
  const answer = await inject(
    (r: IncomingMessage, s: ServerResponse) => {
      (r as { [REFRESH]?: boolean })[REFRESH] = true;
      // Express swaps the response's prototype for its own; keep the injected
      // response's capturing methods as own properties so they survive that.
      const proto = Object.getPrototypeOf(s) as Record<string, unknown>;
      for (const method of INJECTED_METHODS)
        (s as unknown as Record<string, unknown>)[method] = proto[method];
      (app as unknown as (a: IncomingMessage, b: ServerResponse) => void)(r, s);
    },
    { method: 'GET', url: req.originalUrl, headers },
  );
  const entry = toEntry(answer.statusCode, answer.headers, answer.rawPayload);
  if (!entry) throw new NotCacheable();
  return entry;
}

function toEntry(status: number, raw: OutgoingHttpHeaders, body: Buffer): CachedResponse | undefined {
  if (status !== 200 || raw['set-cookie'] !== undefined) return undefined;
  const control = String(raw['cache-control'] ?? '').toLowerCase();
  if (/\b(no-store|private|no-cache)\b/.test(control)) return undefined;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value !== undefined && !HOP_HEADERS.has(name)) headers[name] = value;
  }
  const etag =
    typeof raw.etag === 'string'
      ? raw.etag
      : `"${createHash('sha1').update(body).digest('base64url').slice(0, 27)}"`;
  headers.etag = etag;
  return Object.freeze({ headers, body, etag });
}

function send(
  req: Request,
  res: Response,
  entry: CachedResponse,
  state: 'HIT' | 'MISS',
  cacheControl: string | false,
): void {
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(entry.headers)) res.setHeader(name, value as string);
  if (cacheControl && entry.headers['cache-control'] === undefined)
    res.setHeader('cache-control', cacheControl);
  res.setHeader('x-cache', state);
  if (matches(req.headers['if-none-match'], entry.etag)) {
    res.statusCode = 304;
    res.removeHeader('content-type');
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-length', entry.body.length);
  res.end(req.method === 'HEAD' ? undefined : entry.body);
}

/** `If-None-Match` uses weak comparison: `W/"x"` matches `"x"`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}
