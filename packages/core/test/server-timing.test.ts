import { createServer, get, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  appendServerTiming,
  createFakeClock,
  createKeel,
  type Keel,
  type RequestContext,
  serverTiming,
} from '../src/index.js';

type Head = { _header: string | null };

function response(): ServerResponse {
  return new ServerResponse(new IncomingMessage(new Socket()));
}

/** A request's context as it stands after `record` ran inside the request. */
async function contextAfter(record: (keel: Keel) => void): Promise<RequestContext> {
  const keel = createKeel({ runtime: false, clock: createFakeClock() });
  keel.context.use();
  const context = keel.context.run(keel.config.requestDeadline, () => {
    record(keel);
    return keel.context.current() as RequestContext;
  });
  await keel.close();
  return context;
}

/** The head of a 200 once Keel appended its `Server-Timing`. */
function headWithTiming(context: RequestContext | undefined, ms: number): string {
  const res = response();
  res.writeHead(200);
  appendServerTiming(res, context, ms);
  return (res as unknown as Head)._header!;
}

describe('appendServerTiming', () => {
  it('adds the header as the last line of the head writeHead built, with the value serverTiming gives', () => {
    for (const ms of [0, 0.04, 0.96, 12.34, 99.94, 99.96, 123456.78]) {
      const res = response();
      res.writeHead(200, { 'content-type': 'text/plain' });
      expect(appendServerTiming(res, undefined, ms)).toBe(true);
      const head = (res as unknown as Head)._header!;
      expect(head.startsWith('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n')).toBe(true);
      expect(head.endsWith(`\r\nserver-timing: ${serverTiming(undefined, ms)}\r\n\r\n`)).toBe(true);
      // The same line again, now from the kept lines.
      expect(headWithTiming(undefined, ms).endsWith(`server-timing: app;dur=${ms.toFixed(1)}\r\n\r\n`)).toBe(
        true,
      );
    }
  });

  it('includes db and cache time when the request context has them', async () => {
    const context = await contextAfter((keel) => keel.context.addDbTime(2.25));
    expect(headWithTiming(context, 5)).toContain(
      '\r\nserver-timing: app;dur=5.0, db;dur=2.3;desc="1 queries"\r\n\r\n',
    );
  });

  it('builds the line anew when the context has cache time only, not from the kept app-only lines', async () => {
    const context = await contextAfter((keel) => keel.context.addCacheTime(0.5, true));
    headWithTiming(undefined, 5);
    expect(headWithTiming(context, 5)).toContain(
      '\r\nserver-timing: app;dur=5.0, cache;dur=0.5;desc="1 hit, 0 miss"\r\n\r\n',
    );
  });

  it('adds nothing where there is no head to extend: before writeHead, or once it went out', () => {
    const res = response();
    expect(appendServerTiming(res, undefined, 1)).toBe(false);
    expect((res as unknown as Head)._header).toBeNull();
    res.writeHead(204);
    (res as unknown as { _headerSent: boolean })._headerSent = true;
    const head = (res as unknown as Head)._header;
    expect(appendServerTiming(res, undefined, 1)).toBe(false);
    expect((res as unknown as Head)._header).toBe(head);
    // A head that does not end with its empty line is not one Keel knows how to extend.
    const odd = response();
    (odd as unknown as { _header: string; _headerSent: boolean })._header = 'HTTP/1.1 200 OK\r\n';
    (odd as unknown as { _headerSent: boolean })._headerSent = false;
    expect(appendServerTiming(odd, undefined, 1)).toBe(false);
  });

  it("reaches a client as one Server-Timing list, after the app's own value", async () => {
    const server = createServer((_req, res) => {
      res.setHeader('server-timing', 'render;dur=3');
      res.writeHead(200, { 'content-type': 'text/plain' });
      appendServerTiming(res, undefined, 1.25);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const answer = await new Promise<{ timing: unknown; body: string }>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (body += chunk));
        res.on('end', () => resolve({ timing: res.headers['server-timing'], body }));
      }).on('error', reject);
    });
    server.close();
    expect(answer).toEqual({ timing: 'render;dur=3, app;dur=1.3', body: 'ok' });
  });
});
