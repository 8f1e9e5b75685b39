// Where a server variant spends its CPU under the benchmark's load.
//
//   node profile.mjs express-keel [express-bare]    # profile, then compare
//   DURATION=8 node profile.mjs fastify-keel fastify-bare
//
// Each variant runs under `node --cpu-prof` while autocannon sends the same load
// as run.mjs (one warm-up, one measured run); the profile is written when the
// server exits on SIGTERM. Prints, per variant, the CPU µs per request by
// where the time went (Keel, the framework, Node internals, GC, ...), then the
// functions with the most self time. With a second variant the categories are
// compared side by side. Profiling slows everything down, so read the split,
// not the absolute figures. Profiles land in $TMPDIR/keel-http-profiles/.

import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';

const here = dirname(fileURLToPath(import.meta.url));
const DURATION = Number(process.env.DURATION ?? 8);
const WARMUP = Number(process.env.WARMUP ?? 2);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 50);
const TOP = Number(process.env.TOP ?? 25);
const PORT = Number(process.env.PORT ?? 3918);
const names = process.argv.slice(2);
if (names.length === 0) {
  console.error('usage: node profile.mjs <variant> [<variant to compare>]   (variants: servers/*.mjs)');
  process.exit(2);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function profile(name) {
  const dir = join(tmpdir(), 'keel-http-profiles', name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const args = ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', './servers/exit-on-sigterm.mjs'];
  if (name === 'express-otel') args.push('--import', './servers/otel-register.mjs');
  const child = spawn(process.execPath, [...args, `servers/${name}.mjs`], {
    cwd: here,
    env: { ...process.env, PORT: String(PORT), NODE_ENV: 'production' },
    stdio: 'inherit',
  });
  const exited = new Promise((r) => child.once('exit', r));
  const url = `http://127.0.0.1:${PORT}/users/42`;
  for (let i = 0; ; i++) {
    try {
      await (await fetch(url)).text();
      break;
    } catch {
      if (i > 300) throw new Error(`${name} did not start`);
      await sleep(50);
    }
  }
  await autocannon({ url, connections: CONNECTIONS, duration: WARMUP });
  const result = await autocannon({ url, connections: CONNECTIONS, duration: DURATION });
  child.kill('SIGTERM');
  await exited;
  const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
  if (!file) throw new Error(`${name}: no .cpuprofile in ${dir}`);
  // Warm-up requests are in the profile too; startup is not (it is idle-heavy and short).
  const requests = result.requests.total + (WARMUP / DURATION) * result.requests.total;
  return { name, path: join(dir, file), requests, rps: result.requests.total / result.duration };
}

/** Which part of the stack a frame belongs to. */
function category(frame) {
  const { url, functionName } = frame;
  if (functionName === '(garbage collector)') return 'GC';
  if (functionName === '(idle)') return 'idle';
  if (functionName === '(program)') return 'native / unattributed (program)';
  if (/packages\/core\/dist/.test(url)) return 'Keel: @keel/core';
  if (/packages\/(express|fastify)\/dist/.test(url)) return 'Keel: adapter';
  if (/async_hooks|async_local_storage/.test(url)) return 'node: async_hooks / AsyncLocalStorage';
  if (/node_modules\/.pnpm\/(express|router|body-parser|finalhandler|send|serve-static)@/.test(url))
    return 'framework: express + router';
  if (/node_modules\/.pnpm\/(fastify|@fastify|find-my-way|light-my-request|avvio)[@+]/.test(url))
    return 'framework: fastify';
  if (/node_modules\/.pnpm\/(prom-client|express-prom-bundle|fastify-metrics|tdigest|bintrees)@/.test(url))
    return 'metrics library';
  if (/@opentelemetry|import-in-the-middle|require-in-the-middle/.test(url)) return 'OpenTelemetry';
  if (/node_modules/.test(url)) return 'other dependencies';
  if (url.startsWith('node:') || url === '') return 'node: http, net, streams, timers';
  return 'server script';
}

function analyse(run) {
  const prof = JSON.parse(readFileSync(run.path, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  // timeDeltas[i] is the time before samples[i]: attribute it to that sample's node.
  for (let i = 0; i < prof.samples.length; i++) {
    const id = prof.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (prof.timeDeltas[i] ?? 0));
  }
  const fns = new Map();
  const cats = new Map();
  for (const [id, us] of selfUs) {
    const frame = byId.get(id).callFrame;
    const file = frame.url.replace(/^.*node_modules\/\.pnpm\//, '').replace(/^.*\/work\/main\//, '');
    const key = `${frame.functionName || '(anonymous)'}  ${file}:${frame.lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + us);
    const c = category(frame);
    cats.set(c, (cats.get(c) ?? 0) + us);
  }
  return { ...run, fns, cats };
}

const per = (us, run) => us / run.requests;

const results = [];
for (const name of names) {
  const run = await profile(name);
  results.push(analyse(run));
}

for (const r of results) {
  console.log(`\n${r.name}: ${Math.round(r.rps)} req/s while profiled, ${Math.round(r.requests)} requests`);
  console.log('  top self time, CPU µs per request:');
  const top = [...r.fns].filter(([k]) => !k.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
  for (const [k, us] of top.slice(0, TOP)) console.log(`  ${per(us, r).toFixed(2).padStart(7)}  ${k}`);
}

console.log('\nCPU µs per request by category (idle excluded):');
const allCats = [...new Set(results.flatMap((r) => [...r.cats.keys()]))].filter((c) => c !== 'idle');
allCats.sort((a, b) => (results[0].cats.get(b) ?? 0) - (results[0].cats.get(a) ?? 0));
console.log(`  ${'category'.padEnd(40)}${results.map((r) => r.name.padStart(16)).join('')}`);
for (const c of [...allCats, 'total']) {
  const cells = results.map((r) => {
    const us =
      c === 'total' ? [...r.cats].reduce((a, [k, v]) => a + (k === 'idle' ? 0 : v), 0) : r.cats.get(c);
    return (us === undefined ? '—' : per(us, r).toFixed(2)).padStart(16);
  });
  console.log(`  ${c.padEnd(40)}${cells.join('')}`);
}
