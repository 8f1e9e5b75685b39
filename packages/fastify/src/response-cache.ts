import { createHash, randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import type { Keel, KeelCache } from '@keel/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';
import type { ResolvedRouteCache } from './options.js';

// The entry format, the headers left out, ETag and If-None-Match below follow
// @keel/express's response cache on purpose, so both adapters store and
// answer alike. They are framework-agnostic and belong in core.

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
  'content-encoding',
  'date',
  'server-timing',
  'set-cookie',
  'x-cache',
  'age',
]);
const MAX_KEY_LENGTH = 4096;

/** The answer was not one to store (not 200, Set-Cookie, no-store, ...); the request runs its handler. */
export class NotCacheable extends Error {}

/** The header marking Keel's own refresh replays; its value is a secret per app, so clients cannot forge it. */
export const REFRESH_HEADER = 'x-keel-refresh';

/** How a miss hands the live answer from the `onSend` hook back to the cache. */
export interface Capture {
  resolve(entry: CachedResponse): void;
  reject(error: unknown): void;
}

/** One route's cache. GET and HEAD of a route share it. */
export class RouteCache {
  readonly config: ResolvedRouteCache;
  readonly cache: KeelCache<CachedResponse>;
  readonly #app: FastifyInstance;
  readonly #refreshToken: string;

  constructor(keel: Keel, app: FastifyInstance, config: ResolvedRouteCache, refreshToken: string) {
    this.config = config;
    this.#app = app;
    this.#refreshToken = refreshToken;
    this.cache = keel.cache<CachedResponse>({
      name: config.name,
      ttl: config.ttl,
      staleWhileRevalidate: config.staleWhileRevalidate,
      max: config.max,
      maxBytes: config.maxBytes,
      sizeOf: (entry) => entry.body.length + 512,
    });
  }

  /** The cache key for a request, or `undefined` when this request bypasses the cache. */
  keyOf(request: FastifyRequest): string | undefined {
    if (request.method !== 'GET' && request.method !== 'HEAD') return undefined;
    if (!this.config.cacheAuthorized && request.headers.authorization !== undefined) return undefined;
    if (this.isRefresh(request)) return undefined;
    let key = request.url;
    for (const h of this.config.vary) key += `\n${h}:${String(request.headers[h] ?? '')}`;
    return key.length > MAX_KEY_LENGTH ? undefined : key;
  }

  isRefresh(request: FastifyRequest): boolean {
    return request.headers[REFRESH_HEADER] === this.#refreshToken;
  }

  /** Refreshes a stale answer by replaying the request through the app, off the request path. */
  async replay(request: FastifyRequest): Promise<CachedResponse> {
    const headers: Record<string, string> = {
      accept: String(request.headers.accept ?? '*/*'),
      [REFRESH_HEADER]: this.#refreshToken,
    };
    for (const h of this.config.vary) {
      if (request.headers[h] !== undefined) headers[h] = String(request.headers[h]);
    }
    const answer = await this.#app.inject({ method: 'GET', url: request.url, headers });
    const entry = toEntry(answer.statusCode, answer.headers, answer.rawPayload, this.config.vary);
    if (!entry) throw new NotCacheable();
    return entry;
  }

  /** The live answer of a miss, as it is stored: it gets the same ETag, Cache-Control and Vary as later hits. */
  label(reply: FastifyReply, entry: CachedResponse): void {
    reply.header('etag', entry.etag);
    if (entry.headers.vary !== undefined) reply.header('vary', entry.headers.vary);
    const { cacheControl } = this.config;
    if (cacheControl && entry.headers['cache-control'] === undefined)
      reply.header('cache-control', cacheControl);
  }

  /** Writes a cached answer: 304 when the client already holds it. */
  send(request: FastifyRequest, reply: FastifyReply, entry: CachedResponse, state: 'HIT' | 'MISS'): void {
    if (reply.sent) return;
    reply.headers(entry.headers);
    const { cacheControl } = this.config;
    if (cacheControl && entry.headers['cache-control'] === undefined)
      reply.header('cache-control', cacheControl);
    reply.header('x-cache', state);
    if (matches(request.headers['if-none-match'], entry.etag)) {
      reply.removeHeader('content-type');
      reply.code(304).send();
      return;
    }
    // For HEAD, Node sends the headers (content-length included) and drops the body.
    reply.code(200).send(entry.body);
  }
}

/** A secret per app for `REFRESH_HEADER`. */
export function refreshToken(): string {
  return randomUUID();
}

/**
 * What a miss captures in `onSend`: the serialized payload (string or Buffer)
 * and the headers as they are about to go out. A stream is not cached.
 */
export function captured(
  request: FastifyRequest,
  reply: FastifyReply,
  payload: unknown,
  vary: readonly string[],
): CachedResponse | undefined {
  if (request.method === 'HEAD') return undefined;
  let body: Buffer;
  if (payload === undefined || payload === null) body = Buffer.alloc(0);
  else if (typeof payload === 'string') body = Buffer.from(payload);
  else if (Buffer.isBuffer(payload)) body = payload;
  else return undefined;
  return toEntry(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders, body, vary);
}

function toEntry(
  status: number,
  raw: OutgoingHttpHeaders,
  body: Buffer,
  vary: readonly string[],
): CachedResponse | undefined {
  if (status !== 200 || raw['set-cookie'] !== undefined) return undefined;
  // Compressed by a hook that ran before ours: the stored headers would lose the encoding.
  if (raw['content-encoding'] !== undefined) return undefined;
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
  // Shared caches between us and the client must key on the same headers.
  if (vary.length > 0 && headers.vary === undefined) headers.vary = vary.join(', ');
  return Object.freeze({ headers, body, etag });
}

/** `If-None-Match` uses weak comparison: `W/"x"` matches `"x"`. */
function matches(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const bare = etag.replace(/^W\//, '');
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === bare);
}

/**
 * Runs a route handler the way Fastify would have: a returned value or
 * resolved promise is sent, a throw or rejection goes to the error handler.
 * Needed because the cached handler already returned `reply` to Fastify.
 */
export function runHandler(
  instance: FastifyInstance,
  handler: RouteHandlerMethod,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const sendResult = (value: unknown) => {
    if (value !== undefined && value !== reply && !reply.sent) reply.send(value);
  };
  const sendError = (error: unknown) => {
    if (!reply.sent) reply.send(error);
  };
  try {
    const out = (handler as (this: FastifyInstance, ...a: unknown[]) => unknown).call(
      instance,
      request,
      reply,
    );
    if (out !== null && typeof out === 'object' && typeof (out as Promise<unknown>).then === 'function') {
      (out as Promise<unknown>).then(sendResult, sendError);
    } else {
      sendResult(out);
    }
  } catch (error) {
    sendError(error);
  }
}
