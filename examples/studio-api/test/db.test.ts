import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createFakeClock, createKeel, type FakeClock, type Keel } from '@keel/core';
import type { KeelPool } from '@keel/pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { createDatabase, type Database, parseQueryDelay, startDatabase } from '../src/db.js';

let database: Database;
let clock: FakeClock;
let keel: Keel;
let pool: KeelPool;
let server: Server;
let base: string;

beforeAll(async () => {
  // No DATABASE_URL: the example starts its embedded PostgreSQL (from npm), as `pnpm start` does.
  database = await startDatabase({});
  clock = createFakeClock();
  keel = createKeel({ service: 'studio-api-db-test', clock, runtime: false });
  pool = await createDatabase(keel, database.url);
  const app = createApp(keel, undefined, pool);
  server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}, 60_000);

afterAll(async () => {
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  await pool?.end();
  await keel?.close();
  await database?.stop();
});

const get = (path: string) => fetch(`${base}${path}`);

describe('studio-api with PostgreSQL', () => {
  it('starts an embedded PostgreSQL when DATABASE_URL is not set', () => {
    expect(database.source).toBe('embedded');
  });

  it('reads users from PostgreSQL through Keel pool, with db time in Server-Timing', async () => {
    const res = await get('/api/db/users/2');
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 2, name: 'Grace Hopper', role: 'editor' });
    expect(res.headers.get('server-timing')).toMatch(/db;dur=[\d.]+;desc="1 queries"/);
    expect((await get('/api/db/users/99')).status).toBe(404);
    expect((await get('/api/db/users/x')).status).toBe(400);
  });

  it('is ready once the postgres check has passed', async () => {
    await keel.runChecks();
    await keel.runChecks();
    const health = (await (await get('/health')).json()) as { dependencies: { name: string; ok: boolean }[] };
    expect(health.dependencies.find((d) => d.name === 'postgres')?.ok).toBe(true);
  });

  it('slow queries breach the db_latency budget', async () => {
    for (let i = 0; i < 12; i++) expect((await get('/demo/slow-query?ms=120')).status).toBe(200);
    clock.advance(10_000);
    clock.advance(10_000);
    const health = (await (await get('/health')).json()) as { budgets: { name: string; state: string }[] };
    expect(health.budgets.find((b) => b.name === 'db_latency')?.state).toBe('breached');
  });

  it('a query past the request deadline is cancelled by PostgreSQL: 504, fast', async () => {
    const started = performance.now();
    const res = await get('/demo/slow-query?ms=5000');
    expect(res.status).toBe(504);
    expect(await res.json()).toMatchObject({ code: 'KEEL_QUERY_DEADLINE' });
    expect(performance.now() - started).toBeLessThan(2000);
    expect((await get('/demo/slow-query?ms=nope')).status).toBe(400);
  });

  it('parses ?ms= strictly', () => {
    expect(parseQueryDelay('250')).toBe(250);
    expect(parseQueryDelay('30001')).toBeNull();
    expect(parseQueryDelay('-1')).toBeNull();
    expect(parseQueryDelay(['1'])).toBeNull();
  });
});
