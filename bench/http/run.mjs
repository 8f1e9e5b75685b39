// HTTP adapter overhead (issue 3): hello-JSON `GET /users/:id`, each variant
// its own server process on 127.0.0.1, load from autocannon in this process.
//
//   pnpm --filter @keel/bench-http bench          # 8 rounds × 7 variants, ~8 min
//   ROUNDS=1 DURATION=3 node run.mjs               # quick check, ~1 min
//   OUT=results.json node run.mjs                  # also write every measurement
//   BEFORE=/tmp/keel-before node run.mjs           # also the build snapshot.mjs copied there
//
// Per round and variant: start the server, wait until it answers (and check
// the body), warm up WARMUP s, then one measured autocannon run of DURATION s,
// reading the server's CPU time from /proc/<pid>/stat before and after. The
// variant order rotates every round, so a slow patch of the machine is shared
// out instead of landing on one variant.
//
// CPU per request is the primary metric. The server runs on core 0 and
// autocannon on core 1 (PIN), so the server has a whole core and requests/s
// follows its CPU per request, until autocannon itself saturates its core
// (it nears that against bare Fastify). One server process differs from the
// next by up to ±15 % (JIT and heap luck), more than the effects measured, so
// each variant gets a fresh process every round and the figures are medians.
//
// A report, not a test: goals print as met / NOT met and the run exits 0 either
// way; it exits 1 only when a server fails to start, answers wrongly or errors.

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { CLK_TCK, cpuSeconds, intEnv, median, PIN, pinLoadGenerator, serverCommand } from './measure.mjs';

const here = dirname(fileURLToPath(import.meta.url));

const ROUNDS = intEnv('ROUNDS', 8);
const DURATION = intEnv('DURATION', 5);
const WARMUP = intEnv('WARMUP', 2);
const CONNECTIONS = intEnv('CONNECTIONS', 50);
const PORT = intEnv('PORT', 3917);
/** Other programs' CPU (cores) above which a measured run counts as noisy and is repeated. */
const MAX_OTHER = Number(process.env.MAX_OTHER ?? 0.25);
const RETRIES = Number(process.env.RETRIES ?? 2);
/**
 * Node flags for every server, e.g. NODE_ARGS="--min-semi-space-size=16": V8
 * sizes the young generation by what it sees early on, and that size moves CPU
 * per request by more than Keel's own cost (see docs/benchmarks.md).
 */
const NODE_ARGS = (process.env.NODE_ARGS ?? '').split(' ').filter(Boolean);

/** `issue`: what the issue measured on this machine kind, for comparison. */
const VARIANTS = [
  { name: 'express-bare', framework: 'express', what: 'Express 5, the route only' },
  { name: 'express-keel', framework: 'express', what: '`instrument(app)`, default options (all features)' },
  {
    name: 'express-prom-bundle',
    framework: 'express',
    what: 'express-prom-bundle 8, method + route-template path + status labels',
    issue: { ratio: 0.815, addedUs: 23.6 },
  },
  {
    name: 'express-otel',
    framework: 'express',
    what: 'OpenTelemetry http + express instrumentation, BatchSpanProcessor, counting exporter',
    nodeArgs: ['--import', './servers/otel-register.mjs'],
    issue: { ratio: 0.532, addedUs: 93.5 },
  },
  { name: 'fastify-bare', framework: 'fastify', what: 'Fastify 5, the route only' },
  {
    name: 'fastify-keel',
    framework: 'fastify',
    what: '`app.register(keelFastify)`, default options (all features)',
  },
  {
    name: 'fastify-metrics',
    framework: 'fastify',
    what: 'fastify-metrics 13, defaults (route-template labels, histogram + summary)',
    issue: { ratio: 0.622, addedUs: 8.6 },
  },
];

// ABLATE=1 adds the Keel variants with one feature off at a time, to see what
// each costs. The Keel servers read their options from KEEL_OPTIONS (JSON).
const ABLATIONS = {
  express: [{ context: false }, { serverTiming: false }, { runtime: false }, { mountEndpoints: false }],
  fastify: [{ serverTiming: false }, { runtime: false }, { mountEndpoints: false }],
};
if (process.env.ABLATE) {
  for (const [framework, list] of Object.entries(ABLATIONS)) {
    const all = Object.assign({}, ...list);
    for (const options of [...list, all]) {
      const label = Object.keys(options).join(', ');
      VARIANTS.push({
        name: `${framework}-keel ${list.length > 1 && options === all ? 'all of: ' : ''}${label} off`,
        framework,
        server: `${framework}-keel`,
        env: { KEEL_OPTIONS: JSON.stringify(options) },
        what: `${framework}-keel with ${JSON.stringify(options)}`,
      });
    }
  }
}
// BEFORE=<dir>: each framework's Keel variant also runs on the build that
// `node snapshot.mjs <dir>` copied before a change, in the same rounds, so
// "before" and "after" share the machine's slow and fast patches alike.
if (process.env.BEFORE) {
  const dir = resolve(process.env.BEFORE);
  for (const framework of ['express', 'fastify']) {
    const at = VARIANTS.findIndex((v) => v.name === `${framework}-keel`);
    VARIANTS.splice(at + 1, 0, {
      name: `${framework}-keel-before`,
      framework,
      env: { KEEL_BEFORE: dir },
      what: `${framework}-keel on the build copied to ${dir}`,
    });
  }
}
// ONLY=express-bare,express-keel runs a subset (keep the bare baseline in it).
if (process.env.ONLY) {
  const only = new Set(process.env.ONLY.split(','));
  for (let i = VARIANTS.length - 1; i >= 0; i--) if (!only.has(VARIANTS[i].name)) VARIANTS.splice(i, 1);
}

