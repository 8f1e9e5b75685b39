import { createServer, IncomingMessage, request, ServerResponse } from 'node:http';
import { connect, createServer as createHttp2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Socket } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { createKeel, GracefulShutdown, handleSignals, resolveShutdownOptions } from '../src/index.js';

function get(
  port: number,
  path: string,
  agent?: import('node:http').Agent,
): Promise<{ status: number; body: string; connection: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, connection: res.headers.connection }));
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * `listener`: shutdown watches the server's requests itself. `reported`: the
 * way adapters do it, telling shutdown when each request starts and ends.
 */
type Tracking = 'listener' | 'reported';

async function start(handlerDelayMs: number, tracking: Tracking = 'listener') {
  const keel = createKeel({ runtime: false });
  const shutdown = new GracefulShutdown(keel, { preStopDelay: 50, drainTimeout: 5000 });
  const server = createServer((req, res) => {
    if (tracking === 'reported') {
      const slot = shutdown.requestStarted(res);
      res.on('close', () => shutdown.requestEnded(res, slot));
    }
    if (keel.handle(req, res)) return;
    setTimeout(() => res.end(`done ${req.url}`), handlerDelayMs);
  });
  shutdown.attach(server, { trackRequests: tracking === 'listener' });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { keel, server, shutdown, port: (server.address() as AddressInfo).port };
}

