// `pnpm bench` for @keel/pg: throughput of Keel's pool against a raw
// pg.Pool on the same server, in the same process, alternating.
//
// Two workloads — `SELECT 1` and a primary-key lookup in a 10,000-row table —
// each at 1, 4 and 16 queries in flight on pools of 4 connections: 16 is four
// times the pool size, so queries wait in the pool's queue (issue 14: a burst
// beyond the pool size). Each round runs every variant once,
// rotating who goes first, so machine drift (a shared 2-core VM, the server on
// the same cores) spreads over all of them; the table shows medians.
// Goal (issue 4): Keel's throughput within 3 % of raw pg (ratio >= 0.97).
//
// Needs a built dist/ (the root `pnpm bench` builds first). Exits 0 whatever
// the numbers; 1 only if the benchmark itself crashed.

import { cpus } from 'node:os';
import { createKeel } from '@keel/core';
import { createPool } from '@keel/pg';
import pg from 'pg';
import { benchDatabase } from './database.mjs';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const POOL_SIZE = 4;
const CONCURRENCY = [1, POOL_SIZE, POOL_SIZE * 4];
const QUERIES = Number(process.env.BENCH_QUERIES ?? 3000);
const GOAL = 0.97;
const gc = globalThis.gc ?? (() => {});

const WORKLOADS = [
  { name: 'SELECT 1', text: 'SELECT 1', values: () => undefined },
  {
    name: 'indexed lookup',
    text: 'SELECT id, name FROM bench_items WHERE id = $1',
    values: (i) => [1 + ((i * 7919) % 10000)],
  },
];

/** Runs `count` queries with `concurrency` in flight; returns queries per second and client CPU µs per query. */
async function throughput(pool, workload, count, concurrency) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await pool.query(workload.text, workload.values(i));
    }
  };
  gc();
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { qps: count / seconds, cpuUs: (used.user + used.system) / count };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

async function main() {
  const cpu = cpus();
  console.log(
    `@keel/pg benchmark: Node ${process.version}, ${process.platform}/${process.arch}, ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}`,
  );
  const db = await benchDatabase();
  const setup = new pg.Client({ connectionString: db.url });
  await setup.connect();
  const [{ server_version: version }] = (await setup.query('SHOW server_version')).rows;
  await setup.query('CREATE TABLE bench_items (id int PRIMARY KEY, name text NOT NULL)');
  await setup.query("INSERT INTO bench_items SELECT i, 'item ' || i FROM generate_series(1, 10000) AS i");
  await setup.query('ANALYZE bench_items');
  await setup.end();
  console.log(
    `PostgreSQL ${version} (${db.source}); ${QUERIES} queries per variant per round, ${ROUNDS} rounds + 1 warm-up.`,
  );

  const keel = createKeel({ service: 'bench', runtime: false });
  const raw = new pg.Pool({ connectionString: db.url, max: POOL_SIZE });
  // Keel as an app would run it: defaults, except the periodic SELECT 1 check (it would add queries to one side).
  const keelPool = createPool(keel, { pg: { connectionString: db.url, max: POOL_SIZE }, healthCheck: false });
  const variants = [
    { name: 'raw pg.Pool', pool: raw },
    { name: 'Keel pool', pool: keelPool },
  ];
  // Open every connection before measuring, so no variant pays for connecting.
  for (const { pool } of variants)
    await Promise.all(Array.from({ length: POOL_SIZE }, () => pool.query('SELECT 1')));

  const rows = [];
  for (const workload of WORKLOADS) {
    for (const concurrency of CONCURRENCY) {
      const perRound = variants.map(() => []);
      const cpuRound = variants.map(() => []);
      for (let round = -1; round < ROUNDS; round++) {
        const first = Math.max(round, 0) % variants.length;
        for (let k = 0; k < variants.length; k++) {
          const index = (first + k) % variants.length;
          const { qps, cpuUs } = await throughput(variants[index].pool, workload, QUERIES, concurrency);
          if (round >= 0) {
            perRound[index].push(qps);
            cpuRound[index].push(cpuUs);
          }
        }
      }
      // Ratio per round (Keel / raw of the same round), then the median: drift cancels within a round.
      const ratios = perRound[1].map((k, i) => k / perRound[0][i]);
      rows.push({
        workload: `${workload.name}, ${concurrency} in flight${concurrency > POOL_SIZE ? ` (${concurrency / POOL_SIZE}x pool)` : ''}`,
        raw: median(perRound[0]),
        keel: median(perRound[1]),
        ratio: median(ratios),
        minRatio: Math.min(...ratios),
        maxRatio: Math.max(...ratios),
        rawCpu: median(cpuRound[0]),
        keelCpu: median(cpuRound[1]),
      });
    }
  }

  const fmt = (n) => Math.round(n).toLocaleString('en-US');
  console.log(
    '\n| workload | raw pg.Pool q/s | Keel pool q/s | Keel / raw (median of rounds) | range | goal >= 0.97 | client CPU µs/query raw → Keel |',
  );
  console.log('| --- | ---: | ---: | ---: | ---: | --- | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.workload} | ${fmt(r.raw)} | ${fmt(r.keel)} | ${r.ratio.toFixed(3)} | ${r.minRatio.toFixed(3)}–${r.maxRatio.toFixed(3)} | ${r.ratio >= GOAL ? 'MET' : 'NOT MET'} | ${r.rawCpu.toFixed(1)} → ${r.keelCpu.toFixed(1)} (+${(r.keelCpu - r.rawCpu).toFixed(1)}) |`,
    );
  }
  const recorded = keel.db.seriesCount;
  console.log(
    `\nKeel recorded ${recorded} fingerprint series; slow queries: ${keelPool.counters.slowQueries}.`,
  );

  await keelPool.end();
  await raw.end();
  await keel.close();
  await db.close();
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
