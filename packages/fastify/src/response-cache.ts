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

/** One route's cache: core's response cache, captured, replayed and answered the Fastify way. GET and HEAD of a route share it. */
export class RouteCache extends ResponseCache {
  readonly #app: FastifyInstance;
  readonly #refreshToken: string;

  constructor(keel: Keel, app: FastifyInstance, options: ResponseCacheOptions, route: string, token: string) {
    const path = route.slice(route.indexOf(' ') + 1);
    super(keel, options, {
      name: `http${path.replace(/[^\w.-]+/g, '_')}`.slice(0, 64),
      option: 'config.keel.cache',
      where: `@keel/fastify: route ${route}`,
    });
    this.#app = app;
    this.#refreshToken = token;
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
    headers[REFRESH_HEADER] = this.#refreshToken;
    const answer = await this.#app.inject({ method: 'GET', url: request.url, headers });
    const entry = this.entryOf(answer.statusCode, answer.headers, answer.rawPayload);
    if (!entry) throw new NotCacheable();
    return entry;
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
