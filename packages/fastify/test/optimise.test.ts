import { describe, expect, it } from 'vitest';
import { build } from './helpers.js';

describe('the optimiser on Fastify', () => {
  it("mounts its endpoints and hands each request's context to a capture", async () => {
    const { app, keel, clock } = await build({ optimise: { profileMs: 0 } }, (app) => {
      app.get('/items/:id', async (request) => {
        keel.context.current()?.profile?.query('select * from items where id = ?', 4);
        return { id: (request.params as { id: string }).id };
      });
    });
    keel.context.use();
    const started = await app.inject({ method: 'POST', url: '/keel/optimise?windowMs=5000' });
    expect(started.statusCode).toBe(202);
    for (let i = 0; i < 5; i++)
      expect((await app.inject({ url: `/items/${i}?page=2` })).statusCode).toBe(200);
    await clock.advanceAsync(5000);
    await new Promise((resolve) => setImmediate(resolve));
    const got = await app.inject({ url: '/keel/optimise' });
    const { report } = got.json() as {
      report: { routes: { route: string; profiled: number; split: { dbMs: number } }[] };
    };
    const route = report.routes.find((r) => r.route === '/items/:id')!;
    expect(route.profiled).toBe(5);
    expect(route.split.dbMs).toBe(4);
    const traffic = (await app.inject({ url: '/keel/traffic' })).json() as {
      routes: { route: string; paths: string[] }[];
    };
    expect(traffic.routes.find((r) => r.route === '/items/:id')!.paths).toContain('/items/3?page=2');
  });
});
