import { randomUUID } from 'node:crypto';
import type { OutgoingHttpHeaders } from 'node:http';
import {
  type CachedResponse,
  etagMatches,
  type Keel,
  ResponseCache,
  type ResponseCacheOptions,
} from '@keel/core';
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteHandlerMethod } from 'fastify';

/** The answer was not one to store (not 200, Set-Cookie, no-store, ...); the request runs its handler. */
export class NotCacheable extends Error {}

/** The header marking Keel's own refresh replays; its value is a secret per app, so clients cannot forge it. */
export const REFRESH_HEADER = 'x-keel-refresh';

/** How a miss hands the live answer from the `onSend` hook back to the cache. */
export interface Capture {
  resolve(entry: CachedResponse): void;
  reject(error: unknown): void;
}

/**
 * The request header each of Fastify's built-in constraint strategies reads:
 * a refresh replays it, or it would not reach the route it refreshes.
 */
const CONSTRAINT_HEADERS: Readonly<Record<string, string>> = { host: 'host', version: 'accept-version' };

/** One route's cache: core's response cache, captured, replayed and answered the Fastify way. GET and HEAD of a route share it. */
export class RouteCache extends ResponseCache {
  /** The route's URL and `constraints`, as Fastify gave them: a GET and its HEAD route share both. */
  readonly url: string;
  readonly constraints: unknown;
  readonly #app: FastifyInstance;
  readonly #refreshToken: string;
  /** Request headers the route's constraints are decided on, replayed by a refresh. */
  readonly #constraintHeaders: readonly string[];

  constructor(
    keel: Keel,
    app: FastifyInstance,
    options: ResponseCacheOptions,
    route: string,
    token: string,
    url: string,
    constraints: unknown,
  ) {
    const given = constraints !== null && typeof constraints === 'object' ? Object.entries(constraints) : [];
    // Routes on one URL told apart by their constraints (`version`, `host`) get a name each.
    let name = `http${url}`;
    for (const [, value] of given) name += `_${String(value)}`;
    super(keel, options, {
      name: name.replace(/[^\w.-]+/g, '_').slice(0, 64),
      option: 'config.keel.cache',
      where: `@keel/fastify: route ${route}`,
    });
    this.url = url;
    this.constraints = constraints;
    this.#app = app;
    this.#refreshToken = token;
    this.#constraintHeaders = given.flatMap(([strategy]) => CONSTRAINT_HEADERS[strategy] ?? []);
  }

  /** The cache key for a request, or `undefined` when this request bypasses the cache. */
  keyOfRequest(request: FastifyRequest): string | undefined {
    return this.isRefresh(request) ? undefined : this.keyOf(request.method, request.url, request.headers);
  }

  isRefresh(request: FastifyRequest): boolean {
    return request.headers[REFRESH_HEADER] === this.#refreshToken;
  }

  /** Refreshes a stale answer by replaying the request through the app, off the request path. */
  async replay(request: FastifyRequest): Promise<CachedResponse> {
    const headers = this.replayHeaders(request.headers);
    for (const name of this.#constraintHeaders) {
      const value = request.headers[name];
      if (value !== undefined) headers[name] = String(value);
    }
    headers[REFRESH_HEADER] = this.#refreshToken;
    const replayed = await this.#app.inject({ method: 'GET', url: request.url, headers });
    return this.refreshedEntry(replayed.statusCode, replayed.headers, replayed.rawPayload);
  }

  /**
   * What a miss captures in `onSend`: the serialized payload (string or Buffer)
   * and the headers as they are about to go out. A stream is not cached.
   */
  captured(request: FastifyRequest, reply: FastifyReply, payload: unknown): CachedResponse | undefined {
    if (request.method === 'HEAD') return undefined;
    let body: Buffer;
    if (payload === undefined || payload === null) body = Buffer.alloc(0);
    else if (typeof payload === 'string') body = Buffer.from(payload);
    else if (Buffer.isBuffer(payload)) body = payload;
    else return undefined;
    return this.entryOf(reply.statusCode, reply.getHeaders() as OutgoingHttpHeaders, body);
  }

  /** Writes a cached answer: 304 when the client already holds it. */
  send(request: FastifyRequest, reply: FastifyReply, entry: CachedResponse, state: 'HIT' | 'MISS'): void {
    if (reply.sent) return;
    reply.headers(entry.headers);
    reply.header('x-cache', state);
    if (etagMatches(request.headers['if-none-match'], entry.etag)) {
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
 * Runs a route handler for the cached handler, which hands what it returns
 * back to Fastify: Fastify then sends a value, an async result (`undefined`
 * included) or a throw of anything exactly as it does for any handler. A
 * callback-style handler returns `undefined` and answers later through
 * `reply`, which Fastify waits for when given `reply` (a thenable that
 * settles once the answer is sent).
 */
export function answer(
  instance: FastifyInstance,
  handler: RouteHandlerMethod,
  request: FastifyRequest,
  reply: FastifyReply,
): unknown {
  try {
    const out = (handler as (this: FastifyInstance, ...a: unknown[]) => unknown).call(
      instance,
      request,
      reply,
    );
    return out === undefined ? reply : out;
  } catch (error) {
    return Promise.reject(error);
  }
}
