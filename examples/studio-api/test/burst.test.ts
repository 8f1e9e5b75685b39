import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKeel, type Keel } from '@keel/core';
import { findPostgres } from '@keel/dev-postgres';
import { createPool, type KeelPool } from '@keel/pg';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/app.js';
import { createDatabase } from '../src/db.js';

// Issue 14: 40 simultaneous GETs of /api/db/users/1 on a pool of 10 answered 27 × 504
// (KEEL_QUERY_DEADLINE) in 4-12 ms with the database healthy: a query that waited for a
// connection read the context of the request that had opened it, long past its deadline.
// The app as main.ts builds it, on the real clock, on its own database. The request
// deadline is 1.5 s instead of 200 ms: on a shared 2-core test machine 50 requests at
// once can truly take longer than 200 ms, and this test is about deadlines not kept,
// not about the machine's speed.
const REQUEST_DEADLINE_MS = 1500;

const database = `studio_burst_${process.pid}`;
let stopServer: () => Promise<void>;
let url: string;
const running: { server: Server; keel: Keel; pool: KeelPool }[] = [];

beforeAll(async () => {
  const found = await findPostgres({ prefix: 'studio-burst-pg-' });
  const admin = new pg.Client({ connectionString: found.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const u = new URL(found.url);
  u.pathname = `/${database}`;
  url = u.toString();
  stopServer = async () => {
    const c = new pg.Client({ connectionString: found.url });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await c.end();
    await found.stop();
  };
}, 60_000);

afterEach(async () => {
  for (const { server, keel, pool } of running.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await pool.end();
    await keel.close();
  }
});

afterAll(async () => {
  await stopServer?.();
});

async function serve(
  pool: (keel: Keel) => Promise<KeelPool>,
): Promise<{ base: string; keel: Keel; pool: KeelPool }> {
  const keel = createKeel({
    service: 'studio-api-burst',
    runtime: false,
    requestDeadline: REQUEST_DEADLINE_MS,
  });
  const db = await pool(keel);
  const app = createApp(keel, undefined, db);
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  running.push({ server, keel, pool: db });
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, keel, pool: db };
}

async function burst(base: string, n: number, path: string) {
  const started = performance.now();
  const answers = await Promise.all(
    Array.from({ length: n }, async () => {
      const t0 = performance.now();
      const res = await fetch(`${base}${path}`);
      const body = (await res.json()) as { code?: string };
      return { status: res.status, code: body.code, ms: performance.now() - t0 };
    }),
  );
  return { answers, ms: performance.now() - started };
}

describe('studio-api under a burst of database requests', () => {
  it('40 simultaneous GETs of /api/db/users/1 on a pool of 10: every one answers 2xx', async () => {
    const { base, pool } = await serve((keel) => createDatabase(keel, url));
    // The pool's connections are opened by requests whose deadlines then pass, as in a running app.
    const warm = await burst(base, 10, '/api/db/users/1');
    expect(warm.answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    await new Promise((r) => setTimeout(r, REQUEST_DEADLINE_MS + 50));

    // Ten slow queries hold every connection for 100 ms, so the 40 lookups queue for one.
    const [slow, { answers, ms }] = await Promise.all([
      burst(base, 10, '/demo/slow-query?ms=100'),
      new Promise((r) => setTimeout(r, 10)).then(() => burst(base, 40, '/api/db/users/1')),
    ]);
    const statuses = new Map<number, number>();
    for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    const slowest = Math.max(...answers.map((a) => a.ms));
    console.log(
      `burst: 40 GETs /api/db/users/1 queued behind 10 slow queries, pool max ${pool.max}: ${JSON.stringify(Object.fromEntries(statuses))} in ${ms.toFixed(0)} ms, slowest ${slowest.toFixed(0)} ms; codes ${JSON.stringify(answers.flatMap((a) => (a.code ? [a.code] : [])))}; slow queries ${JSON.stringify(slow.answers.map((a) => a.status))}`,
    );
    expect(slow.answers.map((a) => a.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((a) => a.status < 200 || a.status > 299)).toEqual([]);
  });

  it('a database that keeps failing: 503 + Retry-After, then the circuit answers fast', async () => {
    const { base, keel } = await serve(async (k) =>
      // Nothing listens on port 9: every connection is refused.
      createPool(k, {
        pg: { host: '127.0.0.1', port: 9, max: 10 },
        healthCheck: false,
        breaker: { consecutiveFailures: 3, openForMs: 30_000 },
        onEvent: () => {},
      }),
    );
    const answers: { status: number; retryAfter: string | null; code?: string }[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${base}/api/db/users/1`);
      answers.push({
        status: res.status,
        retryAfter: res.headers.get('retry-after'),
        code: ((await res.json()) as { code?: string }).code,
      });
    }
    console.log(`refused database: ${JSON.stringify(answers)}`);
    expect(answers.slice(0, 3)).toEqual(
      Array(3).fill({ status: 503, retryAfter: '1', code: 'KEEL_DB_UNAVAILABLE' }),
    );
    expect(answers.slice(3)).toEqual(
      Array(2).fill({ status: 503, retryAfter: '30', code: 'KEEL_CIRCUIT_OPEN' }),
    );
    expect(keel.breakers.map((b) => [b.name, b.state])).toEqual([['postgres', 'open']]);
  });
});