describe('graceful shutdown', () => {
  it.each<Tracking>(['listener', 'reported'])(
    'drops no in-flight request under load, turns readiness off first, and closes the server (%s)',
    async (tracking) => {
      const { keel, server, shutdown, port } = await start(200, tracking);
      // Keep-alive sockets, one per request, so all 40 reach the server before it stops listening.
      const agent = new (await import('node:http')).Agent({ keepAlive: true });
      const order: string[] = [];
      keel.onShutdown(() => order.push('first registered'), 'pool');
      keel.onShutdown(() => order.push('second registered'), 'queue');

      const inFlight = Array.from({ length: 40 }, (_, i) => get(port, `/work/${i}`, agent));
      // All 40 in the handler before the shutdown starts (a fixed 20 ms was too short on a loaded machine).
      await vi.waitFor(() => expect(shutdown.inFlight).toBe(40), { timeout: 5000, interval: 5 });
      const done = shutdown.shutdown();
      expect(shutdown.shutdown()).toBe(done);
      // During the pre-stop delay the instance still serves, but tells the load balancer to go away.
      expect((await get(port, '/readyz')).status).toBe(503);
      expect((await get(port, '/livez')).status).toBe(200);

      const results = await Promise.all(inFlight);
      expect(results.every((r) => r.status === 200 && r.body.startsWith('done'))).toBe(true);
      expect(results.every((r) => r.connection === 'close')).toBe(true);
      const report = await done;
      expect(report.drained).toBe(true);
      expect(report.inFlightAtClose).toBe(40);
      expect(report.forced).toBe(0);
      expect(report.cleanups).toEqual([
        { name: 'queue', ok: true, error: null },
        { name: 'pool', ok: true, error: null },
      ]);
      expect(order).toEqual(['second registered', 'first registered']);
      expect(server.listening).toBe(false);
      expect(keel.closed).toBe(true);
      await expect(get(port, '/livez')).rejects.toThrow();
      agent.destroy();
    },
  );

  it('cuts requests that outlive the drain timeout, closed as cut off before the cleanups run, and reports failing cleanups', async () => {
    const keel = createKeel({ runtime: false });
    // What an adapter records when a response closes: its status, or the unanswered one.
    const closes: { path: string | undefined; status: number; keelClosed: boolean }[] = [];
    const server = createServer((req, res) => {
      res.on('close', () =>
        closes.push({
          path: req.url,
          status: res.writableEnded ? res.statusCode : shutdown.unansweredStatus,
          keelClosed: keel.closed,
        }),
      );
      /* never answers */
    });
    const shutdown = new GracefulShutdown(keel, { preStopDelay: 0, drainTimeout: 100, cleanupTimeout: 50 });
    shutdown.attach(server);
    keel.onShutdown(() => new Promise(() => {}), 'hangs');
    keel.onShutdown(() => {
      throw new Error('nope');
    }, 'throws');
    let closedBeforeCleanups = 0;
    keel.onShutdown(() => {
      closedBeforeCleanups = closes.length;
    }, 'reads');
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    // A client that gives up on its own before shutdown.
    const left = request({ host: '127.0.0.1', port, path: '/left' });
    left.on('error', () => {});
    left.end();
    await new Promise((r) => setTimeout(r, 20));
    left.destroy();
    const pending = get(port, '/stuck').catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 20));
    const report = await shutdown.shutdown();
    expect(report).toMatchObject({ drained: false, inFlightAtClose: 1, forced: 1 });
    expect(report.cleanups).toEqual([
      { name: 'reads', ok: true, error: null },
      { name: 'throws', ok: false, error: 'nope' },
      { name: 'hangs', ok: false, error: 'timed out after 50 ms' },
    ]);
    expect(await pending).toBeInstanceOf(Error);
    expect(closes).toEqual([
      { path: '/left', status: 499, keelClosed: false },
      { path: '/stuck', status: 503, keelClosed: false },
    ]);
    expect(closedBeforeCleanups).toBe(2);
  });

  it('counts each response once: a second end, or an end for a slot since reused, changes nothing', () => {
    const keel = createKeel({ runtime: false });
    const shutdown = new GracefulShutdown(keel);
    const response = () => new ServerResponse(new IncomingMessage(new Socket()));
    const a = response();
    const b = response();
    const c = response();
    const slotA = shutdown.requestStarted(a);
    const slotB = shutdown.requestStarted(b);
    expect(shutdown.inFlight).toBe(2);
    shutdown.requestEnded(a, slotA);
    shutdown.requestEnded(a, slotA);
    expect(shutdown.inFlight).toBe(1);
    // c takes a's freed slot; a late end for a must not end c.
    expect(shutdown.requestStarted(c)).toBe(slotA);
    shutdown.requestEnded(a, slotA);
    shutdown.requestEnded(b, slotA);
    expect(shutdown.inFlight).toBe(2);
    shutdown.requestEnded(c, slotA);
    shutdown.requestEnded(b, slotB);
    expect(shutdown.inFlight).toBe(0);
    void keel.close();
  });

  it('counts a response once however many times, and by however many instances, it is tracked', () => {
    const keel = createKeel({ runtime: false });
    const first = new GracefulShutdown(keel);
    const second = new GracefulShutdown(keel);
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    // A handler re-entered for the same response, and a second instance watching the same server.
    first.endOnClose(res, first.requestStarted(res));
    first.endOnClose(res, first.requestStarted(res));
    second.endOnClose(res, second.requestStarted(res));
    expect([first.inFlight, second.inFlight]).toEqual([1, 1]);
    res.emit('close');
    expect([first.inFlight, second.inFlight]).toEqual([0, 0]);
    // The 0.1 form without the slot still ends the response.
    const legacy = new ServerResponse(new IncomingMessage(new Socket()));
    first.requestStarted(legacy);
    first.requestEnded(legacy);
    expect(first.inFlight).toBe(0);
    void keel.close();
  });

  it('takes a request that starts while closing even when its head already went out', () => {
    const keel = createKeel({ runtime: false });
    const shutdown = new GracefulShutdown(keel);
    shutdown.force();
    const res = new ServerResponse(new IncomingMessage(new Socket()));
    res.writeHead(200);
    const slot = shutdown.requestStarted(res);
    expect(shutdown.inFlight).toBe(1);
    shutdown.requestEnded(res, slot);
    expect(shutdown.inFlight).toBe(0);
    const fresh = new ServerResponse(new IncomingMessage(new Socket()));
    shutdown.requestStarted(fresh);
    expect(fresh.getHeader('connection')).toBe('close');
    void keel.close();
  });

  it('sets no Connection header on an HTTP/2 answer while closing (HTTP/2 has none; Node would warn)', async () => {
    const keel = createKeel({ runtime: false });
    const shutdown = new GracefulShutdown(keel);
    shutdown.force();
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on('warning', onWarning);
    const server = createHttp2Server((_req, res) => {
      const slot = shutdown.requestStarted(res as unknown as ServerResponse);
      res.on('close', () => shutdown.requestEnded(res as unknown as ServerResponse, slot));
      res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
    const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const stream = client.request({ ':path': '/' });
      stream.on('response', resolve).on('error', reject);
      stream.resume();
      stream.end();
    });
    client.close();
    await new Promise((r) => server.close(r));
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(headers[':status']).toBe(200);
    expect(headers.connection).toBeUndefined();
    expect(warnings).toEqual([]);
    expect(shutdown.inFlight).toBe(0);
    void keel.close();
  });

  it('a signal starts the shutdown and exits 0; a second one forces exit 1', async () => {
    const { shutdown } = await start(10);
    const codes: number[] = [];
    const remove = handleSignals(shutdown, {
      signals: ['SIGUSR2'],
      exit: (code) => codes.push(code),
      repeatWindow: 0,
    });
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(codes).toEqual([1]);
    await shutdown.shutdown();
    await new Promise((r) => setImmediate(r));
    expect(codes).toEqual([1, 0]);
    remove();
  });

  it('refuses unknown graceful-shutdown options, naming them, and options that are not an object', () => {
    const keel = createKeel({ runtime: false });
    const refused = (path: string) =>
      expect.objectContaining({
        code: 'KEEL_INVALID_OPTION',
        message: expect.stringContaining(`\`${path}\``),
      });
    // A typo must not silently keep the default drain of 10 s.
    expect(() => new GracefulShutdown(keel, { drainTimout: 100 } as never)).toThrowError(
      refused('shutdown.drainTimout'),
    );
    // `signals` is the adapters' option: they take it out before passing the rest on.
    expect(() => new GracefulShutdown(keel, { preStopDelay: 0, signals: true } as never)).toThrowError(
      refused('shutdown.signals'),
    );
    expect(() => resolveShutdownOptions({ cleanup: 5 } as never)).toThrowError(refused('shutdown.cleanup'));
    expect(() => new GracefulShutdown(keel, null as never)).toThrowError(refused('shutdown'));
    expect(resolveShutdownOptions({ drainTimeout: 100 })).toEqual({
      preStopDelay: 5000,
      drainTimeout: 100,
      cleanupTimeout: 5000,
    });
    void keel.close();
  });

  it('takes a signal right after the first for a copy a wrapper relayed, and drains (exit 0)', async () => {
    // pnpm, npm and tsx pass a terminal's Ctrl-C on to a child that got it from the terminal too.
    const { shutdown } = await start(10);
    const codes: number[] = [];
    const remove = handleSignals(shutdown, { signals: ['SIGUSR2'], exit: (code) => codes.push(code) });
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    process.emit('SIGUSR2', 'SIGUSR2');
    expect(codes).toEqual([]);
    await shutdown.shutdown();
    await new Promise((r) => setImmediate(r));
    expect(codes).toEqual([0]);
    remove();
  });

  it('refuses unknown options of handleSignals and attach, naming them', () => {
    const keel = createKeel({ runtime: false });
    const shutdown = new GracefulShutdown(keel);
    expect(() => handleSignals(shutdown, { signal: ['SIGTERM'] } as never)).toThrowError(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION', message: expect.stringMatching(/`signal`/) }),
    );
    expect(() => shutdown.attach(createServer(), { track: false } as never)).toThrowError(
      expect.objectContaining({ code: 'KEEL_INVALID_OPTION', message: expect.stringMatching(/`track`/) }),
    );
    void keel.close();
  });
});
