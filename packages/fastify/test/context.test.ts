import { describe, expect, it } from 'vitest';
import { build, sleep, start } from './helpers.js';

describe('request context', () => {
  it('carries the route deadline through awaits in the handler, and it runs down', async () => {
    const seen: (number | undefined)[] = [];
    const { app, keel, clock } = await build({}, (app) => {
      app.keel.context.use();
      app.get('/users/:id', { config: { keel: { deadline: 500 } } }, async () => {
        seen.push(keel.context.remainingMs());
        await sleep(5);
        clock.advance(120);
        seen.push(keel.context.remainingMs());
        await Promise.resolve();
        clock.advance(1000);
        seen.push(keel.context.remainingMs());
        return 'ok';
      });
    });
    expect((await app.inject({ url: '/users/1' })).statusCode).toBe(200);
    expect(seen).toEqual([500, 380, 0]);
  });

  it('uses requestDeadline by default (the api_latency target), none with deadline: false', async () => {
    const seen: Record<string, number | undefined> = {};
    const { app, keel } = await build({}, (app) => {
      app.keel.context.use();
      app.get('/default', async () => {
        await sleep(1);
        seen.default = keel.context.remainingMs();
        return 'ok';
      });
      app.get('/none', { config: { keel: { deadline: false } } }, async () => {
        await sleep(1);
        seen.none = keel.context.remainingMs();
        seen.hasContext = keel.context.current() === undefined ? 0 : 1;
        return 'ok';
      });
    });
    await app.inject({ url: '/default' });
    await app.inject({ url: '/none' });
    expect(seen).toEqual({ default: 200, none: undefined, hasContext: 1 });
    expect(keel.config.requestDeadline).toBe(200);
  });

  it('keeps concurrent requests apart over real HTTP, bodies and keep-alive included', async () => {
    const { keel, port } = await start({ requestDeadline: 1000 }, (app) => {
      app.keel.context.use();
      const handler = async (request: { params: unknown }) => {
        const before = keel.context.current();
        await sleep(Math.random() * 30);
        const after = keel.context.current();
        return {
          same: before === after && before !== undefined,
          route: after?.route,
          remaining: keel.context.remainingMs(),
          params: request.params,
        };
      };
      app.get('/fast/:n', { config: { keel: { deadline: 50 } } }, handler);
      app.post('/slow/:n', handler);
    });
    const base = `http://127.0.0.1:${port}`;
    const answers = await Promise.all(
      Array.from({ length: 40 }, (_, n) =>
        n % 2 === 0
          ? fetch(`${base}/fast/${n}`).then((r) => r.json())
          : fetch(`${base}/slow/${n}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: JSON.stringify({ n }),
            }).then((r) => r.json()),
      ),
    );
    for (const [n, answer] of answers.entries()) {
      expect(answer).toEqual({
        same: true,
        route: n % 2 === 0 ? '/fast/:n' : '/slow/:n',
        // The fake clock never moves: the whole budget is left.
        remaining: n % 2 === 0 ? 50 : 1000,
        params: { n: String(n) },
      });
    }
  });

  it('propagates through async code only once something asks, so apps that never read it never pay for it', async () => {
    const seen: (number | undefined)[] = [];
    const { app, keel } = await build({}, (app) => {
      app.get('/read', async () => {
        await sleep(1);
        seen.push(keel.context.remainingMs());
        return 'ok';
      });
    });
    expect(keel.context.propagating).toBe(false);
    const first = await app.inject({ url: '/read' });
    // Server-Timing never needs propagation: the plugin keeps each request's context itself.
    expect(first.headers['server-timing']).toMatch(/^app;dur=\d+\.\d$/);
    await app.inject({ url: '/read' });
    expect(seen).toEqual([undefined, 200]);
    expect(keel.context.propagating).toBe(true);
  });

  it('switches propagation on for a route cache, so cache time reaches Server-Timing', async () => {
    const { app, keel } = await build({}, (app) => {
      app.get('/cached', { config: { keel: { cache: {} } } }, async () => 'ok');
    });
    expect(keel.context.propagating).toBe(true);
    await app.inject({ url: '/cached' });
    const hit = await app.inject({ url: '/cached' });
    expect(hit.headers['server-timing']).toMatch(/cache;dur=[\d.]+;desc="1 hit, 0 miss"/);
  });
});
