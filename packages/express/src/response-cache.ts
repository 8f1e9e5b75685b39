import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CachedResponse,
  etagMatches,
  type Keel,
  ResponseCache,
  type ResponseCacheOptions,
} from '@keel/core';
import type { Application, NextFunction, Request, RequestHandler, Response } from 'express';
import inject from 'light-my-request';

/** Set on requests Keel replays to refresh a stale answer: they bypass the cache and are not recorded. */
export const REFRESH = Symbol('keel.refresh');

/** The methods light-my-request's response overrides to capture the answer. */
const INJECTED_METHODS = ['setTimeout', 'writeHead', 'write', 'end', 'destroy', 'addTrailers'] as const;

class NotCacheable extends Error {}

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
  const rc = new ResponseCache(keel, options, {
    name: `http_${keel.caches.length + 1}`,
    option: 'cache',
    where: '@keel/express',
  });
  const { cache } = rc;

  return function keelResponseCache(req: Request, res: Response, next: NextFunction): void {
    if ((req as { [REFRESH]?: boolean })[REFRESH]) {
      // Marked as a miss's answer is: middleware that leaves Keel's cache its own policy sees it.
      res.setHeader('x-cache', 'REFRESH');
      next();
      return;
    }
    const key = rc.keyOf(req.method, req.originalUrl, req.headers);
    if (key === undefined) {
      next();
      return;
    }

    const started = performance.now();
    const cached = cache.peek(key) !== undefined;
    let ranHandler = false;
    cache
      .get(key, () => {
        if (cached) return replay(app, req, rc);
        ranHandler = true;
        return capture(req, res, next, rc, keel);
      })
      .then(
        (entry) => {
          keel.context.addCacheTime(performance.now() - started, cached);
          if (!ranHandler) send(req, res, entry, cached ? 'HIT' : 'MISS');
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
function capture(
  req: Request,
  res: Response,
  next: NextFunction,
  rc: ResponseCache,
  keel: Keel,
): Promise<CachedResponse> {
  // The answer is for everyone: this client gets it whole rather than a 304.
  delete req.headers['if-none-match'];
  delete req.headers['if-modified-since'];
  res.setHeader('x-cache', 'MISS');
  return new Promise<CachedResponse>((resolve, reject) => {
    const chunks: Buffer[] = [];
    const write = res.write;
    const end = res.end;
    // Whether the body was already encoded when it reached this middleware (the handler's own gzip,
    // or a compression mounted after it). One mounted before it encodes below, as the head goes out:
    // what is kept here is then the body as written, and is stored without that Content-Encoding.
    let encodedAbove: boolean | undefined;
    const keep = (chunk: unknown, encoding?: unknown) => {
      encodedAbove ??= res.getHeader('content-encoding') !== undefined;
      if (chunk === undefined || chunk === null || typeof chunk === 'function') return;
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string, encoding as BufferEncoding));
    };
    res.write = function (this: Response, chunk: unknown, ...rest: unknown[]) {
      keep(chunk, typeof rest[0] === 'string' ? rest[0] : undefined);
      return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    } as Response['write'];
    res.end = function (this: Response, chunk?: unknown, ...rest: unknown[]) {
      const whole = chunks.length === 0 && !this.headersSent;
      keep(chunk, typeof rest[0] === 'string' ? rest[0] : undefined);
      // The whole answer in one call, before its head goes out (res.send, res.json):
      // this client gets the ETag and Vary of the later hits, so it can revalidate as they can.
      if (whole && req.method !== 'HEAD') label(this, Buffer.concat(chunks), rc, keel);
      return (end as (...a: unknown[]) => Response).call(this, chunk, ...rest);
    } as Response['end'];
    res.once('close', () => {
      if (!res.writableFinished || req.method === 'HEAD') return reject(new NotCacheable());
      // From the headers as they went out: on-headers listeners (sessions) may have added Set-Cookie since end().
      const headers = res.getHeaders();
      if (encodedAbove === false) delete headers['content-encoding'];
      const entry = rc.entryOf(res.statusCode, headers, Buffer.concat(chunks));
      if (entry) resolve(entry);
      else reject(new NotCacheable());
    });
    next();
  });
}

/**
 * Labels the live answer of a miss as core's `labelOf` says (ETag, Vary; not
 * Cache-Control: on-headers listeners can still add `Set-Cookie` as the head is written).
 */
function label(res: Response, body: Buffer, rc: ResponseCache, keel: Keel): void {
  try {
    // A preview: the answer is checked, and a refusal reported, when it is stored.
    const entry = rc.entryOf(res.statusCode, res.getHeaders(), body, true);
    if (!entry) return;
    for (const [name, value] of Object.entries(rc.labelOf(entry))) res.setHeader(name, value!);
  } catch (error) {
    keel.reportError('express:response-cache', error);
  }
}

/** Refreshes a stale answer by replaying the request through the app, off the request path. */
async function replay(app: Application, req: Request, rc: ResponseCache): Promise<CachedResponse> {
  const headers = rc.replayHeaders(req.headers);
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
  return rc.refreshedEntry(answer.statusCode, answer.headers, answer.rawPayload);
}

function send(req: Request, res: Response, entry: CachedResponse, state: 'HIT' | 'MISS'): void {
  if (res.headersSent) return;
  for (const [name, value] of Object.entries(entry.headers)) res.setHeader(name, value as string);
  res.setHeader('x-cache', state);
  if (etagMatches(req.headers['if-none-match'], entry.etag)) {
    res.statusCode = 304;
    res.removeHeader('content-type');
    res.end();
    return;
  }
  res.statusCode = 200;
  res.setHeader('content-length', entry.body.length);
  res.end(req.method === 'HEAD' ? undefined : entry.body);
}
