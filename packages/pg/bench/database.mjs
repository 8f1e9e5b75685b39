// Where the benchmark's PostgreSQL comes from, in MISSION.md's order:
// DATABASE_URL, else the machine's server on 127.0.0.1:5432, else an embedded
// one from npm. The benchmark works in a database of its own, dropped at the end.

import { findPostgres } from '@keel/dev-postgres';
import pg from 'pg';

export async function benchDatabase() {
  const base = await findPostgres({ prefix: 'keel-pg-bench-' });
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
