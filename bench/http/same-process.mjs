// Keel's own cost per request, without the process lottery (issue 3).
//
//   node same-process.mjs                          # both frameworks, ~5 min
//   FRAMEWORKS=fastify PROCESSES=4 node same-process.mjs
//
// run.mjs starts a fresh server process per variant and round, and one
// process differs from the next by up to ±15 % (JIT and heap luck), more than
// Keel's cost; its medians need many rounds to settle. Here one process per
// framework serves the same route twice, bare and with Keel (default options),
// on two ports (servers/same-process.mjs). Load alternates between them in
// windows of DURATION s, the server pinned to core 0 and autocannon to core
// 1, and the process's CPU time per request is read for each window. Both
// apps share the JIT, the heap and whatever else one process has, so the
// difference is Keel's work per request. What Keel does to the process as a
// whole (its startup, its background timer) is charged to both apps alike:
// run.mjs is the measure of that.

import { spawn } from 'node:child_process';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { cpuSeconds, intEnv, median, pinLoadGenerator, serverCommand } from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const FRAMEWORKS = (process.env.FRAMEWORKS ?? 'express,fastify').split(',');
const PROCESSES = intEnv('PROCESSES', 3);
const ROUNDS = intEnv('ROUNDS', 6);
const DURATION = intEnv('DURATION', 3);
const CONNECTIONS = intEnv('CONNECTIONS', 50);
const PORT = intEnv('PORT', 3951);
function load(url, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections: CONNECTIONS, duration }, (error, result) => {
      if (error) reject(error);
      else if (result.errors > 0 || result.non2xx > 0) reject(new Error(`${url}: errors or non-2xx answers`));
      else resolve(result.requests.total);
    });
  });
}

async function waitUntilUp(url) {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not answer`);
}

pinLoadGenerator();
const rows = [];
for (const framework of FRAMEWORKS) {
  const bare = [];
  const keel = [];
  for (let p = 0; p < PROCESSES; p++) {
    const server = spawn(...serverCommand(['servers/same-process.mjs']), {
      cwd: here,
      env: { ...process.env, FRAMEWORK: framework, PORT: String(PORT) },
      stdio: 'inherit',
    });
    try {
      const urls = [`http://127.0.0.1:${PORT}/users/42`, `http://127.0.0.1:${PORT + 1}/users/42`];
      for (const url of urls) await waitUntilUp(url);
      for (const url of urls) await load(url, 2);
      for (let round = 0; round < ROUNDS; round++) {
        const perRequest = [0, 0];
        // Alternate which app goes first, so a drift over time is shared out.
        for (const i of round % 2 ? [1, 0] : [0, 1]) {
          const before = cpuSeconds(server.pid);
          const requests = await load(urls[i], DURATION);
          perRequest[i] = ((cpuSeconds(server.pid) - before) * 1e6) / requests;
        }
        bare.push(perRequest[0]);
        keel.push(perRequest[1]);
        console.log(
          `${framework} process ${p + 1}/${PROCESSES} round ${round + 1}/${ROUNDS}: bare ${perRequest[0].toFixed(1)} µs, Keel ${perRequest[1].toFixed(1)} µs`,
        );
      }
    } finally {
      // A server that already exited (a crash, a port in use) would never emit 'exit' again.
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill();
        await exited;
      }
    }
  }
  const added = median(keel.map((k, i) => k - bare[i]));
  const ratio = median(keel.map((k, i) => bare[i] / k));
  rows.push({ framework, bare: median(bare), keel: median(keel), added, ratio });
}

console.log(
  `\n${PROCESSES} processes × ${ROUNDS} rounds of ${DURATION} s per framework; medians of the paired rounds.`,
);
console.log(
  '"CPU ratio" is bare CPU per request over Keel\'s: the throughput ratio when the server is CPU-bound.\n',
);
console.log('| framework | bare CPU µs/req | with Keel | µs added | CPU ratio |');
console.log('|-----------|-----------------|-----------|----------|-----------|');
for (const r of rows) {
  console.log(
    `| ${r.framework} | ${r.bare.toFixed(1)} | ${r.keel.toFixed(1)} | +${r.added.toFixed(1)} | ${r.ratio.toFixed(3)} |`,
  );
}
