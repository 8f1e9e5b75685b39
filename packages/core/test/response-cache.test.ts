import { afterEach, describe, expect, it } from 'vitest';
import {
  createFakeClock,
  createKeel,
  etagMatches,
  type Keel,
  KeelErrorCode,
  ResponseCache,
} from '../src/index.js';

const naming = { name: 'http_test', option: 'cache', where: '@keel/test' };
let keel: Keel;

function build(options = {}) {
  keel = createKeel({ runtime: false, clock: createFakeClock() });
  return new ResponseCache(keel, options, naming);
}

afterEach(async () => {
  await keel?.close();
});

describe('ResponseCache: what is stored', () => {
  it('stores a 200 with an ETag, the default Cache-Control and Vary, and drops per-request headers', () => {
    const rc = build({ ttl: 30_000, vary: ['Accept-Language'] });
    const entry = rc.entryOf(
      200,
      {
        'content-type': 'text/plain',
        date: 'x',
        'content-length': '5',
        'x-cache': 'MISS',
        'server-timing': 'a',
      },
      Buffer.from('hello'),
    );
    expect(entry?.headers).toEqual({
      'content-type': 'text/plain',
      etag: entry?.etag,
      vary: 'accept-language',
      'cache-control': 'public, max-age=30',
    });
    expect(entry?.etag).toMatch(/^"[\w-]{27}"$/);
    // The same body gets the same validator: a client's If-None-Match survives a refresh.
    expect(rc.entryOf(200, {}, Buffer.from('hello'))?.etag).toBe(entry?.etag);
    expect(rc.entryOf(200, {}, Buffer.from('hellO'))?.etag).not.toBe(entry?.etag);
  });

  it("keeps the handler's own ETag and Cache-Control", () => {
    const rc = build();
    const entry = rc.entryOf(200, { etag: 'W/"v1"', 'cache-control': 'public, max-age=5' }, Buffer.from('x'));
    expect(entry?.etag).toBe('W/"v1"');
    expect(entry?.headers['cache-control']).toBe('public, max-age=5');
  });

  it.each([
    ['a 404', 404, {}],
    ['Set-Cookie', 200, { 'set-cookie': ['a=1'] }],
    ['private', 200, { 'cache-control': 'private, max-age=60' }],
    ['no-store', 200, { 'cache-control': 'no-store' }],
    ['no-cache', 200, { 'cache-control': 'No-Cache' }],
    ['an already compressed body', 200, { 'content-encoding': 'gzip' }],
  ])('never stores %s', (_what, status, headers) => {
    expect(build().entryOf(status, headers, Buffer.from('x'))).toBeUndefined();
  });

  it('does not store an answer that varies on a header the key does not hold, and says which to add', () => {
    const rc = build({ vary: ['accept-language'] });
    const seen: { code: string; message: string; where: string }[] = [];
    const report = keel.reportError.bind(keel);
    keel.reportError = (where, error) => {
      seen.push({ where, code: (error as { code: string }).code, message: (error as Error).message });
      report(where, error);
    };
    // One language's page would go to every user agent.
    expect(rc.entryOf(200, { vary: 'Accept-Language, User-Agent' }, Buffer.from('x'))).toBeUndefined();
    expect(rc.entryOf(200, { vary: 'user-agent' }, Buffer.from('x'))).toBeUndefined();
    expect(keel.errors.counts.get('@keel/test:vary')).toBe(2);
    expect(seen[0]?.code).toBe(KeelErrorCode.InvalidOption);
    expect(seen[0]?.message).toContain("add 'user-agent'");
    expect(build().entryOf(200, { vary: '*' }, Buffer.from('x'))).toBeUndefined();
  });

  it("stores an answer that varies on the key's headers or Accept-Encoding, with Vary naming both", () => {
    const rc = build({ vary: ['accept-language'] });
    // Compression sets Vary: Accept-Encoding; the stored body is never encoded, so it suits every client.
    expect(rc.entryOf(200, { vary: 'Accept-Encoding' }, Buffer.from('x'))?.headers.vary).toBe(
      'accept-encoding, accept-language',
    );
    expect(rc.entryOf(200, { vary: 'accept-language' }, Buffer.from('x'))?.headers.vary).toBe(
      'accept-language',
    );
    expect(build().entryOf(200, { vary: 'accept-encoding' }, Buffer.from('x'))?.headers.vary).toBe(
      'accept-encoding',
    );
    expect(keel.errors.counts.size).toBe(0);
  });
});

