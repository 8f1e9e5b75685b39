import { Agent } from 'node:http';
import { createFakeClock, createKeel } from '@keel/core';
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { keelFastify } from '../src/index.js';
import { get, recorded, sleep, start } from './helpers.js';

describe('graceful shutdown', () => {
  it('drops no request under load, answers readiness 503 during the pre-stop delay, then stops listening', async () => {
    let inHandler = 0;
    let allIn: () => void;
    const fifty = new Promise<void>((r) => (allIn = r));
    const closed: string[] = [];
    const { app, keel, clock, port } = await start(
      { shutdown: { preStopDelay: 50, drainTimeout: 5000 } },
      (app) => {
        app.get('/slow/:n', async (request) => {
          if (++inHandler === 50) allIn();
          await sleep(200);
          return `done ${(request.params as { n: string }).n}`;
        });
        app.addHook('onClose', async () => {
          closed.push('fastify onClose');
        });
      },
    );
    keel.onShutdown(() => closed.push('keel cleanup'), 'queue');

    // Keep-alive sockets, one per request, all busy when the shutdown starts.
    const agent = new Agent({ keepAlive: true });
    const inFlight = Array.from({ length: 50 }, (_, n) => get(port, `/slow/${n}`, agent));
    await fifty;
    const done = app.keelShutdown();
    expect(app.keelShutdown()).toBe(done);

    // The pre-stop delay runs on Keel's (fake) clock: until it passes the app serves, but is not ready.
    const readyz = await get(port, keel.paths.readyz);
    expect(readyz.status).toBe(503);
    expect(readyz.body).toContain('shutting down');
    expect((await get(port, keel.paths.livez)).status).toBe(200);
    expect(app.server.listening).toBe(true);
    clock.advance(50);

    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual(Array(50).fill(200));
    expect(answers.map((a) => a.body)).toEqual(Array.from({ length: 50 }, (_, n) => `done ${n}`));
    // Each answer told its keep-alive client not to send another request on that socket.
    expect(answers.every((a) => a.headers.connection === 'close')).toBe(true);

    const report = await done;
    expect(report).toMatchObject({ drained: true, forced: 0, inFlightAtClose: 50 });
    // Newest first: the app's cleanup, then Fastify's own close (which ran its onClose hooks).
    expect(report.cleanups).toEqual([
      { name: 'queue', ok: true, error: null },
      { name: 'fastify', ok: true, error: null },
    ]);
    expect(closed).toEqual(['keel cleanup', 'fastify onClose']);
    expect(app.server.listening).toBe(false);
    expect(keel.closed).toBe(true);
    await expect(get(port, keel.paths.livez)).rejects.toThrow();
    expect(recorded(keel)).toEqual([{ method: 'GET', route: '/slow/:n', status: 200, count: 50 }]);
    agent.destroy();
  });

  it("closes the Keel it created with the app, and leaves the caller's open", async () => {
    const app = Fastify();
    await app.register(keelFastify, { runtime: false, clock: createFakeClock() });
    await app.ready();
    const owned = app.keel;
    await app.close();
    expect(owned.closed).toBe(true);

    const keel = createKeel({ runtime: false, clock: createFakeClock() });
    const other = Fastify();
    await other.register(keelFastify, { keel });
    await other.ready();
    expect(other.keel).toBe(keel);
    await other.close();
    expect(keel.closed).toBe(false);
    // Its cleanup went with the app: a later shutdown of this Keel does not close a closed app.
    expect(keel.shutdownCleanups()).toEqual([]);
    await keel.close();
  });

  it('handles SIGTERM and SIGINT with shutdown.signals, and lets go of them on close', async () => {
    const before = process.listenerCount('SIGTERM');
    const { app } = await start({ shutdown: { signals: true } });
    expect(process.listenerCount('SIGTERM')).toBe(before + 1);
    expect(process.listenerCount('SIGINT')).toBeGreaterThan(0);
    await app.close();
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });

  it('lets go of its signal handlers once a shutdown it did not get from a signal is over', async () => {
    const before = { term: process.listenerCount('SIGTERM'), int: process.listenerCount('SIGINT') };
    const { app } = await start({ shutdown: { signals: true, preStopDelay: 0 } });
    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    const report = await app.keelShutdown();
    expect(report.drained).toBe(true);
    // Left behind, a later SIGTERM would find a finished shutdown and exit(1) at once.
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});
