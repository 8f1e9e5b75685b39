// `pnpm bench` for @keel/pg, part 2: the CPU Keel's own code adds to a query,
// without a database. The throughput benchmark (run.mjs) shares two cores with
// PostgreSQL and its per-round ratios spread ±30 %, far wider than what Keel
// adds; here Keel's pool wraps an in-process fake pg pool whose queries answer
// on the next microtask, so the CPU per query is pg-pool's shape plus Keel.
//
// Variants, alternating in rounds (median of 9 after a warm-up): the fake
// alone (connect, query, release), Keel's pool with its defaults, without its
// circuit breaker, and without the breaker and the client-side query timeout.
// `BEFORE=/path/to/an/older/packages/pg/dist/index.js` adds an older build
// (with its own core beside it) to compare a change against.
//
// Needs a built dist/ (the root `pnpm bench` builds first). A report: exits 0
// whatever the numbers.

import { EventEmitter } from 'node:events';
import { dirname, join } from 'node:path';
import * as core from '@keel/core';
import * as pgKeel from '@keel/pg';

const QUERIES = Number(process.env.BENCH_QUERIES ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const IN_FLIGHT = 4;
const result = { rows: [{ n: 1 }], rowCount: 1 };

/** A pg client whose queries answer on the next microtask. */
class FakeClient extends EventEmitter {
  _queryable = true;
  _ending = false;
  query(_text, _values, callback) {
    if (typeof callback === 'function') {
      queueMicrotask(() => callback(null, result));
      return undefined;
    }
    return Promise.resolve(result);
  }
  getTransactionStatus() {
    return 'I';
  }
}

/** pg-pool's shape, as Keel uses it: connect(callback), release, counts, events. */
class FakePool extends EventEmitter {
  options = { max: IN_FLIGHT };
  totalCount = 0;
  idleCount = 0;
  waitingCount = 0;
  ending = false;
  #idle = [];
  connect(callback) {
    let client = this.#idle.pop();
    if (!client) {
      client = new FakeClient();
      this.totalCount++;
      this.emit('connect', client);
    }
    client.release = () => this.#idle.push(client);
    queueMicrotask(() => callback(undefined, client, client.release));
  }
  end() {
    this.ending = true;
    return Promise.resolve();
  }
}

/** The fake alone, used the way pg-pool's own `query` uses a client. */
function bare() {
  const pool = new FakePool();
  return {
    query: (text) =>
      new Promise((resolve, reject) =>
        pool.connect((_e, client, release) =>
          client.query(text, undefined, (error, res) => {
            release();
            if (error) reject(error);
            else resolve(res);
          }),
        ),
      ),
  };
}

function keelPool(keelCore, keelPg, options = {}) {
  const keel = keelCore.createKeel({ service: 'bench', runtime: false });
  return keelPg.createPool(keel, { pg: new FakePool(), healthCheck: false, onEvent: () => {}, ...options });
}

async function cpuPerQuery(pool) {
  let next = 0;
  const worker = async () => {
    while (next++ < QUERIES) await pool.query('SELECT 1');
  };
  globalThis.gc?.();
  const started = process.cpuUsage();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const used = process.cpuUsage(started);
  return ((used.user + used.system) / QUERIES) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  const variants = [
    ['fake pg pool alone', bare()],
    ['Keel pool, defaults', keelPool(core, pgKeel)],
    ['Keel pool, breaker: false', keelPool(core, pgKeel, { breaker: false })],
    [
      'Keel pool, breaker: false, queryTimeoutMs: false',
      keelPool(core, pgKeel, { breaker: false, queryTimeoutMs: false }),
    ],
  ];
  if (process.env.BEFORE) {
    const olderPg = await import(process.env.BEFORE);
    const olderCore = await import(join(dirname(process.env.BEFORE), '../../core/dist/index.js'));
    variants.push(['older build (BEFORE), defaults', keelPool(olderCore, olderPg)]);
  }
  const ns = variants.map(() => []);
  for (let round = -1; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (Math.max(round, 0) + k) % variants.length;
      const value = await cpuPerQuery(variants[i][1]);
      if (round >= 0) ns[i].push(value);
    }
  }
  console.log(
    `\n@keel/pg overhead: CPU per query on an in-process fake pg pool, ${IN_FLIGHT} in flight, ${QUERIES} queries per variant per round, median of ${ROUNDS} rounds\n`,
  );
  console.log('| variant | CPU ns/query | Keel adds, ns |');
  console.log('| --- | ---: | ---: |');
  const base = median(ns[0]);
  for (let i = 0; i < variants.length; i++) {
    const m = median(ns[i]);
    console.log(`| ${variants[i][0]} | ${Math.round(m)} | ${i === 0 ? '—' : Math.round(m - base)} |`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
