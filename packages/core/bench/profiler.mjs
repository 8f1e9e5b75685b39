// `pnpm bench` for @keel/core, part 2: what the optimiser's CPU profile costs
// the app (issue 20), in a process of its own (a profiler running would
// distort the other benchmarks).
//
// 1. While it samples: a CPU-bound workload (JSON round trips of a 2 kB
//    object) timed with the profiler off and on at `optimise.profileSamplingUs`
//    (1000 µs), alternating rounds of 200 ms of work, median of 15 rounds.
// 2. Starting and stopping it: `keel.optimise()` takes a real profile and
//    reports what it blocked the event loop for (`cpu.startCostMs`,
//    `cpu.costMs`), here with only @keel/core loaded, and again after
//    compiling 20,000 more functions (a larger app's code).
//
// Needs a built dist/ (the root `pnpm bench` builds first). A report: exits 0
// whatever the numbers.

import { Session } from 'node:inspector';
import { createKeel } from '@keel/core';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const payload = {
  items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item ${i}`, tags: ['a', 'b'], n: i * 1.5 })),
};

/** Round trips done in `ms` of CPU. */
function work(ms) {
  const start = process.cpuUsage();
  let n = 0;
  for (;;) {
    for (let i = 0; i < 50; i++) JSON.parse(JSON.stringify(payload));
    n += 50;
    const used = process.cpuUsage(start);
    if ((used.user + used.system) / 1000 >= ms) return n;
  }
}

const post = (session, method, params = {}) =>
  new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function sampling() {
  const session = new Session();
  session.connect();
  await post(session, 'Profiler.enable');
  await post(session, 'Profiler.setSamplingInterval', { interval: 1000 });
  const off = [];
  const on = [];
  work(200);
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const variant of order) {
      if (variant === 'on') await post(session, 'Profiler.start');
      const n = work(200);
      if (variant === 'on') await post(session, 'Profiler.stop');
      (variant === 'on' ? on : off).push(n);
    }
  }
  session.disconnect();
  const ratios = on.map((n, i) => n / off[i]);
  return { off: median(off), on: median(on), ratio: median(ratios) };
}

async function startStop(label) {
  const keel = createKeel({ runtime: false, optimise: { profileMs: 300, captureMs: 300 } });
  const alive = setInterval(() => {}, 1000);
  const report = await keel.optimise({ windowMs: 300 });
  clearInterval(alive);
  await keel.close();
  return { label, start: report.cpu.startCostMs, total: report.cpu.costMs };
}

/** Compiles and runs `n` distinct functions, as a larger app's code would be. */
function moreCode(n) {
  const fns = [];
  for (let i = 0; i < n; i++) fns.push(new Function('x', `return x * ${i} + ${i % 7};`));
  let s = 0;
  for (let k = 0; k < 3; k++) for (const f of fns) s += f(k);
  return s;
}

async function main() {
  const s = await sampling();
  console.log(
    `\n@keel/core CPU profiler: JSON round trips per 200 ms of CPU, profiler off / on (1000 µs sampling), median of ${ROUNDS} rounds\n`,
  );
  console.log('| profiler | round trips | on ÷ off (median of rounds) |');
  console.log('| --- | ---: | ---: |');
  console.log(`| off | ${s.off} | — |`);
  console.log(
    `| on | ${s.on} | ${s.ratio.toFixed(3)} (sampling costs ${((1 - s.ratio) * 100).toFixed(1)} % of CPU) |`,
  );
  const small = await startStop('@keel/core only');
  moreCode(20_000);
  const large = await startStop('after 20,000 more functions');
  console.log('\nEvent loop blocked by one profile (keel.optimise with profileMs 300), ms\n');
  console.log('| code loaded | to start (startCostMs) | in all (costMs) |');
  console.log('| --- | ---: | ---: |');
  for (const r of [small, large])
    console.log(`| ${r.label} | ${r.start.toFixed(1)} | ${r.total.toFixed(1)} |`);
}

main().catch((error) => {
  console.error(error);
  process.exitCode = 1;
});