const GOALS = {
  'express-keel': { minRatio: 0.95, maxAddedUs: 5 },
  'fastify-keel': { minRatio: 0.9, maxAddedUs: 2 },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Busy time of the whole machine (every process, all cores), in seconds, from /proc/stat. */
function machineBusySeconds() {
  const cpu = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal ...: everything but idle and iowait.
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3] - cpu[4];
  return busy / CLK_TCK;
}

async function startServer(variant) {
  const nodeArgs = [
    ...NODE_ARGS,
    ...(variant.nodeArgs ?? []),
    `servers/${variant.server ?? variant.name}.mjs`,
  ];
  const child = spawn(...serverCommand(nodeArgs), {
    cwd: here,
    env: { ...process.env, ...variant.env, PORT: String(PORT), NODE_ENV: 'production' },
    stdio: ['ignore', 'inherit', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const url = `http://127.0.0.1:${PORT}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (exited) throw new Error(`${variant.name} exited before answering:\n${stderr}`);
    try {
      const res = await fetch(`${url}/users/42`);
      const body = await res.json();
      if (res.status !== 200 || body.id !== '42' || body.name !== 'User 42') {
        throw new Error(`${variant.name} answered ${res.status} ${JSON.stringify(body)}`);
      }
      break;
    } catch (error) {
      if (error.message.startsWith(variant.name)) throw error;
      if (Date.now() > deadline) throw new Error(`${variant.name} did not answer within 15 s:\n${stderr}`);
      await sleep(50);
    }
  }
  return {
    child,
    url,
    stop: async () => {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([done, sleep(5000)]);
        if (!exited) child.kill('SIGKILL');
      }
      return stderr;
    },
  };
}

function load(url, duration) {
  return autocannon({ url: `${url}/users/42`, connections: CONNECTIONS, duration, pipelining: 1 });
}

/** One measured autocannon run against a warm server, with the CPU each side used. */
async function measureOnce(variant, server) {
  const machineBefore = machineBusySeconds();
  const cpuBefore = cpuSeconds(server.child.pid);
  const benchCpuBefore = process.cpuUsage();
  const result = await load(server.url, DURATION);
  const cpuAfter = cpuSeconds(server.child.pid);
  const benchCpu = process.cpuUsage(benchCpuBefore);
  const machine = machineBusySeconds() - machineBefore;
  const failed = result.errors + result.timeouts + result.non2xx;
  if (failed > 0) {
    throw new Error(
      `${variant.name}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`,
    );
  }
  const requests = result.requests.total;
  const serverCpu = cpuAfter - cpuBefore;
  const loadGenCpu = (benchCpu.user + benchCpu.system) / 1e6;
  return {
    rps: requests / result.duration,
    cpuUsPerReq: (serverCpu * 1e6) / requests,
    serverCpuCores: serverCpu / result.duration,
    loadGenCpuCores: loadGenCpu / result.duration,
    // Whatever else ran on the machine meanwhile. Loopback network work is
    // mostly charged to the two processes, so this is other programs' load.
    otherCpuCores: Math.max(0, machine - serverCpu - loadGenCpu) / result.duration,
    latencyP99Ms: result.latency.p99,
    requests,
  };
}

/**
 * Starts the server, warms it up, measures. On a 2-core machine another
 * program's burst takes a core from the server or autocannon, so a run during
 * which other programs used more than MAX_OTHER cores is repeated (on the same
 * warm server, up to RETRIES times) and the quietest attempt is kept.
 */
async function measure(variant) {
  const server = await startServer(variant);
  try {
    await load(server.url, WARMUP);
    let best;
    for (let attempt = 1; attempt <= RETRIES + 1; attempt++) {
      const m = { ...(await measureOnce(variant, server)), attempts: attempt };
      if (!best || m.otherCpuCores < best.otherCpuCores) best = { ...m };
      best.attempts = attempt;
      if (m.otherCpuCores <= MAX_OTHER) break;
    }
    return best;
  } finally {
    const stderr = await server.stop();
    if (process.env.VERBOSE && stderr) process.stderr.write(`[${variant.name}] ${stderr}`);
  }
}

const fmt = (x, d) => x.toFixed(d);

async function main() {
  pinLoadGenerator();
  const perRound = VARIANTS.length * (WARMUP + DURATION + 1);
  console.log(
    `HTTP adapters: ${VARIANTS.length} variants × ${ROUNDS} rounds, ${WARMUP} s warm-up + ${DURATION} s measured, ` +
      `${CONNECTIONS} connections, pipelining 1 (about ${Math.ceil((perRound * ROUNDS) / 60)} min)`,
  );
  console.log(
    `Node ${process.version}, server CPU from /proc/<pid>/stat at ${CLK_TCK} ticks/s, ` +
      (PIN ? 'server pinned to core 0 and autocannon to core 1' : 'not pinned') +
      (NODE_ARGS.length ? `, servers run with ${NODE_ARGS.join(' ')}\n` : '\n'),
  );

  const runs = new Map(VARIANTS.map((v) => [v.name, []]));
  const nameWidth = Math.max(...VARIANTS.map((v) => v.name.length));
  for (let round = 0; round < ROUNDS; round++) {
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length]);
    for (const variant of order) {
      const m = await measure(variant);
      runs.get(variant.name).push({ round: round + 1, ...m });
      console.log(
        `round ${round + 1}/${ROUNDS}  ${variant.name.padEnd(nameWidth)} ${fmt(m.rps, 0).padStart(6)} req/s  ` +
          `${fmt(m.cpuUsPerReq, 1).padStart(6)} µs CPU/req  server ${fmt(m.serverCpuCores, 2)} cores, ` +
          `autocannon ${fmt(m.loadGenCpuCores, 2)}, other ${fmt(m.otherCpuCores, 2)} cores  p99 ${m.latencyP99Ms} ms` +
          (m.attempts > 1 ? `  (quietest of ${m.attempts} runs)` : ''),
      );
    }
  }

  const summary = VARIANTS.map((v) => {
    const rs = runs.get(v.name);
    return {
      name: v.name,
      framework: v.framework,
      rps: median(rs.map((r) => r.rps)),
      rpsMin: Math.min(...rs.map((r) => r.rps)),
      rpsMax: Math.max(...rs.map((r) => r.rps)),
      cpuUsPerReq: median(rs.map((r) => r.cpuUsPerReq)),
      cpuMin: Math.min(...rs.map((r) => r.cpuUsPerReq)),
      cpuMax: Math.max(...rs.map((r) => r.cpuUsPerReq)),
    };
  });
  // Paired within each round: the machine drifts between rounds (the bare
  // framework's own CPU per request moves by ±10 %), less within one, so the
  // median of per-round ratios and differences is steadier than the ratio of medians.
  for (const s of summary) {
    const bareRuns = runs.get(`${s.framework}-bare`);
    if (!bareRuns) {
      s.ratio = s.addedUs = Number.NaN;
      continue;
    }
    const pairs = runs.get(s.name).map((r, i) => [r, bareRuns[i]]);
    s.ratio = median(pairs.map(([r, b]) => r.rps / b.rps));
    s.addedUs = median(pairs.map(([r, b]) => r.cpuUsPerReq - b.cpuUsPerReq));
  }

  console.log(
    '\nreq/s and CPU: medians of the rounds (min–max in brackets). "vs bare" and "µs added": medians of\n' +
      'the per-round ratio and difference against the same framework, bare, measured in the same round.\n',
  );
  const header = [
    'variant',
    'req/s',
    'vs bare',
    'CPU µs/req',
    'µs added',
    'issue measured',
    'goal',
    'result',
  ];
  const rows = summary.map((s) => {
    const v = VARIANTS.find((x) => x.name === s.name);
    const goal = GOALS[s.name];
    const met = goal && s.ratio >= goal.minRatio && s.addedUs <= goal.maxAddedUs;
    return [
      s.name,
      `${fmt(s.rps, 0)} (${fmt(s.rpsMin, 0)}–${fmt(s.rpsMax, 0)})`,
      s.name.endsWith('-bare') ? '1.000' : fmt(s.ratio, 3),
      `${fmt(s.cpuUsPerReq, 1)} (${fmt(s.cpuMin, 1)}–${fmt(s.cpuMax, 1)})`,
      s.name.endsWith('-bare') ? '—' : `${s.addedUs >= 0 ? '+' : ''}${fmt(s.addedUs, 1)}`,
      v.issue ? `${v.issue.ratio}, +${v.issue.addedUs} µs` : '—',
      goal ? `≥ ${goal.minRatio}, ≤ ${goal.maxAddedUs} µs` : '—',
      goal
        ? `${met ? 'met' : 'NOT met'} (ratio ${s.ratio >= goal.minRatio ? 'ok' : 'low'}, CPU ${s.addedUs <= goal.maxAddedUs ? 'ok' : 'high'})`
        : '—',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(
    '\nCPU µs/req (server process, all threads) is the primary metric; req/s also moves with how much of',
  );
  console.log('its core the load generator needs (close to all of it against bare Fastify).');

  if (process.env.OUT) {
    const out = {
      node: process.version,
      settings: { ROUNDS, DURATION, WARMUP, CONNECTIONS, CLK_TCK, MAX_OTHER, RETRIES },
      summary,
      runs: Object.fromEntries(runs),
    };
    writeFileSync(process.env.OUT, `${JSON.stringify(out, null, 2)}\n`);
    console.log(`\nWrote ${process.env.OUT}`);
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
