import { randomBytes } from 'node:crypto';
import { type FoundPostgres, findPostgres } from '@keel/dev-postgres';
import pg from 'pg';

/**
 * A PostgreSQL for one test file, as MISSION.md orders it: `DATABASE_URL`
 * when set, else the machine's server on 127.0.0.1:5432, else an embedded one
 * started from the npm package. Each file gets its own database (or, without
 * the right to create one, its own schema), so parallel runs never collide.
 */
export interface TestDatabase {
  /** Connection string for the test database. */
  readonly url: string;
  readonly config: pg.PoolConfig;
  readonly source: 'DATABASE_URL' | '127.0.0.1:5432' | 'embedded';
  /** The database name (or the schema, when a database could not be created). */
  readonly name: string;
  readonly isolation: 'database' | 'schema';
  /** Drops the database (or schema) and stops an embedded server. */
  close(): Promise<void>;
}

const server = () => findPostgres({ prefix: 'keel-pg-embedded-' });

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/** Runs `drop` on a fresh admin connection, then stops the server (if embedded). */
async function dropAndStop(base: FoundPostgres, drop: string): Promise<void> {
  const c = new pg.Client({ connectionString: base.url });
  await c.connect();
  try {
    await c.query(drop);
  } finally {
    await c.end();
  }
  await base.stop();
}

export async function createTestDatabase(label: string): Promise<TestDatabase> {
  const base = await server();
  const name = `keel_${label}_${process.pid}_${randomBytes(3).toString('hex')}`.toLowerCase();
  const admin = new pg.Client({ connectionString: base.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
    const url = withDatabase(base.url, name);
    return {
      url,
      config: { connectionString: url },
      source: base.source,
      name,
      isolation: 'database',
      close: () => dropAndStop(base, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
    };
  } catch {
    // No CREATEDB right (a managed DATABASE_URL): a schema of our own in that database instead.
    await admin.query(`CREATE SCHEMA ${name}`);
    const u = new URL(base.url);
    u.searchParams.set('options', `-c search_path=${name}`);
    return {
      url: u.toString(),
      config: { connectionString: base.url, options: `-c search_path=${name}` },
      source: base.source,
      name,
      isolation: 'schema',
      close: () => dropAndStop(base, `DROP SCHEMA IF EXISTS ${name} CASCADE`),
    };
  } finally {
    await admin.end();
  }
}

/** Runs SQL on a one-off connection (setup, and watching the server from outside the pool under test). */
export async function sql<R extends pg.QueryResultRow = Record<string, unknown>>(
  db: Pick<TestDatabase, 'config'>,
  text: string,
  values?: unknown[],
): Promise<R[]> {
  const client = new pg.Client(db.config);
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}