describe('ResponseCache: keys', () => {
  it('keys GET and HEAD by URL and the vary headers; other methods and Authorization bypass', () => {
    const rc = build({ vary: ['accept-language'] });
    const en = rc.keyOf('GET', '/a?x=1', { 'accept-language': 'en' });
    expect(rc.keyOf('HEAD', '/a?x=1', { 'accept-language': 'en' })).toBe(en);
    expect(rc.keyOf('GET', '/a?x=1', { 'accept-language': 'fr' })).not.toBe(en);
    expect(rc.keyOf('GET', '/a?x=2', { 'accept-language': 'en' })).not.toBe(en);
    expect(rc.keyOf('POST', '/a', {})).toBeUndefined();
    expect(rc.keyOf('GET', '/a', { authorization: 'Bearer t' })).toBeUndefined();
    expect(build({ cacheAuthorized: true }).keyOf('GET', '/a', { authorization: 'Bearer t' })).toBe('/a');
  });

  it('lets a huge URL bypass the cache rather than hold it as a key', () => {
    expect(build().keyOf('GET', `/${'a'.repeat(5000)}`, {})).toBeUndefined();
  });

  it('replays a refresh with only accept and the vary headers', () => {
    const rc = build({ vary: ['accept-language'] });
    expect(
      rc.replayHeaders({
        accept: 'text/html',
        'accept-language': 'en',
        cookie: 's=1',
        authorization: 'Bearer t',
      }),
    ).toEqual({
      accept: 'text/html',
      'accept-language': 'en',
    });
  });

  it('replays Authorization when answers to authorized requests are cached, so the refresh is let in', () => {
    const rc = build({ cacheAuthorized: true });
    expect(rc.replayHeaders({ authorization: 'Bearer t' })).toEqual({
      accept: '*/*',
      authorization: 'Bearer t',
    });
  });
});

describe('ResponseCache: options', () => {
  it.each([
    ['cache.vary', { vary: 'accept' }],
    ['cache.vary', { vary: ['bad header'] }],
    ['cache.cacheControl', { cacheControl: true }],
    ['cache.cacheAuthorized', { cacheAuthorized: 'yes' }],
    ['cache.etag', { etag: false }],
    ['ttl', { ttl: -1 }],
  ])('rejects a bad `%s` at startup, saying who asked', (path, options) => {
    let error: { code?: string; message: string } | undefined;
    try {
      build(options);
    } catch (e) {
      error = e as Error & { code: string };
    }
    expect(error?.code).toBe(KeelErrorCode.InvalidOption);
    expect(error?.message).toContain(path);
    expect(error?.message).toMatch(/^@keel\/test: /);
  });

  it('lets identical requests wait 30 s on the one running the handler by default, or loadTimeout', () => {
    expect(build().cache.config.loadTimeout).toBe(30_000);
    expect(build({ loadTimeout: 2000 }).cache.config.loadTimeout).toBe(2000);
    expect(() => build({ loadTimeout: 0 })).toThrow(
      expect.objectContaining({ code: KeelErrorCode.InvalidOption }),
    );
  });

  it('sends plain `public` for a cache that never expires', () => {
    expect(build({ ttl: Number.POSITIVE_INFINITY }).cacheControl).toBe('public');
  });
});

describe('etagMatches', () => {
  it('compares weakly, accepts lists and *', () => {
    expect(etagMatches('"a"', '"a"')).toBe(true);
    expect(etagMatches('W/"a"', '"a"')).toBe(true);
    expect(etagMatches('"b", W/"a"', '"a"')).toBe(true);
    expect(etagMatches('*', '"a"')).toBe(true);
    expect(etagMatches('"b"', '"a"')).toBe(false);
    expect(etagMatches(undefined, '"a"')).toBe(false);
  });
});
