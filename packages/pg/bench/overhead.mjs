// `pnpm bench` for @keel/pg, part 2: the CPU Keel's own code adds to a query,
// without a database. The throughput benchmark (run.mjs) shares two cores with
// PostgreSQL and its per-round ratios spread ±30 %, far wider than what Keel
// adds; here Keel's pool wraps an in-process fake pg pool whose queries answer
// on the next microtask, so the CPU per query is pg-pool's shape plus Keel.
//
// Variants, alternating in rounds (median of 9 after a warm-up): the fake
// alone (connect, query, release), Keel's pool with its defaults, without its
// circuit breaker, and without the breaker and the client-side query timeout.
// Then the same queries as an app's requests issue them: inside request
// contexts (four queries per request, recorded with its context), with the
// optimiser idle, capturing (each query tallied into its request's profile:
// the cost issue 20 bounds at ~1 µs per query), and off (`optimise: false`).
// `BEFORE=/path/to/an/older/packages/pg/dist/index.js` adds an older build
// (with its own core beside it) to compare a change against, in both shapes.
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

function keelPool(keelCore, keelPg, options = {}, keelOptions = {}) {
  const keel = keelCore.createKeel({ service: 'bench', runtime: false, ...keelOptions });
  return keelPg.createPool(keel, { pg: new FakePool(), healthCheck: false, onEvent: () => {}, ...options });
}

const QUERIES_PER_REQUEST = 4;

/**
 * Queries as requests issue them: each request a context of its own, four
 * queries in it, then recorded with its context (what the adapters do).
 * `capturing` starts an optimiser capture that outlasts the benchmark.
 */
function inRequests(pool, { capturing = false } = {}) {
  const keel = pool.keel;
  keel.context.use();
  if (capturing) keel.optimise({ windowMs: 600_000 }).catch(() => {});
  const request = async () => {
    for (let q = 0; q < QUERIES_PER_REQUEST; q++) await pool.query('SELECT 1');
  };
  return {
    keel,
    async run(count) {
      const ctx = keel.context.create(undefined);
      await keel.context.runIn(ctx, request);
      keel.recordRequest('GET', '/bench', 200, 1, '', ctx);
      return count;
    },
  };
}

async function cpuPerQuery(pool) {
  let next = 0;
  const worker =
    pool.run === undefined
      ? async () => {
          while (next++ < QUERIES) await pool.query('SELECT 1');
        }
      : async () => {
          for (;;) {
            next += QUERIES_PER_REQUEST;
            if (next > QUERIES) return;
            await pool.run(QUERIES_PER_REQUEST);
          }
        };
  globalThis.gc?.();
  const started = process.cpuUsage();
  await Promise.all(Array.from({ length: IN_FLIGHT }, worker));
  const used = process.cpuUsage(started);
  return ((used.user + used.system) / QUERIES) * 1000;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** `node bench/overhead.mjs requests`: the request-shaped variants, in a process of their own (see below). */
const REQUESTS = process.argv[2] === 'requests';

async function main() {
  const older = process.env.BEFORE
    ? {
        pg: await import(process.env.BEFORE),
        core: await import(join(dirname(process.env.BEFORE), '../../core/dist/index.js')),
      }
    : undefined;
  // The first AsyncLocalStorage.run turns on promise hooks for the whole process (decision 0006):
  // the request-shaped variants run in a process of their own so the others are measured without them.
  const variants = REQUESTS
    ? [
        ['in requests: Keel pool, defaults (optimiser idle)', inRequests(keelPool(core, pgKeel))],
        [
          'in requests: Keel pool, optimiser capturing',
          inRequests(keelPool(core, pgKeel, {}, { optimise: { profileMs: 0 } }), { capturing: true }),
        ],
        [
          'in requests: Keel pool, optimise: false',
          inRequests(keelPool(core, pgKeel, {}, { optimise: false })),
        ],
        ...(older
          ? [['in requests: older build (BEFORE), defaults', inRequests(keelPool(older.core, older.pg))]]
          : []),
      ]
    : [
        ['fake pg pool alone', bare()],
        ['Keel pool, defaults', keelPool(core, pgKeel)],
        ['Keel pool, breaker: false', keelPool(core, pgKeel, { breaker: false })],
        [
          'Keel pool, breaker: false, queryTimeoutMs: false',
          keelPool(core, pgKeel, { breaker: false, queryTimeoutMs: false }),
        ],
        ...(older ? [['older build (BEFORE), defaults', keelPool(older.core, older.pg)]] : []),
      ];
  const ns = variants.map(() => []);
  for (let round = -1; round < ROUNDS; round++) {
    for (let k = 0; k < variants.length; k++) {
      const i = (Math.max(round, 0) + k) % variants.length;
      const value = await cpuPerQuery(variants[i][1]);
      if (round >= 0) ns[i].push(value);
    }
  }
  console.log(
    REQUESTS
      ? `\n@keel/pg overhead, in requests: CPU per query, ${QUERIES_PER_REQUEST} queries per request context, ${IN_FLIGHT} requests in flight, ${QUERIES} queries per variant per round, median of ${ROUNDS} rounds\n`
      : `\n@keel/pg overhead: CPU per query on an in-process fake pg pool, ${IN_FLIGHT} in flight, ${QUERIES} queries per variant per round, median of ${ROUNDS} rounds\n`,
  );
  console.log(`| variant | CPU ns/query | ${REQUESTS ? 'vs the first row' : 'Keel adds'}, ns |`);
  console.log('| --- | ---: | ---: |');
  const base = median(ns[0]);
  for (let i = 0; i < variants.length; i++) {
    const m = median(ns[i]);
    console.log(`| ${variants[i][0]} | ${Math.round(m)} | ${i === 0 ? '—' : Math.round(m - base)} |`);
  }
  if (REQUESTS) {
    const added = median(ns[1]) - median(ns[0]);
    console.log(
      `\nThe optimiser capturing adds ${Math.round(added)} ns per query (goal: about 1 µs or less): ${added <= 1000 ? 'MET' : 'NOT MET'}.`,
    );
  }
  for (const [, variant] of variants) await variant.keel?.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
